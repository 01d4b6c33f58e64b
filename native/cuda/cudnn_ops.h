// Convolution, transposed convolution and batch norm on cuDNN (dlopen'ed, cudnn_loader.h), on
// NHWC tensors: the CUDA twins of native/cpu/conv.cc and native/cpu/norm.cc. Plain C++ header.
//
// Same conventions as ops.h: device pointers, work enqueued on deviceStream(device), outputs
// fully written, errors thrown as CudaError naming the op ("conv2d: cudnnConvolutionForward:
// CUDNN_STATUS_BAD_PARAM (2000): ..."; "conv2d: cuDNN is not available: <loader reason>").
//
// One cudnnHandle per device, bound to the device's stream, used under a per-device lock (cuDNN
// handles must not be used by two threads at once). Descriptors and the algorithm of each
// (shape, direction) are made once and cached; algorithms come from cuDNN's heuristics
// (cudnnGetConvolution*Algorithm_v7), restricted to deterministic ones (never BWD_DATA ALGO_0
// nor BWD_FILTER ALGO_0/ALGO_3), with CUDNN_FMA_MATH (strict fp32, comparable to oneDNN) unless
// allowTf32. Workspaces come from the caching allocator.
#pragma once
#include <cstddef>
#include <cstdint>

namespace scse::cuda {

// One (transposed) convolution, as native/cpu/conv.cc's Geom: the op maps x [N,IH,IW,IC] to
// y [N,OH,OW,OC] (the caller computes OH, OW as the CPU op does; a transposed convolution's
// outputPadding is implied by OH, OW). Weights: OHWI [OC,KH,KW,IC] for a convolution,
// [IC,KH,KW,OC] for a transposed one (PyTorch's [in,out,kh,kw] made channels-last).
// Padding is symmetric (padH, padW on both sides), dilation 1 = dense.
struct ConvParams {
  bool transposed = false;
  int64_t N = 0, IC = 0, IH = 0, IW = 0, OC = 0, KH = 0, KW = 0, OH = 0, OW = 0;
  int64_t strideH = 1, strideW = 1, padH = 0, padW = 0, dilationH = 1, dilationW = 1;
  bool allowTf32 = false;  // let cuDNN use TF32 tensor cores (Ampere+): faster, ~1e-3 relative error
};

// y = conv(x, w) (+ bias [OC] when not null).
void convForward(int device, const ConvParams& p, const float* x, const float* w, const float* bias, float* y);
// dx [N,IH,IW,IC] from dy [N,OH,OW,OC].
void convBackwardData(int device, const ConvParams& p, const float* dy, const float* w, float* dx);
// dw (the weights' layout) and, when dbias is not null, dbias [OC] = dy summed over N, OH, OW
// (our deterministic reduction).
void convBackwardWeights(int device, const ConvParams& p, const float* x, const float* dy, float* dw, float* dbias);

// Batch norm over x [N,H,W,C] per channel (cuDNN SPATIAL mode), scale gamma and shift beta [C].
struct BnDims {
  int64_t N = 0, H = 0, W = 0, C = 0;
};
// Training: y, and the batch mean and biased variance [C] (what the CPU op returns); invStd [C]
// (may be null) receives cuDNN's saved 1/sqrt(var + eps) for the backward. When runningMean is
// not null, runningMean/runningVar are updated with math::bnRunningUpdate (PyTorch's unbiased
// formula; cuDNN's own running averages are not used). eps is used as float, like the CPU op.
void batchNormTrain(int device, const BnDims& d, const float* x, const float* gamma, const float* beta,
                    float* runningMean, float* runningVar, double momentum, double eps, float* y, float* mean, float* var,
                    float* invStd);
// Inference with the given statistics.
void batchNormInfer(int device, const BnDims& d, const float* x, const float* gamma, const float* beta, const float* mean,
                    const float* var, double eps, float* y);
// dx, dgamma, dbeta. globalStats = false: the training backward (batch statistics mean/var, or
// invStd from batchNormTrain when not null, which saves recomputing it); true: mean/var are
// constants (inference-mode backward, computed by our kernels: cuDNN has no such mode).
void batchNormBackward(int device, const BnDims& d, const float* x, const float* mean, const float* var,
                       const float* invStd, const float* gamma, const float* dy, double eps, bool globalStats, float* dx,
                       float* dgamma, float* dbeta);

struct CudnnCacheStats {
  size_t entries = 0, hits = 0, misses = 0;
};
// Descriptor/algorithm cache counters of a device (zeros when unused).
CudnnCacheStats cudnnCacheStats(int device);

}  // namespace scse::cuda
