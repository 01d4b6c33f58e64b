// Batch-norm helper kernels (norm.cu) used by the cuDNN batch norm in cudnn_ops.cc: what cuDNN
// does not do the way the CPU backend does. Plain C++ header; device pointers, enqueued on the
// device's stream. Not part of the public op API (cudnn_ops.h).
#pragma once
#include <cstdint>

namespace scse::cuda::detail {

// After cuDNN's training forward (saved mean, saved 1/sqrt(var + eps)): var = 1/invStd^2 - eps
// (the biased batch variance the CPU op returns), and when runningMean is not null the running
// statistics updated with math::bnRunningUpdate (PyTorch: unbiased variance, count = N*H*W).
void bnFinishTraining(int device, int64_t C, int64_t count, float eps, float momentum, const float* mean,
                      const float* invStd, float* var, float* runningMean, float* runningVar);
// invStd = 1 / sqrt(var + eps), per channel.
void bnInvStd(int device, int64_t C, const float* var, float eps, float* invStd);
// Backward with fixed (global) statistics, x and dy [rows, C]: dx = dy * gamma * invStd,
// dgamma = sum dy * (x - mean) * invStd, dbeta = sum dy (deterministic reductions).
void bnGlobalBackward(int device, int64_t rows, int64_t C, const float* x, const float* mean, const float* invStd,
                      const float* gamma, const float* dy, float* dx, float* dgamma, float* dbeta);

}  // namespace scse::cuda::detail
