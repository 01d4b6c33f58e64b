// Batch-norm bookkeeping shared by the CPU (oneDNN) and CUDA (cuDNN) backends: neither library's
// running-average convention is used; both backends apply this one formula (PyTorch's).
#pragma once
#include "math/common.h"

namespace scse::math {

// running = (1 - m) * running + m * batch, with the variance made unbiased:
// `var` is the biased batch variance and unbias = count / (count - 1).
SCSE_HD void bnRunningUpdate(float* runningMean, float* runningVar, float mean, float var, float m, float unbias) {
  *runningMean = (1 - m) * *runningMean + m * mean;
  *runningVar = (1 - m) * *runningVar + m * var * unbias;
}

// ---- batch norm fused with an activation (cpu/norm_act.cc) -------------------------------------
// z = (x - mean)·scale + beta with scale = gamma / sqrt(var + eps), then y = act(z). The forward
// and the backward (which recomputes z instead of storing it) both go through these, so the
// activation's branch sees bit-identical z in both.
enum class NormAct : int { None = 0, Relu = 1, Prelu = 2 };

SCSE_HD float bnScale(float gamma, float var, float eps) { return gamma / sqrtf(var + eps); }
// fmadd: one rounding, whether or not a loop is vectorized, so forward and backward agree.
SCSE_HD float bnPre(float x, float mean, float scale, float beta) { return fmadd(x - mean, scale, beta); }

// The activation is a template parameter so the per-channel loops compile branch-free.
template <NormAct A>
SCSE_HD float normActForward(float z, float slope) {
  if (A == NormAct::None) return z;
  if (A == NormAct::Relu) return z > 0.0f ? z : 0.0f;
  return z > 0.0f ? z : slope * z;
}
// d loss / dz from d loss / dy (ReLU's gradient at 0 is 0, as PyTorch's).
template <NormAct A>
SCSE_HD float normActGrad(float z, float slope, float dy) {
  if (A == NormAct::None) return dy;
  if (A == NormAct::Relu) return z > 0.0f ? dy : 0.0f;
  return z > 0.0f ? dy : slope * dy;
}

}  // namespace scse::math
