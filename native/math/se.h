// Per-element math of the squeeze & excitation blocks, shared by the CPU and CUDA kernels.
//
// Notation (NHWC): u = U[n,h,w,c]; s = σ(ẑ[n,c]) the channel excitation (cSE), q = σ(w·U[n,h,w,:] + b)
// the spatial excitation (sSE). The block output y and its partial derivatives are:
//   cSE      y = u·s                    sSE      y = u·q
//   scSE add y = u·s + u·q              (the MICCAI paper)
//   scSE max y = max(u·s, u·q)          (authors' code / journal, torch.max: on a tie each branch
//                                        gets half the gradient, as PyTorch's maximum backward does)
//   scSE mul y = (u·s)·(u·q)
#pragma once
#include "math/common.h"

namespace scse::math {

enum SeMode : int { kSeCse = 0, kSeSse = 1, kSeAdd = 2, kSeMax = 3, kSeMul = 4 };

SCSE_HD constexpr bool seUsesChannel(int m) { return m != kSeSse; }
SCSE_HD constexpr bool seUsesSpatial(int m) { return m != kSeCse; }

template <int M>
SCSE_HD float seOut(float u, float s, float q) {
  if (M == kSeCse) return u * s;
  if (M == kSeSse) return u * q;
  if (M == kSeAdd) return u * (s + q);
  if (M == kSeMax) {
    // a NaN on either side is the result, as torch.max gives (a NaN in the cSE parameters must
    // not be hidden behind the sSE branch)
    float a = u * s, b = u * q;
    return a >= b || a != a ? a : b;
  }
  return (u * s) * (u * q);
}

// The hidden ReLU of the channel MLP and its gradient. Unlike math::relu (batch norm + ReLU, whose
// NaN handling is its own), NaN passes through as torch.relu lets it: a NaN in fc1 then reaches
// the output instead of being silently mapped to 0.
SCSE_HD float seHiddenRelu(float h) { return h <= 0.0f ? 0.0f : h; }
SCSE_HD float seHiddenReluGrad(float h, float dh) { return h <= 0.0f ? 0.0f : dh; }

struct SeGrad {
  float du;  // ∂y/∂u · dy (direct path only)
  float ds;  // ∂y/∂s · dy, summed over pixels into the channel excitation's gradient
  float dq;  // ∂y/∂q · dy, summed over channels into the spatial excitation's gradient
};

template <int M>
SCSE_HD SeGrad seGrad(float u, float s, float q, float dy) {
  if (M == kSeCse) return {s * dy, u * dy, 0.0f};
  if (M == kSeSse) return {q * dy, 0.0f, u * dy};
  if (M == kSeAdd) return {(s + q) * dy, u * dy, u * dy};
  if (M == kSeMax) {
    // m = the cSE branch's share of dy: 1 where it wins, ½ on a tie (PyTorch's torch.max / maximum
    // backward; ties are common, e.g. every u = 0 gives 0 = 0), 0 where sSE wins. Selects only, so
    // the CPU loop still vectorises.
    const float a = u * s, b = u * q;
    const float m = a > b ? 1.0f : (a == b ? 0.5f : 0.0f);
    const float udy = u * dy;
    return {(m * s + (1.0f - m) * q) * dy, m * udy, (1.0f - m) * udy};
  }
  float uu = u * u;
  return {2.0f * u * s * q * dy, uu * q * dy, uu * s * dy};
}

}  // namespace scse::math
