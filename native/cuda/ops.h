// Host-side launchers of the CUDA op kernels (eltwise.cu, pool.cu, loss.cu, random.cu, optim.cu).
// Plain C++ (no CUDA types), so the addon's dispatch code calls them without nvcc. cuDNN ops
// (convolution, batch norm) are in cudnn_ops.h; the fused SE kernels in se_kernels.h.
//
// Every launcher computes exactly what the CPU op of the same name in native/cpu/*.cc computes
// (layouts NHWC, index conventions, tie rules, loss normalisation, Philox mapping), sharing the
// per-element math of native/math/*.h. Conventions:
//   - `device` is the CUDA device index. Work is enqueued on deviceStream(device) (context.h),
//     which also makes the device current on the calling thread; launchers return before the GPU
//     is done. Scratch memory comes from the device's caching allocator (stream-ordered reuse).
//   - All tensor pointers are device pointers, except parameters named host*. Outputs are fully
//     written by the launcher (no zero-initialisation needed by the caller), unless noted.
//   - Errors (a failed launch or CUDA call, an unusable device) throw CudaError (device.h) whose
//     message starts with the op name. Argument checks are the caller's job, as for the CPU ops;
//     launchers only validate what depends on tensor *contents* (indices, labels, finiteness):
//     they write the offending flat index into `bad` (device int64 slots, -1 = fine; null = do not
//     check), which the caller reads back (copyToHost) to raise the same error as the CPU op.
//   - Sums (sumTo, slope and pooling gradients, losses) are deterministic: fixed-shape two-stage
//     tree reductions in double, no float atomics. They agree with the CPU to rounding.
//   - Bit-identical to the CPU by construction (same IEEE operations in the same order, explicit
//     fmadd where a compiler could contract): fills, relu, affine, prelu (not its slope gradient),
//     sigmoid backward, binary ops, concat/split, max-pool values, indices and gradients, unpool,
//     the global-average backward, Philox uniform fills and dropout masks, SGD steps and Adam
//     steps (IEEE sqrt and division on both; the parity test still allows 1e-6 on the Adam
//     parameters). Within float rounding (libm's expf/logf/sinf/cosf, summation order): sigmoid,
//     softmax, losses, normal fills, reductions.
#pragma once
#include <cstdint>
#include <vector>

#include "math/eltwise.h"
#include "math/optim.h"

