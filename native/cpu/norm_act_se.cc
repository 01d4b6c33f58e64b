// Batch norm + activation + squeeze & excitation as one op, for training on the CPU:
//   batchNormActSeTrain(mode, x, w1, b1, w2, b2, wsq, bsq, gamma, beta, runningMean?, runningVar?,
//                       momentum, eps, act, slope?) -> [y, mean, var, z, hpre, s, q]
//   batchNormActSeInfer(mode, x, w1, b1, w2, b2, wsq, bsq, gamma, beta, runningMean, runningVar,
//                       eps, act, slope?) -> y   (eval mode, no gradient)
//   batchNormActSeBackward(mode, x, w1, b1, w2, b2, wsq, bsq, gamma, beta, mean, var, eps, act,
//                          slope?, dy, z, hpre, s, q)
//       -> [dx, dgamma, dbeta, dslope | null, dw1, db1, dw2, db2, dwsq, dbsq]
// y = SE(u) with u = act(BN(x)) and the batch statistics: squeezeExcite(batchNormAct(x)) in values,
// gradients and running-statistics updates (z, hpre, s, q as seForward returns them).
//
// Why: U-Net's and SD-Net's blocks end with BN → ReLU → SE, and at 256×256×64 every pass over a
// block's tensor costs ~4 ms of memory traffic here, about what the SE arithmetic costs in total.
// Composed, the two ops make 6 passes forward (BN-act: statistics, normalize; SE: squeeze, apply)
// and 10 backward (SE: sums, dU; BN-act: sums, dx; each reading two tensors). Fused, u is never
// stored: every pass recomputes it from x, which costs a multiply-add per value.
//   forward:  statistics (read x) | per image: squeeze (read x), apply (read x, write y)
//   backward: per image: sums (read x, dy) | per image: dx (read x, dy, write dx)
// so 4 and 5 tensor passes, of which the plain BN-act needs 3 and 5: SE's extra traffic is one
// read of x. The backward's single sums pass works because the BN-act backward needs only
// Σ g and Σ g·(x − mean) per channel, and g = act'(z)·dU is linear in dU, whose terms are known
// per pixel except the channel path's dz[n, c] (it needs the whole image's sums first): its
// contributions are summed separately (Σ act', Σ act'·(x − mean)) and scaled by dz afterwards.
//
// CPU only: ops/norm_act_se.ts composes batchNormAct and squeezeExcite on CUDA, and in eval mode
// when a gradient is needed (the backward here is for the batch statistics).
#include <cmath>
#include <cstring>
#include <vector>

#include "core/registry.h"
#include "cpu/norm_act.h"
#include "cpu/norm_args.h"
#include "cpu/se_block.h"
#include "cpu/se_forward.h"
#include "math/norm.h"

