// The forward passes of an SE block over one NHWC image whose input is u = act(BN(x)), computed
// from x on the fly: the squeeze (channel means, spatial excitations, channel MLP) and the apply.
// batchNormActSe (norm_act_se.cc) runs them with the batch statistics (kBn = true); the plain SE
// forward (se.cc) on its stored input, u = x (kBn = false: no per-value normalization arithmetic,
// which measurably slowed the SE forward when it ran as an identity normalization).
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/norm_act.h"
#include "cpu/se_block.h"
#include "math/norm.h"

namespace scse::sekern {

using normact::Chan;
using normact::NormAct;

// u = act(BN(x)) for channel c of one pixel (kBn), or x itself (the per-channel vectors are then
// not read: the plain SE passes none).
template <NormAct A, bool kBn>
inline float unit(float x, const float* mean, const float* scale, const float* beta, const float* slope, int64_t c) {
  if constexpr (!kBn) return x;
  else return math::normActForward<A>(math::bnPre(x, mean[c], scale[c], beta[c]), slope[c]);
}

// The squeezes of pixels p .. p + R − 1: their u = act(BN(x)) added into the channel sums `block`
// (cSE) and their spatial excitations q = σ(w·u + b) (sSE). Four pixels per call (R < 4 only for an
// image's tail). A function, not a lambda, so that the restrict-qualified pointers hold and the
// channel loop vectorizes (through a lambda's captures such loops ran scalar, 3× slower).
// False on a non-finite projection.
template <NormAct A, int M, int R, bool kBn>
inline bool squeezeGroup(const float* X, int64_t C, int64_t p, const Chan& ch, const float* wsq, float bsq, float* block, float* q) {
  const float *__restrict m = ch.mean, *__restrict sc = ch.scale, *__restrict be = ch.beta, *__restrict sl = ch.slope;
  const float* __restrict w = wsq;
  float* __restrict bl = block;
  const int64_t p1 = p + (R > 1), p2 = p + 2 * (R > 2), p3 = p + 3 * (R > 3);  // beyond R: pixel p again
  const float *__restrict x0 = X + p * C, *__restrict x1 = X + p1 * C, *__restrict x2 = X + p2 * C, *__restrict x3 = X + p3 * C;
  const float on1 = R > 1 ? 1.0f : 0.0f, on2 = R > 2 ? 1.0f : 0.0f, on3 = R > 3 ? 1.0f : 0.0f;
  float d0 = 0.0f, d1 = 0.0f, d2 = 0.0f, d3 = 0.0f;
#pragma omp simd reduction(+ : d0, d1, d2, d3)
  for (int64_t c = 0; c < C; c++) {
    const float u0 = unit<A, kBn>(x0[c], m, sc, be, sl, c), u1 = unit<A, kBn>(x1[c], m, sc, be, sl, c);
    const float u2 = unit<A, kBn>(x2[c], m, sc, be, sl, c), u3 = unit<A, kBn>(x3[c], m, sc, be, sl, c);
    if (seUsesChannel(M)) bl[c] += (u0 + on1 * u1) + (on2 * u2 + on3 * u3);
    if (seUsesSpatial(M)) d0 += w[c] * u0, d1 += w[c] * u1, d2 += w[c] * u2, d3 += w[c] * u3;
  }
  if (!seUsesSpatial(M)) return true;
  q[p] = sigmoid(d0 + bsq);
  if (R > 1) q[p1] = sigmoid(d1 + bsq);
  if (R > 2) q[p2] = sigmoid(d2 + bsq);
  if (R > 3) q[p3] = sigmoid(d3 + bsq);
  return std::isfinite(d0 + d1 + d2 + d3);
}

// Squeeze pass over image X: the channel means z (cSE) and the spatial excitation q = σ(w·u + b)
// per pixel (sSE), then the channel MLP (hpre, s). Returns false on a non-finite squeeze.
template <NormAct A, int M, bool kBn = true>
inline bool squeezeImage(const SeArgs& a, const float* X, const Chan& ch, float* z, float* hpre, float* s, float* q) {
  const int64_t C = a.C, P = a.P;
  const int nt = omp_get_max_threads();
  std::vector<double> sums(seUsesChannel(M) ? size_t(nt) * C : 0, 0.0);
  bool ok = true;
#pragma omp parallel if (P * C > kParallelGrain) reduction(&& : ok)
  {
    std::vector<float> block(seUsesChannel(M) ? C : 0, 0.0f);
    double* acc = seUsesChannel(M) ? sums.data() + size_t(omp_get_thread_num()) * C : nullptr;
    const float b = seUsesSpatial(M) ? a.bsq[0] : 0.0f;
    int64_t rows = 0;
    // groups of 4 pixels: the same static chunks as the apply pass's writeRowsBackward
#pragma omp for schedule(static)
    for (int64_t g = 0; g < (P + 3) / 4; g++) {
      const int64_t p = g * 4;
      bool fin;
      if (p + 4 <= P) fin = squeezeGroup<A, M, 4, kBn>(X, C, p, ch, a.wsq, b, block.data(), q);
      else if (P - p == 3) fin = squeezeGroup<A, M, 3, kBn>(X, C, p, ch, a.wsq, b, block.data(), q);
      else if (P - p == 2) fin = squeezeGroup<A, M, 2, kBn>(X, C, p, ch, a.wsq, b, block.data(), q);
      else fin = squeezeGroup<A, M, 1, kBn>(X, C, p, ch, a.wsq, b, block.data(), q);
      ok = ok && fin;
      if (seUsesChannel(M) && (rows += 4) >= kFlushRows) {
        for (int64_t c = 0; c < C; c++) acc[c] += block[c], block[c] = 0.0f;
        rows = 0;
      }
    }
    if (seUsesChannel(M))
      for (int64_t c = 0; c < C; c++) acc[c] += block[c];
  }
  if (seUsesChannel(M)) {
    for (int64_t c = 0; c < C; c++) {
      double t = 0;
      for (int k = 0; k < nt; k++) t += sums[size_t(k) * C + c];
      z[c] = float(t / double(P));
      ok = ok && std::isfinite(z[c]);
    }
    if (ok) mlpForward(a, z, hpre, s);
  }
  return ok;
}

// Apply pass over image X: Y = seOut(u, s, q), each thread over its squeeze chunk backwards.
template <NormAct A, int M, bool kBn = true>
inline void applyImage(const SeArgs& a, const float* X, const Chan& ch, const float* s, const float* q, float* Y) {
  const int64_t C = a.C;
  writeRowsBackward(a.P, C, Y, [&](int64_t p, float* y) {
    const float *__restrict x = X + p * C, *__restrict m = ch.mean, *__restrict sc = ch.scale, *__restrict be = ch.beta;
    const float* __restrict sl = ch.slope;
    const float qp = seUsesSpatial(M) ? q[p] : 0.0f;
#pragma omp simd
    for (int64_t c = 0; c < C; c++) y[c] = seOut<M>(unit<A, kBn>(x[c], m, sc, be, sl, c), seUsesChannel(M) ? s[c] : 0.0f, qp);
  });
}

// Images in the order the op before most likely left in cache, for an op whose threads took
// static chunks of the N images' pixels: the ends of the chunks first (endsFirst: a pass walked its
// chunks forward) or their starts (a pass walked them backwards, as parallelForReverse does).
inline std::vector<int64_t> cachedImageOrder(int64_t N, bool endsFirst) {
  const int64_t nt = std::max<int64_t>(1, std::min<int64_t>(omp_get_max_threads(), N)), per = (N + nt - 1) / nt;
  std::vector<int64_t> order;
  for (int64_t k = 0; k < nt * per; k++) {
    const int64_t n = (k % nt) * per + (endsFirst ? per - 1 - k / nt : k / nt);
    if (n < N) order.push_back(n);
  }
  return order;
}

// The SE forward over the images in `order` (squeeze, MLP, apply): y, and z [N,C],
// hpre [N,max(Cr,1)], s [N,C], q [N,P]. Returns the lowest-numbered image whose squeeze is not
// finite (y is then incomplete), or -1.
template <NormAct A, int M, bool kBn>
int64_t squeezeApplyImages(const SeArgs& a, const float* X, const Chan& ch, const std::vector<int64_t>& order, float* Z, float* Hp,
                           float* S, float* Q, float* Y) {
  const int64_t C = a.C, Cr = std::max<int64_t>(a.Cr, 1);
  int64_t bad = -1;
  for (int64_t n : order) {
    const int64_t off = n * a.P * C;
    if (!squeezeImage<A, M, kBn>(a, X + off, ch, Z + n * C, Hp + n * Cr, S + n * C, Q + n * a.P)) {
      if (bad < 0 || n < bad) bad = n;
      continue;
    }
    if (bad < 0) applyImage<A, M, kBn>(a, X + off, ch, S + n * C, Q + n * a.P, Y + off);
  }
  return bad;
}

}  // namespace scse::sekern
