// The CUDA twins of the addon's ops (native/cuda/dispatch_<family>.cc): each takes the arguments
// its CPU op (native/cpu/<family>.cc, core/core_ops.cc) has already parsed and checked, allocates
// the outputs on the tensors' device from its caching allocator, runs the launchers of ops.h,
// cudnn_ops.h and se_kernels.h, and returns what the CPU op returns. Compiled with the addon
// (they build N-API handles) and only with the CUDA backend; reached through SCSE_ON_CUDA
// (core/dispatch.h). All tensor arguments are on one CUDA device (deviceOf checked it).
#pragma once
#include <napi.h>

#include <cstdint>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "cuda/cudnn_ops.h"
#include "math/optim.h"

namespace scse::cudaops {

// ---- core (dispatch_core.cc) ----------------------------------------------------------------------
Napi::Value clone(Napi::Env env, NTensor* t);
Napi::Value fill(Napi::Env env, NTensor* t, double value);
// A copy of t on `to`; t or `to` (or both) on CUDA.
Napi::Value toDevice(Napi::Env env, NTensor* t, Device to);

// ---- elementwise, broadcasting, last-axis ops (dispatch_eltwise.cc) -------------------------------
Napi::Value relu(Napi::Env env, NTensor* x);
Napi::Value reluBackward(Napi::Env env, NTensor* x, NTensor* dy);
Napi::Value sigmoid(Napi::Env env, NTensor* x);
Napi::Value sigmoidBackward(Napi::Env env, NTensor* y, NTensor* dy);
Napi::Value affine(Napi::Env env, NTensor* x, float a, float b);
Napi::Value prelu(Napi::Env env, NTensor* x, NTensor* slope);
Napi::Value preluBackward(Napi::Env env, NTensor* x, NTensor* slope, NTensor* dy);
// kind: math::BinaryKind; outShape: the broadcast shape (checked by the caller).
Napi::Value binary(Napi::Env env, int kind, NTensor* a, NTensor* b, const Shape& outShape);
Napi::Value sumTo(Napi::Env env, NTensor* x, const Shape& target);
Napi::Value concat(Napi::Env env, const std::vector<NTensor*>& xs, const Shape& outShape);
Napi::Value split(Napi::Env env, NTensor* x, const std::vector<int64_t>& sizes);
Napi::Value softmax(Napi::Env env, NTensor* x);
Napi::Value softmaxBackward(Napi::Env env, NTensor* y, NTensor* dy);

// ---- convolution and linear (dispatch_conv.cc): cuDNN ----------------------------------------------
Napi::Value convForward(Napi::Env env, const cuda::ConvParams& p, NTensor* x, NTensor* w, NTensor* bias);
Napi::Value convBackwardData(Napi::Env env, const cuda::ConvParams& p, NTensor* dy, NTensor* w, const Shape& xShape);
// -> [dw, db?]
Napi::Value convBackwardWeights(Napi::Env env, const cuda::ConvParams& p, NTensor* x, NTensor* dy, const Shape& wShape,
                                bool withBias);
// y = x W^T + b as a 1x1 convolution: x [N,in] is [N,1,1,in], W [out,in] is OHWI [out,1,1,in].
Napi::Value linear(Napi::Env env, NTensor* x, NTensor* w, NTensor* bias);
// -> [dx, dw, db?]
Napi::Value linearBackward(Napi::Env env, NTensor* x, NTensor* w, NTensor* dy, bool withBias);

// ---- batch norm (dispatch_norm.cc): cuDNN -----------------------------------------------------------
// -> [y, mean, var]; running statistics updated in place when given.
Napi::Value batchNormTrain(Napi::Env env, NTensor* x, NTensor* gamma, NTensor* beta, NTensor* runningMean,
                           NTensor* runningVar, double momentum, float eps);
Napi::Value batchNormInfer(Napi::Env env, NTensor* x, NTensor* gamma, NTensor* beta, NTensor* mean, NTensor* var, float eps);
// -> [dx, dgamma, dbeta]
Napi::Value batchNormBackward(Napi::Env env, NTensor* x, NTensor* mean, NTensor* var, NTensor* gamma, NTensor* dy,
                              float eps, bool globalStats);

// ---- pooling (dispatch_pool.cc) ---------------------------------------------------------------------
// -> [y, indices]; (OH, OW) = the output size the caller computed.
Napi::Value maxPool2d(Napi::Env env, NTensor* x, int64_t k, int64_t s, int64_t OH, int64_t OW);
// bad slots: 0 = index outside the plane, 1 = index in range but outside its own window.
Napi::Value maxPool2dBackward(Napi::Env env, NTensor* dy, NTensor* indices, const Shape& xShape, int64_t k, int64_t s,
                              const BadFn& bad);
// bad slot 0: index outside the output plane.
Napi::Value maxUnpool2d(Napi::Env env, NTensor* x, NTensor* indices, int64_t H, int64_t W, const BadFn& bad);
Napi::Value maxUnpool2dBackward(Napi::Env env, NTensor* dy, NTensor* indices, const BadFn& bad);
Napi::Value globalAvgPool(Napi::Env env, NTensor* x);
Napi::Value globalAvgPoolBackward(Napi::Env env, NTensor* dy, const Shape& xShape);

// ---- losses (dispatch_loss.cc); P pixels, K classes ---------------------------------------------
// -> [loss (shape []), probs]; bad slots: 0 = NaN/Inf logit (flat index), 1 = bad label, 2 = bad weight (pixels).
Napi::Value softmaxCrossEntropy(Napi::Env env, NTensor* logits, NTensor* labels, NTensor* weights, int64_t P, int64_t K,
                                const BadFn& bad);
Napi::Value softmaxCrossEntropyBackward(Napi::Env env, NTensor* probs, NTensor* labels, NTensor* weights, NTensor* dy,
                                        int64_t P, int64_t K);
// -> [loss (shape []), probs, stats [3, K]]; bad slots: 0 = NaN/Inf logit, 1 = bad label.
Napi::Value diceLoss(Napi::Env env, NTensor* logits, NTensor* labels, int64_t P, int64_t K,
                     const std::vector<int32_t>& classes, double eps, double smoothNr, const BadFn& bad);
// bad slot 0: bad label.
Napi::Value diceLossBackward(Napi::Env env, NTensor* probs, NTensor* labels, NTensor* stats, int64_t P, int64_t K,
                             const std::vector<int32_t>& classes, double eps, double smoothNr, NTensor* dy, const BadFn& bad);

// ---- random (dispatch_random.cc): the same Philox draws as the CPU -------------------------------
Napi::Value uniform(Napi::Env env, NTensor* t, float lo, float hi, uint32_t seed, uint32_t stream);
Napi::Value normal(Napi::Env env, NTensor* t, float mean, float sd, uint32_t seed, uint32_t stream);
Napi::Value dropoutMask(Napi::Env env, Device where, const Shape& shape, double p, uint32_t seed, uint32_t stream);

// ---- optimizers (dispatch_optim.cc), in place -------------------------------------------------------
Napi::Value sgdStep(Napi::Env env, NTensor* param, NTensor* grad, NTensor* momentumBuf, const math::SgdHyper& h);
Napi::Value adamStep(Napi::Env env, NTensor* param, NTensor* grad, NTensor* m, NTensor* v, double lr, double beta1,
                     double beta2, double eps, double weightDecay, int64_t step, bool decoupled);

// ---- fused SE blocks (dispatch_se.cc) ---------------------------------------------------------------
struct SeTensors {
  int mode = 0;                                    // math::SeMode
  int64_t N = 0, H = 0, W = 0, C = 0, Cr = 0;      // Cr = 0 without the channel branch
  NTensor* x = nullptr;
  NTensor *w1 = nullptr, *b1 = nullptr, *w2 = nullptr, *b2 = nullptr, *wsq = nullptr, *bsq = nullptr;
};
// -> [y, z [N,C], hpre [N,max(Cr,1)], s [N,C], q [N,H,W]]
// bad(0, n): image n has a NaN/Inf channel mean or pixel projection (the CPU op's check).
Napi::Value seForward(Napi::Env env, const SeTensors& a, const BadFn& bad);
// -> [dx, dw1, db1, dw2, db2, dwsq, dbsq] (null where the block has no such parameter)
Napi::Value seBackward(Napi::Env env, const SeTensors& a, NTensor* dy, NTensor* z, NTensor* hpre, NTensor* s, NTensor* q);

}  // namespace scse::cudaops
