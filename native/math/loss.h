// Per-pixel math of the fused softmax + cross-entropy loss, shared by CPU and CUDA kernels.
#pragma once
#include "math/common.h"

namespace scse::math {

// Softmax of one pixel's K logits into p, and its cross-entropy -log p[label] computed as
// log-sum-exp minus the label's logit (max-shifted: no overflow, no log of an underflowed p).
SCSE_HD float softmaxXentRow(const float* x, int K, int label, float* p) {
  float m = x[0];
  for (int k = 1; k < K; k++) m = fmaxf(m, x[k]);
  float s = 0.0f;
  for (int k = 0; k < K; k++) {
    const float e = expf(x[k] - m);
    p[k] = e;
    s += e;
  }
  const float inv = 1.0f / s;
  for (int k = 0; k < K; k++) p[k] *= inv;
  return logf(s) + (m - x[label]);
}

// d loss / d logit_k for one pixel: (p_k - [k == label]) * scale, scale = w_i * g / P.
SCSE_HD float softmaxXentGrad(float p, bool isLabel, float scale) { return (p - (isLabel ? 1.0f : 0.0f)) * scale; }

}  // namespace scse::math
