// Per-element math of the squeeze & excitation blocks, shared by the CPU and CUDA kernels.
//
// Notation (NHWC): u = U[n,h,w,c]; s = σ(ẑ[n,c]) the channel excitation (cSE), q = σ(w·U[n,h,w,:] + b)
// the spatial excitation (sSE). The block output y and its partial derivatives are:
//   cSE      y = u·s                    sSE      y = u·q
//   scSE add y = u·s + u·q              (the MICCAI paper)
//   scSE max y = max(u·s, u·q)          (authors' code / journal; ties go to the cSE branch)
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
    float a = u * s, b = u * q;
    return a >= b ? a : b;
  }
  return (u * s) * (u * q);
}

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
    // branch-free so the CPU loop vectorises: m = 1 where the cSE branch wins (ties included)
    const float m = u * s >= u * q ? 1.0f : 0.0f;
    const float udy = u * dy;
    return {(m * s + (1.0f - m) * q) * dy, m * udy, (1.0f - m) * udy};
  }
  float uu = u * u;
  return {2.0f * u * s * q * dy, uu * q * dy, uu * s * dy};
}

}  // namespace scse::math
