// Tensor and filter descriptors: create, set (with cuDNN's checks), get, destroy.
//
// What the setters accept follows cuDNN 9.24's libcudnn as measured (the headers document only
// "BAD_PARAM: an invalid parameter"): nbDims 2 to 8 (fewer is BAD_PARAM, more NOT_SUPPORTED),
// dims > 0, strides of any sign but 0 only along a dim of size 1, at most 2^31-1 elements
// (NOT_SUPPORTED beyond). The getters answer for a descriptor that was never set, with zeros,
// as cuDNN does.
#include <climits>
#include <new>
#include <string>

#include "cuda/emu/cudnn/descriptors.h"
#include "cuda/emu/cudnn/emu.h"
#include "cuda/emu/cudnn/exports.h"

#pragma GCC visibility push(hidden)
namespace scse::cudnn_emu {
namespace {

// Elements per vector of cuDNN's vectorized types (NCHW_VECT_C), 0 for the others.
int vectorCount(int dataType) {
  if (dataType == 5 || dataType == 7) return 4;  // INT8x4, UINT8x4
  if (dataType == 8) return 32;                  // INT8x32
  return 0;
}

// Format and data type of a 4-d set: NCHW and NHWC for any accepted type; NCHW_VECT_C only with a
// vectorized type and C a multiple of its vector count.
int checkFormat(const char* fn, int format, int dataType, bool filter, int c) {
  const bool typeOk = filter ? validFilterDataType(dataType) : validTensorDataType(dataType);
  if (!typeOk) {
    return fail(kBadParam, fn,
                "dataType: expected a data type of the legacy API (CUDNN_DATA_FLOAT to CUDNN_DATA_BFLOAT16" +
                    std::string(filter ? ", not INT32" : "") + "), got " + dataTypeText(dataType));
  }
  if (format == CUDNN_TENSOR_NCHW || format == CUDNN_TENSOR_NHWC) return kSuccess;
  if (format == CUDNN_TENSOR_NCHW_VECT_C) {
    const int v = vectorCount(dataType);
    if (v == 0) {
      return fail(kBadParam, fn,
                  "format: CUDNN_TENSOR_NCHW_VECT_C needs a vectorized data type (INT8x4, UINT8x4, INT8x32), got " +
                      dataTypeText(dataType));
    }
    if (c % v != 0) {
      return fail(kBadParam, fn,
                  "c: CUDNN_TENSOR_NCHW_VECT_C with " + dataTypeText(dataType) + " needs a multiple of " +
                      std::to_string(v) + ", got " + std::to_string(c));
    }
    return kSuccess;
  }
  return fail(kBadParam, fn,
              "format: expected CUDNN_TENSOR_NCHW (0), CUDNN_TENSOR_NHWC (1) or CUDNN_TENSOR_NCHW_VECT_C (2), got " +
                  std::to_string(format));
}

int checkPositiveDims(const char* fn, const char* what, int nb, const int* dims, const char* const* names) {
  for (int i = 0; i < nb; i++) {
    if (dims[i] <= 0) {
      const std::string name = names ? names[i] : std::string(what) + "[" + std::to_string(i) + "]";
      return fail(kBadParam, fn, name + ": expected > 0, got " + std::to_string(dims[i]) + " (dims " + dimsText(nb, dims) + ")");
    }
  }
  return kSuccess;
}

// cuDNN's limit: 2^31-1 elements per tensor (sizes and offsets are int). `strides` NULL = packed.
int checkElementLimit(const char* fn, int nb, const int* dims, const int* strides) {
  int64_t count = 1, span = 1;
  for (int i = 0; i < nb; i++) count *= dims[i];
  if (strides) {
    for (int i = 0; i < nb; i++) span += int64_t(dims[i] - 1) * (strides[i] < 0 ? -int64_t(strides[i]) : strides[i]);
  } else {
    span = count;
  }
  if (count > INT_MAX || span > INT_MAX) {
    return fail(kNotSupported, fn,
                "the tensor " + dimsText(nb, dims) + " has " + std::to_string(count) + " elements spanning " +
                    std::to_string(span) + ", more than cuDNN's limit of 2^31-1");
  }
  return kSuccess;
}


void store(cudnnTensorStruct* d, int dataType, int nb, const int* dims, const int* strides) {
  d->dataType = dataType;
  d->nbDims = nb;
  for (int i = 0; i < CUDNN_DIM_MAX; i++) {
    d->dim[i] = i < nb ? dims[i] : 0;
    d->stride[i] = i < nb ? strides[i] : 0;
  }
}

}  // namespace
}  // namespace scse::cudnn_emu
#pragma GCC visibility pop

