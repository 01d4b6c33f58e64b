// Declarations of every symbol the stand-in exports, with default visibility. The names cudnn.h
// lists (SCSE_CUDNN_REQUIRED / SCSE_CUDNN_OPTIONAL) are declared from its own function pointer
// types, so a definition whose signature drifts from what the loader dlsym's fails to compile.
// The descriptor getters (not used by scse, exported for conformance tests against the real
// libcudnn.so.9) follow cudnn_ops.h / cudnn_cnn.h of cuDNN 9.
#pragma once
#include <type_traits>

#include "cuda/cudnn.h"

#define SCSE_EMU_EXPORT __attribute__((visibility("default")))

namespace scse::cudnn::fn {
using cudnnGetTensor4dDescriptor = S (*)(const TD, int* dataType, int* n, int* c, int* h, int* w, int* nStride,
                                         int* cStride, int* hStride, int* wStride);
using cudnnGetTensorNdDescriptor = S (*)(const TD, int nbDimsRequested, int* dataType, int* nbDims, int dimA[],
                                         int strideA[]);
using cudnnGetFilter4dDescriptor = S (*)(const FD, int* dataType, int* format, int* k, int* c, int* h, int* w);
using cudnnGetConvolution2dDescriptor = S (*)(const CD, int* padH, int* padW, int* u, int* v, int* dilationH,
                                              int* dilationW, int* mode, int* computeType);
using cudnnGetConvolutionMathType = S (*)(CD, int* mathType);
using cudnnGetConvolutionGroupCount = S (*)(CD, int* groupCount);
using cudnnGetPooling2dDescriptor = S (*)(const PD, int* mode, int* maxpoolingNanOpt, int* windowH, int* windowW,
                                          int* padH, int* padW, int* strideH, int* strideW);
using cudnnGetActivationDescriptor = S (*)(const AD, int* mode, int* reluNanOpt, double* coef);
}  // namespace scse::cudnn::fn

#define SCSE_EMU_GETTERS(X)                                                                              \
  X(cudnnGetTensor4dDescriptor) X(cudnnGetTensorNdDescriptor) X(cudnnGetFilter4dDescriptor)              \
  X(cudnnGetConvolution2dDescriptor) X(cudnnGetConvolutionMathType) X(cudnnGetConvolutionGroupCount)     \
  X(cudnnGetPooling2dDescriptor) X(cudnnGetActivationDescriptor)

extern "C" {
#define SCSE_EMU_DECLARE(name) SCSE_EMU_EXPORT std::remove_pointer_t<scse::cudnn::fn::name> name;
SCSE_CUDNN_REQUIRED(SCSE_EMU_DECLARE)
SCSE_CUDNN_OPTIONAL(SCSE_EMU_DECLARE)
SCSE_EMU_GETTERS(SCSE_EMU_DECLARE)
#undef SCSE_EMU_DECLARE
}