namespace scse {
namespace {

using namespace scse::sekern;
using normact::Chan;
using normact::NormAct;
using normact::withAct;

// The batch-norm half of the arguments, after the SE half (mode, x, w1, b1, w2, b2, wsq, bsq).
struct NormArgs {
  NTensor *gamma = nullptr, *beta = nullptr, *slope = nullptr;
  NormAct act = NormAct::None;
  std::vector<float> slopes;  // per channel (zeros unless PReLU)
  float eps = 1e-5f;
};

void channelsArg(const NTensor* t, const SeArgs& a, const char* op, const char* arg) {
  if (t->shape() != Shape{a.C}) {
    fail(op, std::string("argument '") + arg + "' expected shape [" + std::to_string(a.C) + "] (the channels of x), got " +
                 shapeStr(t->shape()));
  }
}

// ---- backward -----------------------------------------------------------------------------------
// Per-channel sums of one image's first backward pass, with k = act'(z) (1, [z > 0] or PReLU's
// 1 | slope), xm = x − mean, zn = min(z, 0) and e = seGrad(u, s, q, dy):
enum Acc : int {
  kDs,     // Σ e.ds                       → the channel MLP's gradient
  kWsq,    // Σ gq·u                       → the sSE conv weights (gq = the spatial pre-sigmoid gradient)
  kG,      // Σ k·e.du                     ┐
  kGx,     // Σ k·e.du·xm                  │ Σ g and Σ g·xm, g = k·dU, for the terms of dU
  kK,      // Σ k          (× dz[c])       │ known per pixel (e.du, gq·w) or per channel
  kKx,     // Σ k·xm       (× dz[c])       │ (the channel path's dz, scaled in afterwards)
  kQ,      // Σ k·gq       (× w[c])        │
  kQx,     // Σ k·gq·xm    (× w[c])        ┘
  kZ,      // Σ e.du·zn    ┐ PReLU's slope: Σ dU·zn
  kZk,     // Σ zn         │
  kZq,     // Σ gq·zn      ┘
  kAccs
};

// The per-value terms of the backward sums: z = BN(x), u = act(z), k = act'(z), xm = x − mean,
// zn = min(z, 0) and e = seGrad(u, s, q, dy).
struct Term {
  float u = 0.0f, k = 0.0f, xm = 0.0f, zn = 0.0f;
  SeGrad e{0.0f, 0.0f, 0.0f};
};

template <NormAct A, int M>
inline Term term(float x, float dy, float mean, float scale, float beta, float slope, float s, float q) {
  Term t;
  const float z = math::bnPre(x, mean, scale, beta);
  t.u = math::normActForward<A>(z, slope);
  t.k = math::normActGrad<A>(z, slope, 1.0f);
  t.xm = x - mean;
  t.zn = z > 0.0f ? 0.0f : z;
  t.e = seGrad<M>(t.u, s, q, dy);
  return t;
}

// The backward sums of pixels p .. p + R − 1 into the float accumulator rows f (kAccs rows of C) and
// the spatial gradients gq[p ..]. Pixels go R = 4 at a time (R < 4 only for an image's tail): each
// accumulator is loaded and stored once per group, and the group's per-pixel sums over channels
// (dq) reduce together. A function, not a lambda, so that the restrict-qualified pointers hold and
// the channel loops vectorize (through a lambda's captures they ran scalar, 3× slower).
template <NormAct A, int M, int R>
void sumsGroup(const float* X, const float* DY, int64_t C, int64_t p, const Chan& ch, const float* s, const float* q, float* gq,
               float* f, double& bl) {
  constexpr bool kCh = seUsesChannel(M), kSp = seUsesSpatial(M), kPr = A == NormAct::Prelu;
  float *__restrict fDs = f + kDs * C, *__restrict fW = f + kWsq * C, *__restrict fG = f + kG * C;
  float *__restrict fGx = f + kGx * C, *__restrict fK = f + kK * C, *__restrict fKx = f + kKx * C;
  float *__restrict fQ = f + kQ * C, *__restrict fQx = f + kQx * C, *__restrict fZ = f + kZ * C;
  float *__restrict fZk = f + kZk * C, *__restrict fZq = f + kZq * C;
  const float *__restrict m = ch.mean, *__restrict sc = ch.scale, *__restrict be = ch.beta, *__restrict sl = ch.slope;
  const float* __restrict se = s;
  // pixels beyond R repeat pixel p; their terms are zeroed
  const int64_t p1 = p + (R > 1), p2 = p + 2 * (R > 2), p3 = p + 3 * (R > 3);
  const float *__restrict x0 = X + p * C, *__restrict x1 = X + p1 * C, *__restrict x2 = X + p2 * C, *__restrict x3 = X + p3 * C;
  const float *__restrict y0 = DY + p * C, *__restrict y1 = DY + p1 * C, *__restrict y2 = DY + p2 * C, *__restrict y3 = DY + p3 * C;
  const float q0 = kSp ? q[p] : 0.0f, q1 = kSp ? q[p1] : 0.0f, q2 = kSp ? q[p2] : 0.0f, q3 = kSp ? q[p3] : 0.0f;
  const float on1 = R > 1 ? 1.0f : 0.0f, on2 = R > 2 ? 1.0f : 0.0f, on3 = R > 3 ? 1.0f : 0.0f;
  float d0 = 0.0f, d1 = 0.0f, d2 = 0.0f, d3 = 0.0f;
#pragma omp simd reduction(+ : d0, d1, d2, d3)
  for (int64_t c = 0; c < C; c++) {
    const float sv = kCh ? se[c] : 0.0f;
    const Term t0 = term<A, M>(x0[c], y0[c], m[c], sc[c], be[c], sl[c], sv, q0);
    const Term t1 = term<A, M>(x1[c], on1 * y1[c], m[c], sc[c], be[c], sl[c], sv, q1);
    const Term t2 = term<A, M>(x2[c], on2 * y2[c], m[c], sc[c], be[c], sl[c], sv, q2);
    const Term t3 = term<A, M>(x3[c], on3 * y3[c], m[c], sc[c], be[c], sl[c], sv, q3);
    // dy-free terms of the repeated pixels are masked by on1..on3 (their e.* already vanish with dy)
    if (kCh) {
      fDs[c] += (t0.e.ds + t1.e.ds) + (t2.e.ds + t3.e.ds);
      fK[c] += (t0.k + on1 * t1.k) + (on2 * t2.k + on3 * t3.k);
      fKx[c] += (t0.k * t0.xm + on1 * t1.k * t1.xm) + (on2 * t2.k * t2.xm + on3 * t3.k * t3.xm);
    }
    fG[c] += (t0.k * t0.e.du + t1.k * t1.e.du) + (t2.k * t2.e.du + t3.k * t3.e.du);
    fGx[c] += (t0.k * t0.e.du * t0.xm + t1.k * t1.e.du * t1.xm) + (t2.k * t2.e.du * t2.xm + t3.k * t3.e.du * t3.xm);
    if (kPr) fZ[c] += (t0.e.du * t0.zn + t1.e.du * t1.zn) + (t2.e.du * t2.zn + t3.e.du * t3.zn);
    if (kPr && kCh) fZk[c] += (t0.zn + on1 * t1.zn) + (on2 * t2.zn + on3 * t3.zn);
    d0 += t0.e.dq, d1 += t1.e.dq, d2 += t2.e.dq, d3 += t3.e.dq;
  }
  if (!kSp) return;
  // through the sigmoid: the pre-sigmoid gradient per pixel (0 for the repeated pixels)
  d0 *= q0 * (1.0f - q0), d1 *= on1 * q1 * (1.0f - q1), d2 *= on2 * q2 * (1.0f - q2), d3 *= on3 * q3 * (1.0f - q3);
  gq[p] = d0, bl += d0;
  if (R > 1) gq[p1] = d1, bl += d1;
  if (R > 2) gq[p2] = d2, bl += d2;
  if (R > 3) gq[p3] = d3, bl += d3;
#pragma omp simd
  for (int64_t c = 0; c < C; c++) {
    const Term t0 = term<A, M>(x0[c], 0.0f, m[c], sc[c], be[c], sl[c], 0.0f, 0.0f);
    const Term t1 = term<A, M>(x1[c], 0.0f, m[c], sc[c], be[c], sl[c], 0.0f, 0.0f);
    const Term t2 = term<A, M>(x2[c], 0.0f, m[c], sc[c], be[c], sl[c], 0.0f, 0.0f);
    const Term t3 = term<A, M>(x3[c], 0.0f, m[c], sc[c], be[c], sl[c], 0.0f, 0.0f);
    fW[c] += (d0 * t0.u + d1 * t1.u) + (d2 * t2.u + d3 * t3.u);
    fQ[c] += (d0 * t0.k + d1 * t1.k) + (d2 * t2.k + d3 * t3.k);
    fQx[c] += (d0 * t0.k * t0.xm + d1 * t1.k * t1.xm) + (d2 * t2.k * t2.xm + d3 * t3.k * t3.xm);
    if (kPr) fZq[c] += (d0 * t0.zn + d1 * t1.zn) + (d2 * t2.zn + d3 * t3.zn);
  }
}

// One image's backward sums (Acc rows, added into `sums`) and spatial gradients gq, over the same
// static chunks of 4-pixel groups as dxImage's writeRowsBackward.
template <NormAct A, int M>
void sumsImage(const SeArgs& a, const float* X, const float* DY, const Chan& ch, const float* s, const float* q, float* gq,
               double* sums, double* bsq) {
  const int64_t C = a.C, P = a.P;
  const int nt = omp_get_max_threads();
  std::vector<double> part(size_t(nt) * kAccs * C, 0.0);
  std::vector<double> bpart(size_t(nt), 0.0);
#pragma omp parallel if (P * C > kParallelGrain)
  {
    const int t = omp_get_thread_num();
    std::vector<float> f(size_t(kAccs) * C, 0.0f);
    double* acc = part.data() + size_t(t) * kAccs * C;
    double bl = 0.0;
    int64_t rows = 0;
#pragma omp for schedule(static)
    for (int64_t g = 0; g < (P + 3) / 4; g++) {
      const int64_t p = g * 4;
      if (p + 4 <= P) sumsGroup<A, M, 4>(X, DY, C, p, ch, s, q, gq, f.data(), bl);
      else if (P - p == 3) sumsGroup<A, M, 3>(X, DY, C, p, ch, s, q, gq, f.data(), bl);
      else if (P - p == 2) sumsGroup<A, M, 2>(X, DY, C, p, ch, s, q, gq, f.data(), bl);
      else sumsGroup<A, M, 1>(X, DY, C, p, ch, s, q, gq, f.data(), bl);
      if ((rows += 4) >= kFlushRows) {
        for (size_t i = 0; i < f.size(); i++) acc[i] += f[i], f[i] = 0.0f;
        rows = 0;
      }
    }
    for (size_t i = 0; i < f.size(); i++) acc[i] += f[i];
    bpart[t] = bl;
  }
  for (int k = 0; k < nt; k++) {
    for (int64_t i = 0; i < kAccs * C; i++) sums[i] += part[size_t(k) * kAccs * C + i];
    *bsq += bpart[k];
  }
}

// dx for one image: dx = scale·g + B·(x − mean) + D with g = act'(z)·dU and
// dU = e.du + dz[c] + gq·w[c], recomputed per value.
template <NormAct A, int M>
void dxImage(const SeArgs& a, const float* X, const float* DY, const Chan& ch, const float* s, const float* q, const float* gq,
             const float* dz, const float* B, const float* D, float* DX) {
  const int64_t C = a.C;
  writeRowsBackward(a.P, C, DX, [&](int64_t p, float* dx) {
    const float *__restrict x = X + p * C, *__restrict dy = DY + p * C, *__restrict m = ch.mean, *__restrict sc = ch.scale;
    const float *__restrict be = ch.beta, *__restrict sl = ch.slope, *__restrict w = a.wsq;
    const float qp = seUsesSpatial(M) ? q[p] : 0.0f, gp = seUsesSpatial(M) ? gq[p] : 0.0f;
#pragma omp simd
    for (int64_t c = 0; c < C; c++) {
      const float z = math::bnPre(x[c], m[c], sc[c], be[c]);
      float du = seGrad<M>(math::normActForward<A>(z, sl[c]), seUsesChannel(M) ? s[c] : 0.0f, qp, dy[c]).du;
      if (seUsesChannel(M)) du += dz[c];
      if (seUsesSpatial(M)) du += gp * w[c];
      dx[c] = sc[c] * math::normActGrad<A>(z, sl[c], du) + B[c] * (x[c] - m[c]) + D[c];
    }
  });
}

// ---- arguments ----------------------------------------------------------------------------------
// gamma, beta at i, i + 1; eps, act, slope at j, j + 1, j + 2.
NormArgs normArgs(const Napi::CallbackInfo& info, const SeInputs& in, size_t i, size_t j, const char* op) {
  NormArgs n;
  n.gamma = tensorArg(info, i, op, "gamma");
  n.beta = tensorArg(info, i + 1, op, "beta");
  channelsArg(n.gamma, in.a, op, "gamma");
  channelsArg(n.beta, in.a, op, "beta");
  n.eps = bnEpsArg(info, j, op);
  n.act = normact::actArgs(info, j + 1, in.a.C, in.x->shape(), op, &n.slope, &n.slopes);
  return n;
}

// The op runs on the CPU only. Checked on every tensor argument before anything reads one: host
// access to a CUDA tensor would fail with an internal error instead of this message.
void refuseCuda(const Napi::CallbackInfo& info, const char* op) {
  for (size_t i = 0; i < info.Length(); i++) {
    if (!info[i].IsObject() || !info[i].As<Napi::Object>().InstanceOf(NTensor::constructor->Value())) continue;
    if (NTensor::Unwrap(info[i].As<Napi::Object>())->device().isCuda()) {
      fail(op, "runs on the CPU only; for CUDA tensors use batchNormActSe() from TypeScript, which composes batchNormAct and "
               "squeezeExcite there");
    }
  }
}

// The first image of x [N, ·] (`len` values each) with a NaN or Inf (0 if none: an overflow).
int64_t firstNonFinite(const float* X, int64_t N, int64_t len) {
  for (int64_t n = 0; n < N; n++) {
    for (int64_t i = 0; i < len; i++) {
      if (!std::isfinite(X[n * len + i])) return n;
    }
  }
  return 0;
}

template <typename F>
void withModes(NormAct act, int mode, F&& f) {
  withAct(act, [&](auto A) { dispatch(mode, [&](auto M) { f(A, M); }); });
}

// The SE forward over every image with u = act(BN(x)) for the statistics in `ch`, in the order the
// statistics pass (static chunks walked forward) most likely left in cache (squeezeApplyImages).
int64_t squeezeApply(const SeArgs& a, const float* X, const Chan& ch, NormAct act, float* Z, float* Hp, float* S, float* Q,
                     float* Y) {
  const std::vector<int64_t> order = cachedImageOrder(a.N, true);
  int64_t bad = -1;
  withModes(act, a.mode, [&](auto A, auto M) { bad = squeezeApplyImages<A(), M(), true>(a, X, ch, order, Z, Hp, S, Q, Y); });
  return bad;
}

// ---- ops ----------------------------------------------------------------------------------------
Napi::Value BatchNormActSeTrain(const Napi::CallbackInfo& info) {
  SeInputs in = readArgs(info, 0, "batchNormActSe");
  const std::string name = std::string("batchNormActSe ") + modeName(in.a.mode);
  const char* op = name.c_str();
  refuseCuda(info, op);
  NTensor* rm = tensorArg(info, 10, op, "runningMean", DType::F32, true);
  NTensor* rv = tensorArg(info, 11, op, "runningVar", DType::F32, true);
  double momentum = bnMomentumArg(info, 12, op);
  NormArgs nb = normArgs(info, in, 8, 13, op);
  if ((rm == nullptr) != (rv == nullptr)) fail(op, "arguments 'runningMean' and 'runningVar' must be given together");
  if (rm) channelsArg(rm, in.a, op, "runningMean"), channelsArg(rv, in.a, op, "runningVar");
  SeArgs a = hostArgs(in);
  if (a.N * a.P < 2) fail(op, "training needs more than one value per channel (N*H*W > 1), got x of shape " + shapeStr(in.x->shape()));

  Napi::Env env = info.Env();
  const int64_t C = a.C, Cr = std::max<int64_t>(a.Cr, 1);
  Napi::Object yo = NTensor::New(env, in.x->shape(), DType::F32);
  Napi::Object mo = NTensor::New(env, {C}, DType::F32), vo = NTensor::New(env, {C}, DType::F32);
  Napi::Object zo = NTensor::New(env, {a.N, C}, DType::F32), ho = NTensor::New(env, {a.N, Cr}, DType::F32);
  Napi::Object so = NTensor::New(env, {a.N, C}, DType::F32), qo = NTensor::New(env, {a.N, a.H, a.W}, DType::F32);
  float *mean = NTensor::Unwrap(mo)->f32(), *var = NTensor::Unwrap(vo)->f32();
  float *Z = NTensor::Unwrap(zo)->f32(), *Hp = NTensor::Unwrap(ho)->f32(), *S = NTensor::Unwrap(so)->f32();
  float *Q = NTensor::Unwrap(qo)->f32(), *Y = NTensor::Unwrap(yo)->f32();
  const float* X = in.x->f32();

  normact::batchStatistics(X, a.N, a.H, a.W, C, mean, var);
  // A NaN or Inf in x makes its channel's batch mean non-finite: fail here, before the running
  // statistics change. The squeeze's check below does not see it with ReLU, which maps the NaN
  // pre-activations to 0 (math/norm.h), so the SE block would get finite values.
  for (int64_t c = 0; c < C; c++) {
    if (!std::isfinite(mean[c])) nonFinite(name, firstNonFinite(X, a.N, a.P * C));
  }
  std::vector<float> sc = normact::scales(nb.gamma->f32(), var, nb.eps, C);
  const Chan ch{mean, sc.data(), nb.beta->f32(), nb.slopes.data()};
  const int64_t bad = squeezeApply(a, X, ch, nb.act, Z, Hp, S, Q, Y);
  if (bad >= 0) nonFinite(name, bad);  // before the running statistics change
  if (rm) bnUpdateRunning(rm, rv, mean, var, C, momentum, a.N * a.P);
  return arrayOf(env, {yo, mo, vo, zo, ho, so, qo});
}

// batchNormActSeInfer(mode, x, w1, b1, w2, b2, wsq, bsq, gamma, beta, runningMean, runningVar, eps,
// act, slope?) -> y: the same with the running statistics (eval mode, no gradient), in 2 passes
// (squeeze: read x; apply: read x, write y) instead of the composition's 4.
Napi::Value BatchNormActSeInfer(const Napi::CallbackInfo& info) {
  SeInputs in = readArgs(info, 0, "batchNormActSe");
  const std::string name = std::string("batchNormActSe ") + modeName(in.a.mode);
  const char* op = name.c_str();
  refuseCuda(info, op);
  NTensor* rm = tensorArg(info, 10, op, "runningMean");
  NTensor* rv = tensorArg(info, 11, op, "runningVar");
  NormArgs nb = normArgs(info, in, 8, 12, op);
  channelsArg(rm, in.a, op, "runningMean"), channelsArg(rv, in.a, op, "runningVar");
  SeArgs a = hostArgs(in);
  const int64_t C = a.C, Cr = std::max<int64_t>(a.Cr, 1);
  Napi::Object yo = NTensor::New(info.Env(), in.x->shape(), DType::F32);
  std::vector<float> z(size_t(a.N * C)), h(size_t(a.N * Cr)), s(size_t(a.N * C)), q(size_t(a.N * a.P));
  std::vector<float> sc = normact::scales(nb.gamma->f32(), rv->f32(), nb.eps, C);
  const Chan ch{rm->f32(), sc.data(), nb.beta->f32(), nb.slopes.data()};
  const int64_t bad = squeezeApply(a, in.x->f32(), ch, nb.act, z.data(), h.data(), s.data(), q.data(), NTensor::Unwrap(yo)->f32());
  if (bad >= 0) nonFinite(name, bad);
  return yo;
}

Napi::Value BatchNormActSeBackward(const Napi::CallbackInfo& info) {
  SeInputs in = readArgs(info, 0, "batchNormActSeBackward");
  const std::string name = std::string("batchNormActSeBackward ") + modeName(in.a.mode);
  const char* op = name.c_str();
  refuseCuda(info, op);
  NTensor* meanT = tensorArg(info, 10, op, "mean");
  NTensor* varT = tensorArg(info, 11, op, "var");
  NormArgs nb = normArgs(info, in, 8, 12, op);
  channelsArg(meanT, in.a, op, "mean"), channelsArg(varT, in.a, op, "var");
  NTensor* dyT = tensorArg(info, 15, op, "dy");
  expectSameShape(in.x, dyT, op, "x", "dy");
  const int64_t N = in.a.N, C = in.a.C, P = in.a.P, Cr = std::max<int64_t>(in.a.Cr, 1);
  const SeSaved sv = savedArgs(info, 16, in.a, op);
  NTensor *zT = sv.z, *hT = sv.hpre, *sT = sv.s, *qT = sv.q;
  SeArgs a = hostArgs(in);

  Napi::Env env = info.Env();
  Napi::Value nul = env.Null();
  const bool chn = seUsesChannel(a.mode), spt = seUsesSpatial(a.mode);
  Napi::Object dxo = NTensor::New(env, in.x->shape(), DType::F32);
  const SeParamGrads pg = paramGrads(env, a);

  const float *X = in.x->f32(), *DY = dyT->f32(), *mean = meanT->f32(), *var = varT->f32();
  const float *Zs = zT->f32(), *Hs = hT->f32(), *S = sT->f32(), *Q = qT->f32();
  std::vector<float> sc = normact::scales(nb.gamma->f32(), var, nb.eps, C);
  const Chan ch{mean, sc.data(), nb.beta->f32(), nb.slopes.data()};
  std::vector<float> gq(spt ? size_t(N * P) : 0), dz(size_t(N * C), 0.0f);
  std::vector<double> sg(C, 0.0), sgx(C, 0.0), sa(C, 0.0), wsq(C, 0.0);
  double bsq = 0.0;
  const float invP = 1.0f / float(P);
  withModes(nb.act, a.mode, [&](auto A, auto M) {
    // pass 1, last image first (dy's producers mostly write in order); then the MLP backward
    for (int64_t n = N - 1; n >= 0; n--) {
      std::vector<double> s(size_t(kAccs) * C, 0.0);
      sumsImage<A(), M()>(a, X + n * P * C, DY + n * P * C, ch, S + n * C, Q + n * P, spt ? gq.data() + n * P : nullptr, s.data(),
                          &bsq);
      float* dzn = dz.data() + n * C;
      if (chn) {
        mlpBackward(a, Zs + n * C, Hs + n * Cr, S + n * C, s.data() + kDs * C, pg.ptr(0), pg.ptr(1), pg.ptr(2), pg.ptr(3), dzn);
        for (int64_t c = 0; c < C; c++) dzn[c] *= invP;  // z is a mean over the P pixels
      }
      for (int64_t c = 0; c < C; c++) {
        const double d = dzn[c], w = spt ? a.wsq[c] : 0.0f;
        sg[c] += s[kG * C + c] + d * s[kK * C + c] + w * s[kQ * C + c];
        sgx[c] += s[kGx * C + c] + d * s[kKx * C + c] + w * s[kQx * C + c];
        sa[c] += s[kZ * C + c] + d * s[kZk * C + c] + w * s[kZq * C + c];
        wsq[c] += s[kWsq * C + c];
      }
    }
    // dx = scale·g + B·(x − mean) + D with the batch statistics
    std::vector<float> B(C), D(C);
    normact::dxCoefficients(sc.data(), var, nb.eps, sg.data(), sgx.data(), double(N) * double(P), C, B.data(), D.data());
    // pass 2, first image first: the last one pass 1 read is still cached
    float* DX = NTensor::Unwrap(dxo)->f32();
    for (int64_t n = 0; n < N; n++) {
      dxImage<A(), M()>(a, X + n * P * C, DY + n * P * C, ch, S + n * C, Q + n * P, spt ? gq.data() + n * P : nullptr, dz.data() + n * C,
                        B.data(), D.data(), DX + n * P * C);
    }
  });

  auto [dgo, dbo] = normact::gammaBetaGrads(env, sg.data(), sgx.data(), var, nb.eps, C);
  Napi::Value dslope = nb.act == NormAct::Prelu ? normact::slopeGrad(env, nb.slope, sa.data(), C) : nul;
  if (spt) {
    float *gw = pg.ptr(4), *gb = pg.ptr(5);
    for (int64_t c = 0; c < C; c++) gw[c] = float(wsq[c]);
    gb[0] = float(bsq);
  }
  return arrayOf(env, {dxo, dgo, dbo, dslope, pg.v[0], pg.v[1], pg.v[2], pg.v[3], pg.v[4], pg.v[5]});
}

}  // namespace

void registerNormActSe(Napi::Env, Napi::Object exports) {
  SCSE_EXPORT(exports, "batchNormActSeTrain", BatchNormActSeTrain);
  SCSE_EXPORT(exports, "batchNormActSeInfer", BatchNormActSeInfer);
  SCSE_EXPORT(exports, "batchNormActSeBackward", BatchNormActSeBackward);
}

}  // namespace scse