using namespace scse::cudnn;
using namespace scse::cudnn_emu;

extern "C" {

cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* d) {
  return createDescriptor("cudnnCreateTensorDescriptor", "tensorDesc", d);
}

cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d) {
  return destroyDescriptor("cudnnDestroyTensorDescriptor", "tensorDesc", d, isTensor, "a tensor descriptor");
}

cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, int format, int dataType, int n, int c, int h, int w) {
  const char* fn = "cudnnSetTensor4dDescriptor";
  if (!isTensor(d)) return checkTensor(fn, "tensorDesc", d, nullptr);
  const int dims[4] = {n, c, h, w};
  static const char* const names[4] = {"n", "c", "h", "w"};
  if (int s = checkPositiveDims(fn, "dims", 4, dims, names)) return s;
  if (int s = checkFormat(fn, format, dataType, false, c)) return s;
  if (int s = checkElementLimit(fn, 4, dims, nullptr)) return s;
  int strides[4];
  if (format == CUDNN_TENSOR_NHWC) {
    strides[0] = h * w * c, strides[1] = 1, strides[2] = w * c, strides[3] = c;
  } else if (format == CUDNN_TENSOR_NCHW_VECT_C) {  // in vectors: C/v planes of H*W vectors (as cuDNN reports)
    strides[0] = c / vectorCount(dataType) * h * w, strides[1] = h * w, strides[2] = w, strides[3] = 1;
  } else {
    strides[0] = c * h * w, strides[1] = h * w, strides[2] = w, strides[3] = 1;
  }
  store(d, dataType, 4, dims, strides);
  return kSuccess;
}

cudnnStatus_t cudnnSetTensorNdDescriptor(cudnnTensorDescriptor_t d, int dataType, int nbDims, const int* dimA,
                                         const int* strideA) {
  const char* fn = "cudnnSetTensorNdDescriptor";
  if (!isTensor(d)) return checkTensor(fn, "tensorDesc", d, nullptr);
  if (!validTensorDataType(dataType)) {
    return fail(kBadParam, fn,
                "dataType: expected a data type of the legacy API (CUDNN_DATA_FLOAT to CUDNN_DATA_BFLOAT16), got " +
                    dataTypeText(dataType));
  }
  if (nbDims < 2) return fail(kBadParam, fn, "nbDims: expected at least 2, got " + std::to_string(nbDims));
  if (nbDims > CUDNN_DIM_MAX)
    return fail(kNotSupported, fn, "nbDims: expected at most 8 (CUDNN_DIM_MAX), got " + std::to_string(nbDims));
  if (int s = checkPointer(fn, "dimA", dimA)) return s;
  if (int s = checkPointer(fn, "strideA", strideA)) return s;
  if (int s = checkPositiveDims(fn, "dimA", nbDims, dimA, nullptr)) return s;
  for (int i = 0; i < nbDims; i++) {
    if (strideA[i] == 0 && dimA[i] != 1) {
      return fail(kBadParam, fn,
                  "strideA[" + std::to_string(i) + "]: 0 is only valid along a dim of size 1, dimA[" + std::to_string(i) +
                      "] is " + std::to_string(dimA[i]) + " (strides " + dimsText(nbDims, strideA) + ")");
    }
  }
  if (int s = checkElementLimit(fn, nbDims, dimA, strideA)) return s;
  store(d, dataType, nbDims, dimA, strideA);
  return kSuccess;
}

