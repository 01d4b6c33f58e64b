// Per-element optimizer updates (PyTorch's torch.optim.SGD and Adam/AdamW semantics), shared by
// the CPU and CUDA kernels. Scalars that depend only on the step (bias corrections) are computed
// once on the host in double and passed in.
#pragma once
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
  if (h.weightDecay != 0.0f) g += h.weightDecay * *p;
  if (h.momentum != 0.0f) {
    const float b = h.firstStep ? g : h.momentum * *buf + (1.0f - h.dampening) * g;
    *buf = b;
    g = h.nesterov ? g + h.momentum * b : b;
  }
  *p -= h.lr * g;
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
    if (h.decoupled) *p *= 1.0f - h.lr * h.weightDecay;
    else g += h.weightDecay * *p;
  }
  const float mt = h.beta1 * *m + (1.0f - h.beta1) * g;
  const float vt = h.beta2 * *v + (1.0f - h.beta2) * g * g;
  *m = mt;
  *v = vt;
  const float denom = sqrtf(vt) / h.biasCorr2Sqrt + h.eps;
  *p -= h.stepSize * (mt / denom);
}

}  // namespace scse::math
