// Shared by every file of the cuDNN stand-in (see library.cc): v9 status codes, the thread's
// last error message, readers for the alpha/beta host scalars and the output blend.
//
// The stand-in exports only cuDNN's names (exports.h, exports.map); everything in this namespace
// is internal. Each .cc wraps its internals in `#pragma GCC visibility push(hidden)` so that a
// build without the version script still exports nothing else of ours.
#pragma once
#include <cstdint>
#include <new>
#include <string>

#include "cuda/cudnn.h"

namespace scse::cudnn_emu {

using namespace scse::cudnn;

// cudnnStatus_t values of cuDNN 9 (the loader's cudnnStatusName uses the same numbering).
constexpr int kSuccess = 0;
constexpr int kBadParam = 2000;
constexpr int kNotSupported = 3000;
constexpr int kInternalError = 4000;
constexpr int kHostAllocFailed = 4003;
constexpr int kExecutionFailed = 5000;

// Records "fn: what" as the calling thread's last error (cudnnGetLastErrorString) and returns
// `status`, so that validators read `return fail(kBadParam, fn, "...")`.
int fail(int status, const char* fn, const std::string& what);
// The last message of this thread, cleared by the read (a later success must not report it).
std::string takeLastError();

// "[2, 8, 16, 16]"
std::string dimsText(int nb, const int64_t* dims);
std::string dimsText(int nb, const int* dims);
// "CUDNN_DATA_FLOAT (0)", "an invalid cudnnDataType_t (99)"
std::string dataTypeText(int dataType);
// The data types cuDNN 9's legacy descriptors accept (measured against libcudnn 9.24: tensors
// FLOAT..BFLOAT16 (0-9), filters the same without INT32, convolution compute types FLOAT,
// DOUBLE, HALF, INT32 and FAST_FLOAT_FOR_FP8; everything else is BAD_PARAM).
bool validTensorDataType(int dataType);
bool validFilterDataType(int dataType);
bool validComputeType(int dataType);

// alpha and beta are host pointers to float for float tensors (cuDNN's scaling parameters).
inline double scalar(const void* p) { return double(*static_cast<const float*>(p)); }

// out = alpha*value + beta*out; beta == 0 overwrites, so NaN or garbage in `out` is ignored
// (cuDNN documents this for every blended output).
inline float blend(double value, double alpha, double beta, float old) {
  return beta == 0.0 ? float(alpha * value) : float(alpha * value + beta * double(old));
}

// Runs an op's computation, turning a failed allocation of its scratch buffers into cuDNN's
// host-allocation status instead of an exception escaping through the C ABI.
template <class F>
int guarded(const char* fn, F&& compute) {
  try {
    compute();
    return kSuccess;
  } catch (const std::bad_alloc&) {
    return fail(kHostAllocFailed, fn, "out of host memory for the CPU stand-in's scratch buffers");
  } catch (...) {
    return fail(kInternalError, fn, "unexpected exception in the CPU stand-in");
  }
}

}  // namespace scse::cudnn_emu
