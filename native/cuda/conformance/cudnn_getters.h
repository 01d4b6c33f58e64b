// cuDNN's descriptor getters, for conformance tests only: core/cudnn_conformance_hooks.cc reads
// back the descriptors our ops build (cudnn_descriptors.h) from the real libcudnn.so.9 and from
// the CPU stand-in. scse itself never calls them, so they stay out of cudnn.h's Api and the
// production loader. Types as in cudnn.h (enums as int); cudnn_abi_check.cc compares them with
// the real declarations too. Plain C++ header.
#pragma once
#include "cuda/cudnn.h"

namespace scse::cudnn::getters {
using namespace scse::cudnn::fn;  // TD, FD, CD, S

using cudnnGetTensor4dDescriptor = S (*)(TD, int* dataType, int* n, int* c, int* h, int* w, int* nStride, int* cStride,
                                         int* hStride, int* wStride);
using cudnnGetTensorNdDescriptor = S (*)(TD, int nbDimsRequested, int* dataType, int* nbDims, int dimA[], int strideA[]);
using cudnnGetFilter4dDescriptor = S (*)(FD, int* dataType, int* format, int* k, int* c, int* h, int* w);
using cudnnGetConvolution2dDescriptor = S (*)(CD, int* padH, int* padW, int* u, int* v, int* dilationH, int* dilationW,
                                              int* mode, int* computeType);
using cudnnGetConvolutionMathType = S (*)(CD, int* mathType);
using cudnnGetConvolutionGroupCount = S (*)(CD, int* groupCount);
}  // namespace scse::cudnn::getters

#define SCSE_CUDNN_GETTERS(X)                                                                 \
  X(cudnnGetTensor4dDescriptor) X(cudnnGetTensorNdDescriptor) X(cudnnGetFilter4dDescriptor) \
  X(cudnnGetConvolution2dDescriptor) X(cudnnGetConvolutionMathType) X(cudnnGetConvolutionGroupCount)
