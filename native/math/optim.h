// Per-element optimizer updates (PyTorch's torch.optim.SGD and Adam/AdamW semantics), shared by
// the CPU and CUDA kernels. Scalars that depend only on the step (bias corrections) are computed
// once on the host in double and passed in. Every multiply-add is an explicit fmadd (one
// rounding) so that both backends produce the same bits.
#pragma once
#include <cstdint>

#include "math/common.h"

namespace scse::math {

struct SgdHyper {
  float lr, momentum, dampening, weightDecay;
  bool nesterov, firstStep;
};

// g = grad + wd*p; with momentum: buf = firstStep ? g : momentum*buf + (1-dampening)*g,
// g = nesterov ? g + momentum*buf : buf; then p -= lr*g. `buf` may be null when momentum == 0.
SCSE_HD void sgdUpdate(float* p, float grad, float* buf, const SgdHyper& h) {
  float g = grad;
  if (h.weightDecay != 0.0f) g = fmadd(h.weightDecay, *p, g);
  if (h.momentum != 0.0f) {
    const float b = h.firstStep ? g : fmadd(h.momentum, *buf, (1.0f - h.dampening) * g);
    *buf = b;
    g = h.nesterov ? fmadd(h.momentum, b, g) : b;
  }
  *p = fmadd(-h.lr, g, *p);
}

struct AdamHyper {
  float lr, beta1, beta2, eps, weightDecay;
  float stepSize;           // lr / (1 - beta1^t)
  float biasCorr2Sqrt;      // sqrt(1 - beta2^t)
  bool decoupled;           // AdamW: p *= 1 - lr*wd instead of adding wd*p to the gradient
};

// m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2; p -= stepSize * m / (sqrt(v)/sqrt(bc2) + eps)
// (PyTorch's arrangement of lr * mhat / (sqrt(vhat) + eps)).
SCSE_HD void adamUpdate(float* p, float grad, float* m, float* v, const AdamHyper& h) {
  float g = grad;
  if (h.weightDecay != 0.0f) {
    if (h.decoupled) *p *= fmadd(-h.lr, h.weightDecay, 1.0f);
    else g = fmadd(h.weightDecay, *p, g);
  }
  const float mt = fmadd(h.beta1, *m, (1.0f - h.beta1) * g);
  const float vt = fmadd(h.beta2, *v, (1.0f - h.beta2) * g * g);
  *m = mt;
  *v = vt;
  const float denom = sqrtf(vt) / h.biasCorr2Sqrt + h.eps;
  *p = fmadd(-h.stepSize, mt / denom, *p);
}

// The step-dependent scalars, from the hyperparameters as given (double, as PyTorch computes them
// in Python): stepSize = lr / (1 - beta1^t), biasCorr2Sqrt = sqrt(1 - beta2^t). Host only.
inline void adamStepScalars(double lr, double beta1, double beta2, int64_t step, AdamHyper* h) {
  h->stepSize = float(lr / (1.0 - std::pow(beta1, double(step))));
  h->biasCorr2Sqrt = float(std::sqrt(1.0 - std::pow(beta2, double(step))));
}

}  // namespace scse::math
