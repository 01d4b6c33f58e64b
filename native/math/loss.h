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

// Softmax of one pixel's K logits into p (max-shifted).
SCSE_HD void softmaxRow(const float* x, int K, float* p) {
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
}

// Soft Dice of one class from its batch sums: D = (2 I + smoothNr) / (Sp + G + eps), with
// I = sum_i p_i g_i, Sp = sum_i p_i, G = sum_i g_i.
SCSE_HD double diceFromSums(double I, double Sp, double G, double eps, double smoothNr) {
  return (2.0 * I + smoothNr) / (Sp + G + eps);
}

// The loss L = 1 - (1/|C|) sum_{k in C} D_k is, per class, linear in g_ik and p_ik's sums, so
// dL/dp_ik = a_k g_ik + b_k with
//   a_k = -2 / (|C| (Sp_k + G_k + eps)),  b_k = (2 I_k + smoothNr) / (|C| (Sp_k + G_k + eps)^2)
// (both scaled by the incoming gradient dy; zero for classes outside C).
SCSE_HD void diceCoefficients(double I, double Sp, double G, double eps, double smoothNr, double dyOverC, float* a, float* b) {
  const double den = Sp + G + eps;
  *a = float(-2.0 * dyOverC / den);
  *b = float(dyOverC * (2.0 * I + smoothNr) / (den * den));
}

// d L / d logit for one pixel through the softmax: dp_k = a_k [k == label] + b_k,
// dx_k = p_k (dp_k - sum_j p_j dp_j).
SCSE_HD void diceGradRow(const float* p, int K, int label, const float* a, const float* b, float* dx) {
  float s = 0.0f;
  for (int k = 0; k < K; k++) s += p[k] * (b[k] + (k == label ? a[k] : 0.0f));
  for (int k = 0; k < K; k++) dx[k] = p[k] * (b[k] + (k == label ? a[k] : 0.0f) - s);
}

}  // namespace scse::math