// The first four dims and strides; those a 2-d or 3-d descriptor lacks read 0.
cudnnStatus_t cudnnGetTensor4dDescriptor(const cudnnTensorDescriptor_t d, int* dataType, int* n, int* c, int* h, int* w,
                                         int* nStride, int* cStride, int* hStride, int* wStride) {
  const char* fn = "cudnnGetTensor4dDescriptor";
  if (!isTensor(d)) return checkTensor(fn, "tensorDesc", d, nullptr);
  int* outs[9] = {dataType, n, c, h, w, nStride, cStride, hStride, wStride};
  for (int* p : outs)
    if (int s = checkPointer(fn, "output", p)) return s;
  *dataType = d->dataType;
  *n = d->dim[0], *c = d->dim[1], *h = d->dim[2], *w = d->dim[3];
  *nStride = d->stride[0], *cStride = d->stride[1], *hStride = d->stride[2], *wStride = d->stride[3];
  return kSuccess;
}

cudnnStatus_t cudnnGetTensorNdDescriptor(const cudnnTensorDescriptor_t d, int nbDimsRequested, int* dataType, int* nbDims,
                                         int* dimA, int* strideA) {
  const char* fn = "cudnnGetTensorNdDescriptor";
  if (!isTensor(d)) return checkTensor(fn, "tensorDesc", d, nullptr);
  if (nbDimsRequested < 0) return fail(kBadParam, fn, "nbDimsRequested: expected >= 0, got " + std::to_string(nbDimsRequested));
  if (int s = checkPointer(fn, "dataType", dataType)) return s;
  if (int s = checkPointer(fn, "nbDims", nbDims)) return s;
  const int n = nbDimsRequested < d->nbDims ? nbDimsRequested : d->nbDims;  // the first n dims
  if (n > 0) {
    if (int s = checkPointer(fn, "dimA", dimA)) return s;
    if (int s = checkPointer(fn, "strideA", strideA)) return s;
  }
  *dataType = d->dataType;
  *nbDims = d->nbDims;
  for (int i = 0; i < n; i++) dimA[i] = d->dim[i], strideA[i] = d->stride[i];
  return kSuccess;
}

cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* d) {
  return createDescriptor("cudnnCreateFilterDescriptor", "filterDesc", d);
}

cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t d) {
  return destroyDescriptor("cudnnDestroyFilterDescriptor", "filterDesc", d, isFilter, "a filter descriptor");
}

cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, int dataType, int format, int k, int c, int h, int w) {
  const char* fn = "cudnnSetFilter4dDescriptor";
  if (!isFilter(d)) return checkFilter(fn, "filterDesc", d, nullptr);
  const int dims[4] = {k, c, h, w};
  static const char* const names[4] = {"k", "c", "h", "w"};
  if (int s = checkPositiveDims(fn, "dims", 4, dims, names)) return s;
  if (int s = checkFormat(fn, format, dataType, true, c)) return s;
  if (int s = checkElementLimit(fn, 4, dims, nullptr)) return s;
  d->dataType = dataType;
  d->format = format;
  d->nbDims = 4;
  for (int i = 0; i < 4; i++) d->dim[i] = dims[i];
  return kSuccess;
}

cudnnStatus_t cudnnGetFilter4dDescriptor(const cudnnFilterDescriptor_t d, int* dataType, int* format, int* k, int* c,
                                         int* h, int* w) {
  const char* fn = "cudnnGetFilter4dDescriptor";
  if (!isFilter(d)) return checkFilter(fn, "filterDesc", d, nullptr);
  int* outs[6] = {dataType, format, k, c, h, w};
  for (int* p : outs)
    if (int s = checkPointer(fn, "output", p)) return s;
  *dataType = d->dataType;
  *format = d->format;
  *k = d->dim[0], *c = d->dim[1], *h = d->dim[2], *w = d->dim[3];
  return kSuccess;
}

}  // extern "C"
