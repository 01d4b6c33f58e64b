// The cuDNN stand-in: a CPU implementation of the cuDNN 9 legacy API subset scse uses (cudnn.h),
// for the emulated CUDA build, where "device" memory is host memory and stream work runs
// synchronously. Every function computes on the pointers it is given, immediately, on the
// calling thread; float32 data only. The loader (cudnn_loader.cc) opens it through
// SCSE_CUDNN_PATH like the real libcudnn.so.9.
//
// This file: version, status strings, the last-error message and handles.
#include <cstring>
#include <new>
#include <string>

#include "cuda/emu/cudnn/descriptors.h"
#include "cuda/emu/cudnn/emu.h"
#include "cuda/emu/cudnn/exports.h"

#pragma GCC visibility push(hidden)
namespace scse::cudnn_emu {
namespace {
// The API level mimicked: 9.24.0 in cuDNN 9's M*10000 + m*100 + p encoding.
constexpr size_t kVersion = 92400;
constexpr size_t kCudartVersion = 13000;  // CUDA 13.0

struct NamedStatus {
  int code;
  const char* name;
};

// cuDNN 9's cudnnStatus_t names (cudnn_graph.h).
constexpr NamedStatus kStatusNames[] = {
    {0, "CUDNN_STATUS_SUCCESS"},
    {1001, "CUDNN_STATUS_NOT_INITIALIZED"},
    {1002, "CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH"},
    {1003, "CUDNN_STATUS_SERIALIZATION_VERSION_MISMATCH"},
    {1004, "CUDNN_STATUS_DEPRECATED"},
    {1005, "CUDNN_STATUS_LICENSE_ERROR"},
    {1006, "CUDNN_STATUS_RUNTIME_IN_PROGRESS"},
    {1007, "CUDNN_STATUS_RUNTIME_FP_OVERFLOW"},
    {1008, "CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED"},
    {2000, "CUDNN_STATUS_BAD_PARAM"},
    {2001, "CUDNN_STATUS_INVALID_VALUE"},
    {2002, "CUDNN_STATUS_BAD_PARAM_NULL_POINTER"},
    {2003, "CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER"},
    {2004, "CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED"},
    {2005, "CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND"},
    {2006, "CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT"},
    {2007, "CUDNN_STATUS_BAD_PARAM_STREAM_MISMATCH"},
    {2008, "CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH"},
    {2009, "CUDNN_STATUS_BAD_PARAM_DUPLICATED_ENTRIES"},
    {2010, "CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE"},
    {2011, "CUDNN_STATUS_BAD_PARAM_CUDA_GRAPH_MISMATCH"},
    {2012, "CUDNN_STATUS_BAD_PARAM_DESCRIPTOR_TYPE"},
    {3000, "CUDNN_STATUS_NOT_SUPPORTED"},
    {3001, "CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN"},
    {3002, "CUDNN_STATUS_NOT_SUPPORTED_SHAPE"},
    {3003, "CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE"},
    {3004, "CUDNN_STATUS_NOT_SUPPORTED_LAYOUT"},
    {3005, "CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDA_DRIVER"},
    {3006, "CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDART"},
    {3007, "CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH"},
    {3008, "CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING"},
    {3009, "CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE"},
    {3010, "CUDNN_STATUS_NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT"},
    {3011, "CUDNN_STATUS_NOT_SUPPORTED_PADDING"},
    {3012, "CUDNN_STATUS_NOT_SUPPORTED_BAD_LAUNCH_PARAM"},
    {3013, "CUDNN_STATUS_NOT_SUPPORTED_CUDA_GRAPH_NATIVE_API"},
    {3014, "CUDNN_STATUS_NOT_SUPPORTED_INVALID_DYNAMIC_SHAPE"},
    {4000, "CUDNN_STATUS_INTERNAL_ERROR"},
    {4001, "CUDNN_STATUS_INTERNAL_ERROR_COMPILATION_FAILED"},
    {4002, "CUDNN_STATUS_INTERNAL_ERROR_UNEXPECTED_VALUE"},
    {4003, "CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED"},
    {4004, "CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED"},
    {4005, "CUDNN_STATUS_INTERNAL_ERROR_BAD_LAUNCH_PARAM"},
    {4006, "CUDNN_STATUS_INTERNAL_ERROR_TEXTURE_CREATION_FAILED"},
    {5000, "CUDNN_STATUS_EXECUTION_FAILED"},
    {5001, "CUDNN_STATUS_EXECUTION_FAILED_CUDA_DRIVER"},
    {5002, "CUDNN_STATUS_EXECUTION_FAILED_CUBLAS"},
    {5003, "CUDNN_STATUS_EXECUTION_FAILED_CUDART"},
    {5004, "CUDNN_STATUS_EXECUTION_FAILED_CURAND"},
};
}  // namespace
}  // namespace scse::cudnn_emu
#pragma GCC visibility pop

using namespace scse::cudnn;
using namespace scse::cudnn_emu;

extern "C" {

size_t cudnnGetVersion() { return kVersion; }
size_t cudnnGetCudartVersion() { return kCudartVersion; }

const char* cudnnGetErrorString(cudnnStatus_t status) {
  for (const auto& e : kStatusNames)
    if (e.code == status) return e.name;
  return "CUDNN_UNKNOWN_STATUS";
}

void cudnnGetLastErrorString(char* message, size_t maxSize) {
  if (!message || maxSize == 0) return;
  const std::string s = takeLastError();
  const size_t n = s.size() < maxSize - 1 ? s.size() : maxSize - 1;  // truncated, always terminated
  std::memcpy(message, s.data(), n);
  message[n] = '\0';
}

cudnnStatus_t cudnnCreate(cudnnHandle_t* handle) {
  if (int s = checkPointer("cudnnCreate", "handle", handle)) return s;
  *handle = new (std::nothrow) cudnnContext();
  if (!*handle) return fail(kHostAllocFailed, "cudnnCreate", "out of host memory");
  return kSuccess;
}

cudnnStatus_t cudnnDestroy(cudnnHandle_t handle) {
  if (int s = checkHandle("cudnnDestroy", handle)) return s;
  handle->kind = EmuKind::kDead;
  delete handle;
  return kSuccess;
}

cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t stream) {
  if (int s = checkHandle("cudnnSetStream", handle)) return s;
  handle->stream = stream;  // any stream (or NULL, the default stream): work is synchronous
  return kSuccess;
}

}  // extern "C"
