// Per-element math of the elementwise, broadcasting and softmax ops (native/cpu/eltwise.cc,
// native/cuda/eltwise.cu), shared by the CPU and CUDA kernels.
#pragma once
#include <cstdint>

#include "math/common.h"

namespace scse::math {

// ---- broadcasting binary ops --------------------------------------------------------------------
enum BinaryKind : int { kBinAdd = 0, kBinSub = 1, kBinMul = 2, kBinDiv = 3, kBinMax = 4, kBinMin = 5, kBinMaxShare = 6 };

// max/min keep `u` on ties; a NaN on either side is the result, as torch.maximum/minimum give
// (the composed scSE-max must not hide a NaN branch the fused kernel shows). maxShare is u's share of
// a max's gradient: 1 where u wins, ½ on a tie, 0 where v wins, as PyTorch's maximum backward
// splits ties (used by the max/min backward; the forward's tie choice does not matter there).
template <int K>
SCSE_HD float binaryApply(float u, float v) {
  if (K == kBinAdd) return u + v;
  if (K == kBinSub) return u - v;
  if (K == kBinMul) return u * v;
  if (K == kBinDiv) return u / v;
  if (K == kBinMax) return u >= v || u != u ? u : v;
  if (K == kBinMin) return u <= v || u != u ? u : v;
  return u > v ? 1.0f : (u == v ? 0.5f : 0.0f);
}

// a*x + b with scalar a, b (scaling, negation, constants); one rounding on every backend.
SCSE_HD float affine(float x, float a, float b) { return fmadd(a, x, b); }

// ---- prelu --------------------------------------------------------------------------------------
SCSE_HD float preluGradX(float x, float slope, float dy) { return x > 0.0f ? dy : slope * dy; }
// This element's share of d loss / d slope, in double (summed over many elements).
SCSE_HD double preluSlopeGradTerm(float x, float dy) { return x > 0.0f ? 0.0 : double(x) * dy; }

// ---- softmax over one row of K values --------------------------------------------------------
// Max-shifted; the running max keeps its value when a comparison is false (NaN entries after the
// first do not replace it), as std::max does.
SCSE_HD void softmaxLastAxisRow(const float* x, int64_t K, float* y) {
  float m = x[0];
  for (int64_t k = 1; k < K; k++) m = m < x[k] ? x[k] : m;
  float s = 0.0f;
  for (int64_t k = 0; k < K; k++) s += (y[k] = expf(x[k] - m));
  const float inv = 1.0f / s;
  for (int64_t k = 0; k < K; k++) y[k] *= inv;
}

// dx = y * (dy - sum(dy * y)) for one row.
SCSE_HD void softmaxBackwardRow(const float* y, const float* dy, int64_t K, float* dx) {
  float dot = 0.0f;
  for (int64_t k = 0; k < K; k++) dot += y[k] * dy[k];
  for (int64_t k = 0; k < K; k++) dx[k] = y[k] * (dy[k] - dot);
}

}  // namespace scse::math