namespace scse::cuda {

// ---- fills and unary ops (eltwise.cu) -----------------------------------------------------------
void fillF32(int device, float* y, float value, int64_t n);
void fillI32(int device, int32_t* y, int32_t value, int64_t n);
void reluForward(int device, const float* x, float* y, int64_t n);
void reluBackward(int device, const float* x, const float* dy, float* dx, int64_t n);
void sigmoidForward(int device, const float* x, float* y, int64_t n);
void sigmoidBackward(int device, const float* y, const float* dy, float* dx, int64_t n);  // from the output y
void affineForward(int device, const float* x, float a, float b, float* y, int64_t n);    // a*x + b

// prelu over x viewed as [rows, C] (C = last dim): slopeCount = 1 (shared slope) or C.
void preluForward(int device, const float* x, const float* slope, int64_t slopeCount, float* y, int64_t rows, int64_t C);
// dx and dslope (slopeCount values: per channel, or all elements summed for a shared slope).
void preluBackward(int device, const float* x, const float* slope, int64_t slopeCount, const float* dy, float* dx,
                   float* dslope, int64_t rows, int64_t C);

// ---- broadcasting binary ops and reductions (eltwise.cu) ---------------------------------------
// NumPy broadcasting of rank <= 4 shapes (right-aligned, size-1 dims stretch), as native/cpu:
// the output shape, or a thrown CudaError("<op>: ... cannot be broadcast ...") when incompatible.
std::vector<int64_t> broadcastShape(const std::vector<int64_t>& a, const std::vector<int64_t>& b, const char* op);
// y[broadcastShape(a, b)] = kind(a, b), kind a math::BinaryKind (add, sub, mul, div, max, min, maxShare).
void binary(int device, int kind, const float* a, const std::vector<int64_t>& aShape, const float* b,
            const std::vector<int64_t>& bShape, float* y);
// y = x summed down to `yShape` (rank <= rank of x <= 4; every dim of yShape is x's or 1). Throws
// CudaError("sumTo: cannot reduce ...") otherwise.
void sumTo(int device, const float* x, const std::vector<int64_t>& xShape, float* y, const std::vector<int64_t>& yShape);

// ---- last-axis layout ops (eltwise.cu) ----------------------------------------------------------
// y [rows, sum(widths)] = the inputs xs[k] [rows, widths[k]] side by side (hostXs: host array of
// `count` device pointers).
void concatLast(int device, const float* const* hostXs, const int64_t* hostWidths, int count, int64_t rows, float* y);
// The reverse: ys[k] [rows, widths[k]] = consecutive column slices of x.
void splitLast(int device, const float* x, int64_t rows, const int64_t* hostWidths, int count, float* const* hostYs);
// Softmax over the last axis of x [rows, K] (max-shifted), and its backward from the output y.
void softmaxForward(int device, const float* x, float* y, int64_t rows, int64_t K);
void softmaxBackward(int device, const float* y, const float* dy, float* dx, int64_t rows, int64_t K);

// ---- pooling (pool.cu); x [N,H,W,C], windows k x k with stride s, outputs OH = (H-k)/s + 1 ------
// y, indices [N,OH,OW,C]; indices hold h*W + w of the chosen pixel in its (n, c) plane; the first
// maximum in window scan order wins, a NaN wins and stays (math/pool.h).
void maxPool2dForward(int device, const float* x, int64_t N, int64_t H, int64_t W, int64_t C, int64_t k, int64_t s,
                      float* y, int32_t* indices);
// dx [N,H,W,C] = sum of dy over the windows whose index names the pixel. Gathered per input
// pixel over the windows containing it, in output scan order: the CPU's accumulation order, so
// overlapping windows give the same bits. Needs the forward's k and s. bad[0]: largest position
// of an index outside [0, H*W) (the CPU's error); bad[1]: largest position of an in-range index
// outside its own window (only possible for indices not made by maxPool2dForward with this k, s;
// the CPU would accept them, the gather cannot see them). Such entries contribute nothing.
void maxPool2dBackward(int device, const float* dy, const int32_t* indices, int64_t N, int64_t H, int64_t W, int64_t C,
                       int64_t k, int64_t s, float* dx, int64_t* bad);
// x, indices [N,h,w,C] -> y [N,H,W,C]: zeros, then y[n, indices, c] = x; when several entries
// name one pixel the last in scan order wins (as the CPU loop). bad[0]: largest position of an
// index outside [0, H*W) (skipped).
void maxUnpool2dForward(int device, const float* x, const int32_t* indices, int64_t N, int64_t h, int64_t w, int64_t C,
                        int64_t H, int64_t W, float* y, int64_t* bad);
// dx [N,h,w,C] = dy [N,H,W,C] gathered at the indices. bad[0] as above (those dx are 0).
void maxUnpool2dBackward(int device, const float* dy, const int32_t* indices, int64_t N, int64_t h, int64_t w,
                         int64_t C, int64_t H, int64_t W, float* dx, int64_t* bad);
// x [N,P,C] (P = H*W) -> y [N,C] means; backward dx[n,p,c] = dy[n,c] / P.
void globalAvgPoolForward(int device, const float* x, int64_t N, int64_t P, int64_t C, float* y);
void globalAvgPoolBackward(int device, const float* dy, int64_t N, int64_t P, int64_t C, float* dx);

// ---- losses (loss.cu); logits/probs [P,K] (P pixels, K classes), labels [P] int32 ---------------
// loss[0] = sum_i w_i * (-log softmax(x_i)[label_i]) / P (weights may be null: 1), summed per
// chunk of 2048 pixels like the CPU; probs = softmax(x). bad[0]: first flat index of a NaN/Inf
// logit, bad[1]: first pixel with a label outside [0, K), bad[2]: first pixel with a NaN/Inf
// weight (null weights: never set).
void softmaxCrossEntropyForward(int device, const float* logits, const int32_t* labels, const float* weights, int64_t P,
                                int64_t K, float* loss, float* probs, int64_t* bad);
// dx = (p - onehot(label)) * w_i * dy[0] / P (dy: one device float).
void softmaxCrossEntropyBackward(int device, const float* probs, const int32_t* labels, const float* weights,
                                 const float* dy, int64_t P, int64_t K, float* dx);
// Soft Dice over the selected classes (hostClasses: distinct, in [0, K), checked by the caller):
// loss[0] = 1 - mean_k (2 I_k + smoothNr) / (Sp_k + G_k + eps), probs = softmax(logits),
// stats [3, K] = (I, Sp, G) summed over all pixels (math/loss.h). bad[0]: first NaN/Inf logit,
// bad[1]: first pixel with a label outside [0, K).
void diceLossForward(int device, const float* logits, const int32_t* labels, int64_t P, int64_t K,
                     const int32_t* hostClasses, int64_t classCount, double eps, double smoothNr, float* loss,
                     float* probs, float* stats, int64_t* bad);
// dx from the forward's probs and stats; dy: one device float. bad[0]: first pixel with a label
// outside [0, K).
void diceLossBackward(int device, const float* probs, const int32_t* labels, const float* stats, int64_t P, int64_t K,
                      const int32_t* hostClasses, int64_t classCount, double eps, double smoothNr, const float* dy,
                      float* dx, int64_t* bad);

// ---- random (random.cu): element i of a draw keyed by (seed, stream) is lane i % 4 of Philox
// block i / 4 (math/philox.h), as native/cpu/random.cc: same tensors on every backend -------------
void uniformFill(int device, float* y, int64_t n, float lo, float hi, uint32_t seed, uint32_t stream);
void normalFill(int device, float* y, int64_t n, float mean, float sd, uint32_t seed, uint32_t stream);
// 0 with probability p, else 1/(1-p) (0 when p = 1).
void dropoutMask(int device, float* y, int64_t n, double p, uint32_t seed, uint32_t stream);

// ---- optimizers (optim.cu), in place (math/optim.h) -------------------------------------------
// momentumBuf may be null when h.momentum == 0.
void sgdStep(int device, float* param, const float* grad, float* momentumBuf, int64_t n, const math::SgdHyper& h);
// Hyperparameters as given by the caller (double), turned into math::AdamHyper as the CPU op does.
void adamStep(int device, float* param, const float* grad, float* m, float* v, int64_t n, double lr, double beta1,
              double beta2, double eps, double weightDecay, int64_t step, bool decoupled);

}  // namespace scse::cuda
