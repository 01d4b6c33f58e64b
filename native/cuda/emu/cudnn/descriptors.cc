// Argument checks shared by the entry points (descriptors.h).
#include "cuda/emu/cudnn/descriptors.h"

#include "cuda/emu/stream_abi.h"

#include <string>

#pragma GCC visibility push(hidden)
namespace scse::cudnn_emu {
namespace {
template <class T>
bool hasKind(const T* d, EmuKind kind) {
  return d && d->kind == kind;
}

int wrongKind(const char* fn, const char* arg, const void* d, const char* what) {
  if (!d) return fail(kBadParam, fn, std::string(arg) + ": expected a " + what + ", got NULL");
  return fail(kBadParam, fn, std::string(arg) + ": expected a " + what + " (created and not destroyed), got another object");
}

int needFloatType(const char* fn, const char* arg, int dataType) {
  if (dataType == CUDNN_DATA_FLOAT) return kSuccess;
  return fail(kNotSupported, fn,
              std::string(arg) + ": data type " + dataTypeText(dataType) +
                  " is not supported by the CPU stand-in (expected CUDNN_DATA_FLOAT (0))");
}
}  // namespace

bool isTensor(cudnnTensorDescriptor_t d) { return hasKind(d, EmuKind::kTensor); }
bool isFilter(cudnnFilterDescriptor_t d) { return hasKind(d, EmuKind::kFilter); }
bool isConvolution(cudnnConvolutionDescriptor_t d) { return hasKind(d, EmuKind::kConvolution); }
bool isPooling(cudnnPoolingDescriptor_t d) { return hasKind(d, EmuKind::kPooling); }
bool isActivation(cudnnActivationDescriptor_t d) { return hasKind(d, EmuKind::kActivation); }

Layout tensorLayout(const cudnnTensorStruct& t) {
  Layout l;
  l.nb = t.nbDims;
  for (int i = 0; i < t.nbDims; i++) l.dim[i] = t.dim[i], l.stride[i] = t.stride[i];
  return l;
}

Layout filterLayout(const cudnnFilterStruct& f) {
  Layout l;
  l.nb = 4;
  const int64_t C = f.dim[1], R = f.dim[2], S = f.dim[3];
  for (int i = 0; i < 4; i++) l.dim[i] = f.dim[i];
  if (f.format == CUDNN_TENSOR_NHWC) {  // KRSC
    l.stride[0] = R * S * C, l.stride[1] = 1, l.stride[2] = S * C, l.stride[3] = C;
  } else {  // KCRS
    l.stride[0] = C * R * S, l.stride[1] = R * S, l.stride[2] = S, l.stride[3] = 1;
  }
  return l;
}

int checkHandle(const char* fn, cudnnHandle_t h) {
  if (!hasKind(h, EmuKind::kHandle)) return wrongKind(fn, "handle", h, "cudnnHandle_t from cudnnCreate");
  return kSuccess;
}

int beginWork(const char* fn, cudnnHandle_t h) {
  if (int s = checkHandle(fn, h)) return s;
  // The emulator's streams run their queued kernels when waited on: drain the handle's stream so
  // this call computes on the results of everything queued before it, as cuDNN's stream order
  // guarantees on a device (stream_abi.h; a NULL or foreign stream is left alone).
  if (int e = cuemuDrainStream(h->stream))
    return fail(kExecutionFailed, fn, "work queued on the handle's stream before this call failed (cudaError_t " + std::to_string(e) + ")");
  return kSuccess;
}

int checkPointer(const char* fn, const char* arg, const void* p) {
  if (!p) return fail(kBadParam, fn, std::string(arg) + ": expected a non-NULL pointer, got NULL");
  return kSuccess;
}

int checkTensor(const char* fn, const char* arg, cudnnTensorDescriptor_t d, Layout* out, bool needFloat) {
  if (!isTensor(d)) return wrongKind(fn, arg, d, "tensor descriptor");
  if (d->nbDims == 0) return fail(kBadParam, fn, std::string(arg) + ": the tensor descriptor was never set");
  if (needFloat) {
    if (int s = needFloatType(fn, arg, d->dataType)) return s;
    for (int i = 0; i < d->nbDims; i++) {
      if (d->stride[i] < 0) {
        return fail(kNotSupported, fn,
                    std::string(arg) + ": negative strides " + dimsText(d->nbDims, d->stride) +
                        " are not supported by the CPU stand-in");
      }
    }
  }
  if (out) *out = tensorLayout(*d);
  return kSuccess;
}

int checkFilter(const char* fn, const char* arg, cudnnFilterDescriptor_t d, Layout* out, bool needFloat) {
  if (!isFilter(d)) return wrongKind(fn, arg, d, "filter descriptor");
  if (d->nbDims == 0) return fail(kBadParam, fn, std::string(arg) + ": the filter descriptor was never set");
  if (needFloat)
    if (int s = needFloatType(fn, arg, d->dataType)) return s;
  if (out) *out = filterLayout(*d);
  return kSuccess;
}

int checkConvolution(const char* fn, const char* arg, cudnnConvolutionDescriptor_t d, bool needSet) {
  if (!isConvolution(d)) return wrongKind(fn, arg, d, "convolution descriptor");
  if (needSet && d->strideH == 0)
    return fail(kBadParam, fn, std::string(arg) + ": the convolution descriptor was never set (stride 0)");
  return kSuccess;
}

int checkPooling(const char* fn, const char* arg, cudnnPoolingDescriptor_t d, bool needSet) {
  if (!isPooling(d)) return wrongKind(fn, arg, d, "pooling descriptor");
  if (needSet && !d->set) return fail(kBadParam, fn, std::string(arg) + ": the pooling descriptor was never set");
  return kSuccess;
}

int checkActivation(const char* fn, const char* arg, cudnnActivationDescriptor_t d, bool needSet) {
  if (!isActivation(d)) return wrongKind(fn, arg, d, "activation descriptor");
  if (needSet && !d->set) return fail(kBadParam, fn, std::string(arg) + ": the activation descriptor was never set");
  return kSuccess;
}

int checkSameDims(const char* fn, const char* argA, const Layout& a, const char* argB, const Layout& b) {
  if (a.sameDims(b)) return kSuccess;
  return fail(kBadParam, fn,
              std::string(argB) + ": expected the dims of " + argA + " " + dimsText(a.nb, a.dim) + ", got " +
                  dimsText(b.nb, b.dim));
}

}  // namespace scse::cudnn_emu
#pragma GCC visibility pop
