// Our own declarations of the cuDNN subset scse uses (C ABI, Linux x86_64). cuDNN is not a build
// dependency: libcudnn.so.9 is dlopen'ed at run time (cudnn_loader.h) and these types describe
// the functions we look up in it. Parameter order follows cudnn_{graph,ops,cnn}.h 9.x, which is
// the same as 8.x for everything here (see /work/shared/NATIVE-NOTES.md §2). Every cuDNN enum is
// a 32-bit int at the ABI level, so enums are plain ints and their values `constexpr int`.
#pragma once
#include <cstddef>

namespace scse::cudnn {

using cudnnStatus_t = int;
using cudaStream_t = struct CUstream_st*;
using cudnnHandle_t = struct cudnnContext*;
using cudnnTensorDescriptor_t = struct cudnnTensorStruct*;
using cudnnFilterDescriptor_t = struct cudnnFilterStruct*;
using cudnnConvolutionDescriptor_t = struct cudnnConvolutionStruct*;
using cudnnPoolingDescriptor_t = struct cudnnPoolingStruct*;
using cudnnActivationDescriptor_t = struct cudnnActivationStruct*;

// cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t share this layout.
struct cudnnConvolutionAlgoPerf_t {
  int algo;
  cudnnStatus_t status;
  float time;
  size_t memory;
  int determinism;
  int mathType;
  int reserved[3];
};
static_assert(sizeof(cudnnConvolutionAlgoPerf_t) == 48, "cuDNN algo perf struct is 48 bytes on x86_64");
using cudnnConvolutionFwdAlgoPerf_t = cudnnConvolutionAlgoPerf_t;
using cudnnConvolutionBwdDataAlgoPerf_t = cudnnConvolutionAlgoPerf_t;
using cudnnConvolutionBwdFilterAlgoPerf_t = cudnnConvolutionAlgoPerf_t;

// --- enum values (identical in 8.x and 9.x unless noted) ------------------------------------
constexpr int CUDNN_DATA_FLOAT = 0, CUDNN_DATA_DOUBLE = 1, CUDNN_DATA_HALF = 2, CUDNN_DATA_INT8 = 3,
              CUDNN_DATA_INT32 = 4, CUDNN_DATA_UINT8 = 6, CUDNN_DATA_BFLOAT16 = 9, CUDNN_DATA_INT64 = 10;
constexpr int CUDNN_TENSOR_NCHW = 0, CUDNN_TENSOR_NHWC = 1, CUDNN_TENSOR_NCHW_VECT_C = 2;
constexpr int CUDNN_CONVOLUTION = 0, CUDNN_CROSS_CORRELATION = 1;
constexpr int CUDNN_DEFAULT_MATH = 0, CUDNN_TENSOR_OP_MATH = 1, CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION = 2,
              CUDNN_FMA_MATH = 3;
constexpr int CUDNN_NOT_PROPAGATE_NAN = 0, CUDNN_PROPAGATE_NAN = 1;
constexpr int CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM = 0, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM = 1,
              CUDNN_CONVOLUTION_FWD_ALGO_GEMM = 2, CUDNN_CONVOLUTION_FWD_ALGO_DIRECT = 3,
              CUDNN_CONVOLUTION_FWD_ALGO_FFT = 4, CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING = 5,
              CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD = 6, CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED = 7,
              CUDNN_CONVOLUTION_FWD_ALGO_COUNT = 8;
constexpr int CUDNN_CONVOLUTION_BWD_DATA_ALGO_0 = 0, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1 = 1,
              CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT = 2, CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING = 3,
              CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD = 4, CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED = 5,
              CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT = 6;
constexpr int CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 = 0, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1 = 1,
              CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT = 2, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3 = 3,
              CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD = 4, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED = 5,
              CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING = 6, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT = 7;
constexpr int CUDNN_NON_DETERMINISTIC = 0, CUDNN_DETERMINISTIC = 1;
constexpr int CUDNN_BATCHNORM_PER_ACTIVATION = 0, CUDNN_BATCHNORM_SPATIAL = 1, CUDNN_BATCHNORM_SPATIAL_PERSISTENT = 2;
constexpr int CUDNN_POOLING_MAX = 0, CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING = 1,
              CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING = 2, CUDNN_POOLING_MAX_DETERMINISTIC = 3;
constexpr int CUDNN_ACTIVATION_SIGMOID = 0, CUDNN_ACTIVATION_RELU = 1, CUDNN_ACTIVATION_TANH = 2,
              CUDNN_ACTIVATION_CLIPPED_RELU = 3, CUDNN_ACTIVATION_ELU = 4, CUDNN_ACTIVATION_IDENTITY = 5,
              CUDNN_ACTIVATION_SWISH = 6;
constexpr int CUDNN_SOFTMAX_FAST = 0, CUDNN_SOFTMAX_ACCURATE = 1, CUDNN_SOFTMAX_LOG = 2;
constexpr int CUDNN_SOFTMAX_MODE_INSTANCE = 0, CUDNN_SOFTMAX_MODE_CHANNEL = 1;
constexpr int CUDNN_STATUS_SUCCESS = 0;
constexpr int CUDNN_DIM_MAX = 8;
constexpr double CUDNN_BN_MIN_EPSILON = 0.0;
// Non-zero cudnnStatus_t values differ between 8.x and 9.x: see cudnnStatusName() in cudnn_loader.h.

// --- function pointer types, one per symbol we dlsym -----------------------------------------
namespace fn {
using TD = cudnnTensorDescriptor_t;
using FD = cudnnFilterDescriptor_t;
using CD = cudnnConvolutionDescriptor_t;
using PD = cudnnPoolingDescriptor_t;
using AD = cudnnActivationDescriptor_t;
using H = cudnnHandle_t;
using S = cudnnStatus_t;
using cv = const void*;

using cudnnGetVersion = size_t (*)();
using cudnnGetCudartVersion = size_t (*)();
using cudnnGetErrorString = const char* (*)(S);
using cudnnGetLastErrorString = void (*)(char* message, size_t maxSize);  // 9.x only
using cudnnCreate = S (*)(H*);
using cudnnDestroy = S (*)(H);
using cudnnSetStream = S (*)(H, cudaStream_t);

using cudnnCreateTensorDescriptor = S (*)(TD*);
using cudnnDestroyTensorDescriptor = S (*)(TD);
using cudnnSetTensor4dDescriptor = S (*)(TD, int format, int dataType, int n, int c, int h, int w);
using cudnnSetTensorNdDescriptor = S (*)(TD, int dataType, int nbDims, const int dimA[], const int strideA[]);
using cudnnCreateFilterDescriptor = S (*)(FD*);
using cudnnDestroyFilterDescriptor = S (*)(FD);
// Note: dataType BEFORE format here, the reverse of cudnnSetTensor4dDescriptor.
using cudnnSetFilter4dDescriptor = S (*)(FD, int dataType, int format, int k, int c, int h, int w);

using cudnnCreateConvolutionDescriptor = S (*)(CD*);
using cudnnDestroyConvolutionDescriptor = S (*)(CD);
using cudnnSetConvolution2dDescriptor = S (*)(CD, int padH, int padW, int strideH, int strideW, int dilationH,
                                              int dilationW, int mode, int computeType);
using cudnnSetConvolutionMathType = S (*)(CD, int mathType);
using cudnnSetConvolutionGroupCount = S (*)(CD, int groupCount);
using cudnnGetConvolution2dForwardOutputDim = S (*)(CD, TD x, FD w, int* n, int* c, int* h, int* wOut);

using cudnnGetConvolutionForwardAlgorithm_v7 = S (*)(H, TD x, FD w, CD, TD y, int requested, int* returned,
                                                     cudnnConvolutionFwdAlgoPerf_t* perf);
using cudnnFindConvolutionForwardAlgorithmEx = S (*)(H, TD xD, cv x, FD wD, cv w, CD, TD yD, void* y, int requested,
                                                     int* returned, cudnnConvolutionFwdAlgoPerf_t* perf, void* ws,
                                                     size_t wsBytes);
using cudnnGetConvolutionForwardWorkspaceSize = S (*)(H, TD x, FD w, CD, TD y, int algo, size_t* bytes);
using cudnnConvolutionForward = S (*)(H, cv alpha, TD xD, cv x, FD wD, cv w, CD, int algo, void* ws, size_t wsBytes,
                                      cv beta, TD yD, void* y);

using cudnnGetConvolutionBackwardDataAlgorithm_v7 = S (*)(H, FD w, TD dy, CD, TD dx, int requested, int* returned,
                                                          cudnnConvolutionBwdDataAlgoPerf_t* perf);
using cudnnFindConvolutionBackwardDataAlgorithmEx = S (*)(H, FD wD, cv w, TD dyD, cv dy, CD, TD dxD, void* dx,
                                                          int requested, int* returned,
                                                          cudnnConvolutionBwdDataAlgoPerf_t* perf, void* ws,
                                                          size_t wsBytes);
using cudnnGetConvolutionBackwardDataWorkspaceSize = S (*)(H, FD w, TD dy, CD, TD dx, int algo, size_t* bytes);
using cudnnConvolutionBackwardData = S (*)(H, cv alpha, FD wD, cv w, TD dyD, cv dy, CD, int algo, void* ws,
                                           size_t wsBytes, cv beta, TD dxD, void* dx);

using cudnnGetConvolutionBackwardFilterAlgorithm_v7 = S (*)(H, TD x, TD dy, CD, FD dw, int requested, int* returned,
                                                            cudnnConvolutionBwdFilterAlgoPerf_t* perf);
using cudnnFindConvolutionBackwardFilterAlgorithmEx = S (*)(H, TD xD, cv x, TD dyD, cv dy, CD, FD dwD, void* dw,
                                                            int requested, int* returned,
                                                            cudnnConvolutionBwdFilterAlgoPerf_t* perf, void* ws,
                                                            size_t wsBytes);
using cudnnGetConvolutionBackwardFilterWorkspaceSize = S (*)(H, TD x, TD dy, CD, FD dw, int algo, size_t* bytes);
using cudnnConvolutionBackwardFilter = S (*)(H, cv alpha, TD xD, cv x, TD dyD, cv dy, CD, int algo, void* ws,
                                             size_t wsBytes, cv beta, FD dwD, void* dw);
using cudnnConvolutionBackwardBias = S (*)(H, cv alpha, TD dyD, cv dy, cv beta, TD dbD, void* db);

using cudnnAddTensor = S (*)(H, cv alpha, TD aD, cv a, cv beta, TD cD, void* c);  // C = alpha*A + beta*C
using cudnnSetTensor = S (*)(H, TD yD, void* y, cv valuePtr);

using cudnnCreateActivationDescriptor = S (*)(AD*);
using cudnnDestroyActivationDescriptor = S (*)(AD);
using cudnnSetActivationDescriptor = S (*)(AD, int mode, int reluNanOpt, double coef);
using cudnnActivationForward = S (*)(H, AD, cv alpha, TD xD, cv x, cv beta, TD yD, void* y);
using cudnnActivationBackward = S (*)(H, AD, cv alpha, TD yD, cv y, TD dyD, cv dy, TD xD, cv x, cv beta, TD dxD,
                                      void* dx);

using cudnnCreatePoolingDescriptor = S (*)(PD*);
using cudnnDestroyPoolingDescriptor = S (*)(PD);
using cudnnSetPooling2dDescriptor = S (*)(PD, int mode, int maxpoolingNanOpt, int windowH, int windowW, int padH,
                                          int padW, int strideH, int strideW);
using cudnnGetPooling2dForwardOutputDim = S (*)(PD, TD in, int* n, int* c, int* h, int* w);
using cudnnPoolingForward = S (*)(H, PD, cv alpha, TD xD, cv x, cv beta, TD yD, void* y);
using cudnnPoolingBackward = S (*)(H, PD, cv alpha, TD yD, cv y, TD dyD, cv dy, TD xD, cv x, cv beta, TD dxD,
                                   void* dx);

using cudnnSoftmaxForward = S (*)(H, int algo, int mode, cv alpha, TD xD, cv x, cv beta, TD yD, void* y);
using cudnnSoftmaxBackward = S (*)(H, int algo, int mode, cv alpha, TD yD, cv y, TD dyD, cv dy, cv beta, TD dxD,
                                   void* dx);

using cudnnDeriveBNTensorDescriptor = S (*)(TD derived, TD xD, int mode);
using cudnnBatchNormalizationForwardTraining = S (*)(H, int mode, cv alpha, cv beta, TD xD, cv x, TD yD, void* y,
                                                     TD bnDesc, cv bnScale, cv bnBias, double expAverageFactor,
                                                     void* runningMean, void* runningVariance, double epsilon,
                                                     void* saveMean, void* saveInvVariance);
using cudnnBatchNormalizationForwardInference = S (*)(H, int mode, cv alpha, cv beta, TD xD, cv x, TD yD, void* y,
                                                      TD bnDesc, cv bnScale, cv bnBias, cv estimatedMean,
                                                      cv estimatedVariance, double epsilon);
using cudnnBatchNormalizationBackward = S (*)(H, int mode, cv alphaDataDiff, cv betaDataDiff, cv alphaParamDiff,
                                              cv betaParamDiff, TD xD, cv x, TD dyD, cv dy, TD dxD, void* dx,
                                              TD dBnDesc, cv bnScale, void* dBnScale, void* dBnBias, double epsilon,
                                              cv savedMean, cv savedInvVariance);
}  // namespace fn

// X-macro lists of the symbols: the loader resolves REQUIRED ones (a miss disables cuDNN) and
// OPTIONAL ones (left null when absent).
#define SCSE_CUDNN_REQUIRED(X)                                                                     \
  X(cudnnGetVersion) X(cudnnGetCudartVersion) X(cudnnGetErrorString) X(cudnnCreate) X(cudnnDestroy) \
  X(cudnnSetStream) X(cudnnCreateTensorDescriptor) X(cudnnDestroyTensorDescriptor)                  \
  X(cudnnSetTensor4dDescriptor) X(cudnnSetTensorNdDescriptor) X(cudnnCreateFilterDescriptor)        \
  X(cudnnDestroyFilterDescriptor) X(cudnnSetFilter4dDescriptor) X(cudnnCreateConvolutionDescriptor) \
  X(cudnnDestroyConvolutionDescriptor) X(cudnnSetConvolution2dDescriptor)                           \
  X(cudnnSetConvolutionMathType) X(cudnnSetConvolutionGroupCount)                                   \
  X(cudnnGetConvolution2dForwardOutputDim) X(cudnnGetConvolutionForwardAlgorithm_v7)                \
  X(cudnnFindConvolutionForwardAlgorithmEx) X(cudnnGetConvolutionForwardWorkspaceSize)              \
  X(cudnnConvolutionForward) X(cudnnGetConvolutionBackwardDataAlgorithm_v7)                         \
  X(cudnnFindConvolutionBackwardDataAlgorithmEx) X(cudnnGetConvolutionBackwardDataWorkspaceSize)    \
  X(cudnnConvolutionBackwardData) X(cudnnGetConvolutionBackwardFilterAlgorithm_v7)                  \
  X(cudnnFindConvolutionBackwardFilterAlgorithmEx) X(cudnnGetConvolutionBackwardFilterWorkspaceSize) \
  X(cudnnConvolutionBackwardFilter) X(cudnnConvolutionBackwardBias) X(cudnnAddTensor)               \
  X(cudnnSetTensor) X(cudnnCreateActivationDescriptor) X(cudnnDestroyActivationDescriptor)          \
  X(cudnnSetActivationDescriptor) X(cudnnActivationForward) X(cudnnActivationBackward)              \
  X(cudnnCreatePoolingDescriptor) X(cudnnDestroyPoolingDescriptor) X(cudnnSetPooling2dDescriptor)   \
  X(cudnnGetPooling2dForwardOutputDim) X(cudnnPoolingForward) X(cudnnPoolingBackward)               \
  X(cudnnSoftmaxForward) X(cudnnSoftmaxBackward) X(cudnnDeriveBNTensorDescriptor)                   \
  X(cudnnBatchNormalizationForwardTraining) X(cudnnBatchNormalizationForwardInference)              \
  X(cudnnBatchNormalizationBackward)
#define SCSE_CUDNN_OPTIONAL(X) X(cudnnGetLastErrorString)

// The resolved entry points (all non-null when cudnnLoad().loaded, except the optional ones).
struct Api {
#define SCSE_CUDNN_MEMBER(name) fn::name name = nullptr;
  SCSE_CUDNN_REQUIRED(SCSE_CUDNN_MEMBER)
  SCSE_CUDNN_OPTIONAL(SCSE_CUDNN_MEMBER)
#undef SCSE_CUDNN_MEMBER
};

}  // namespace scse::cudnn
