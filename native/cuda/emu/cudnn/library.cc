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

#include "cuda/cudnn_status_names.h"
#include "cuda/emu/cudnn/descriptors.h"
#include "cuda/emu/cudnn/emu.h"
#include "cuda/emu/cudnn/exports.h"

#pragma GCC visibility push(hidden)
namespace scse::cudnn_emu {
namespace {
// The API level mimicked: 9.24.0 in cuDNN 9's M*10000 + m*100 + p encoding.
constexpr size_t kVersion = 92400;
constexpr size_t kCudartVersion = 13000;  // CUDA 13.0

constexpr const auto& kStatusNames = kCudnn9Statuses;  // cuda/cudnn_status_names.h
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
