// Batch normalization fused with its activation, over channel-concatenated NHWC inputs (CPU):
//   batchNormActTrain(xs, gamma, beta, runningMean?, runningVar?, momentum, eps, act, slope?)
//       -> [y, mean, var]
//   batchNormActInfer(xs, gamma, beta, mean, var, eps, act, slope?) -> y
//   batchNormActBackward(xs, mean, var, gamma, beta, dy, eps, globalStats, act, slope?)
//       -> [dxs[0] .. dxs[k-1], dgamma, dbeta, dslope | null]
// y = act(gamma·(x − mean)/sqrt(var + eps) + beta) with x = concat(xs) along channels, act =
// none (0), ReLU (1) or PReLU (2; slope [1] or [C]). mean/var are the batch statistics (var
// biased, as batchNormTrain's); the running ones are updated as batchNorm does (PyTorch's rule).
//
// Why fused: an activation after a batch norm costs a full read and write of a tensor as large as
// the norm's, its backward another two reads and a write, and the pre-activation tensor stays
// alive for the backward. Here the activation is applied inside the normalizing pass, and the
// backward recomputes z = BN(x) from x instead of storing it. And since the statistics are per
// channel, BN(concat(xs)) never needs the concatenated input: QuickNAT's dense blocks skip the
// concat and, in the backward, the split.
//
// Passes: forward = statistics (read x) + normalize (read x, write y); backward = sums (read x,
// dy) + dx (read x, dy, write dxs). Each second pass walks every thread's first-pass chunk from
// its end (parallelForReverse), so the lines read last are reused while still cached.
//
// CPU only: on CUDA, ops/norm_act.ts composes concat, cuDNN's batch norm and the activation.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/dispatch.h"
#include "core/registry.h"
#include "cpu/parallel.h"
#include "cpu/norm_act.h"
#include "cpu/norm_args.h"
#include "math/norm.h"

namespace scse {
namespace {

using math::NormAct;
using normact::actArgs;
using normact::Chan;
using normact::scales;
using normact::withAct;

// Pixels summed in float before being added to the per-thread double sums: short enough that the
// float partial loses nothing measurable, long enough that the double adds are rare.
constexpr int64_t kBlock = 64;

struct Part {
  const float* x;
  int64_t C, off;  // channels, first channel in the concatenation
};

struct Problem {
  std::vector<NTensor*> xs;
  std::vector<Part> parts;
  Shape shape;        // of the concatenation [N, H, W, C]
  int64_t P = 0, C = 0;  // pixels N·H·W, channels
};

// xs: non-empty NHWC tensors agreeing in N, H, W.
Problem problemArg(const Napi::CallbackInfo& info, const char* op) {
  Problem pr;
  pr.xs = tensorListArg(info, 0, op, "xs");
  if (pr.xs.empty()) fail(op, "argument 'xs' must be a non-empty array of tensors");
  const Shape& s0 = pr.xs[0]->shape();
  for (size_t i = 0; i < pr.xs.size(); i++) {
    const Shape& s = pr.xs[i]->shape();
    std::string name = "xs[" + std::to_string(i) + "]";
    if (s.size() != 4) fail(op, "argument '" + name + "' expected rank 4 (NHWC), got shape " + shapeStr(s));
    for (auto d : s) {
      if (d <= 0) fail(op, "argument '" + name + "' must not be empty, got shape " + shapeStr(s));
    }
    if (s[0] != s0[0] || s[1] != s0[1] || s[2] != s0[2]) {
      fail(op, "argument '" + name + "' " + shapeStr(s) + " must match 'xs[0]' " + shapeStr(s0) + " in N, H and W");
    }
    pr.parts.push_back({pr.xs[i]->f32(), s[3], pr.C});
    pr.C += s[3];
  }
  pr.P = s0[0] * s0[1] * s0[2];
  pr.shape = {s0[0], s0[1], s0[2], pr.C};
  return pr;
}

void channelsArg(const NTensor* t, const Problem& pr, const char* op, const char* arg) {
  if (t->shape() != Shape{pr.C}) {
    fail(op, std::string("argument '") + arg + "' expected shape [" + std::to_string(pr.C) + "] (the channels of concat(xs) " +
                 shapeStr(pr.shape) + "), got " + shapeStr(t->shape()));
  }
}

void refuseCuda(const char* op, const Problem& pr, std::initializer_list<NamedTensor> more) {
  Device d = deviceOf(op, "xs", pr.xs);
  Device e = deviceOf(op, more);
  if (d.isCuda() || e.isCuda()) {
    fail(op, "runs on the CPU only; for CUDA tensors use batchNormAct() from TypeScript, which composes concat, batchNorm "
             "and the activation there");
  }
}

int64_t blocks(int64_t P) { return (P + kBlock - 1) / kBlock; }

// Per-thread double sums over blocks of pixels, for the statistics and the backward's sums:
// `row(p, part, float* acc)` adds pixel p of one part into acc (that part's `nAcc` accumulator
// rows, each C long, offset by part.off). Returns the per-thread sums reduced in thread order.
template <class Row>
std::vector<double> blockSums(const Problem& pr, int nAcc, Row row) {
  const int64_t C = pr.C, nb = blocks(pr.P);
  const int nt = omp_get_max_threads();
  std::vector<double> part(size_t(nt) * nAcc * C, 0.0);
#pragma omp parallel if (pr.P * C > kParallelGrain)
  {
    double* acc = part.data() + size_t(omp_get_thread_num()) * nAcc * C;
    std::vector<float> f(size_t(nAcc) * C);
#pragma omp for schedule(static)
    for (int64_t b = 0; b < nb; b++) {
      std::fill(f.begin(), f.end(), 0.0f);
      const int64_t p1 = std::min(pr.P, (b + 1) * kBlock);
      for (const Part& q : pr.parts) {
        for (int64_t p = b * kBlock; p < p1; p++) row(p, q, f.data());
      }
      for (size_t k = 0; k < f.size(); k++) acc[k] += f[k];
    }
  }
  std::vector<double> sum(size_t(nAcc) * C, 0.0);
  for (int t = 0; t < nt; t++) {
    for (size_t k = 0; k < sum.size(); k++) sum[k] += part[size_t(t) * nAcc * C + k];
  }
  return sum;
}

// Second passes: `row(p, part)` for every pixel, each thread over its blockSums chunk backwards.
template <class Row>
void blockRowsBackward(const Problem& pr, Row row) {
  const int64_t nb = blocks(pr.P);
  parallelForReverse(
      nb, kBlock * pr.C,
      [&](int64_t b) {
        const int64_t p0 = b * kBlock, p1 = std::min(pr.P, p0 + kBlock);
        for (int64_t p = p1 - 1; p >= p0; p--) {
          for (const Part& q : pr.parts) row(p, q);
        }
      },
      [] {});
}




// ---- row kernels: one pixel of one part (n channels) ---------------------------------------------
inline void statsRow(const float* __restrict x, const float* __restrict k, float* __restrict s, float* __restrict q, int64_t n) {
  for (int64_t c = 0; c < n; c++) {
    float d = x[c] - k[c];
    s[c] += d;
    q[c] += d * d;
  }
}

template <NormAct A>
inline void forwardRow(const float* __restrict x, float* __restrict y, Chan ch, int64_t n) {
  const float *__restrict m = ch.mean, *__restrict sc = ch.scale, *__restrict b = ch.beta, *__restrict a = ch.slope;
  for (int64_t c = 0; c < n; c++) y[c] = math::normActForward<A>(math::bnPre(x[c], m[c], sc[c], b[c]), a[c]);
}

// Σ g, Σ g·(x − mean) and (PReLU) Σ dy·z·[z ≤ 0] with g = dL/dz.
template <NormAct A>
inline void gradSumsRow(const float* __restrict x, const float* __restrict dy, Chan ch, float* __restrict sg, float* __restrict sgx,
                        float* __restrict sa, int64_t n) {
  const float *__restrict m = ch.mean, *__restrict sc = ch.scale, *__restrict b = ch.beta, *__restrict a = ch.slope;
  for (int64_t c = 0; c < n; c++) {
    float z = math::bnPre(x[c], m[c], sc[c], b[c]);
    float g = math::normActGrad<A>(z, a[c], dy[c]);
    sg[c] += g;
    sgx[c] += g * (x[c] - m[c]);
    if (A == NormAct::Prelu) sa[c] += z > 0.0f ? 0.0f : z * dy[c];
  }
}

// dx = scale·g + B·(x − mean) + D.
template <NormAct A>
inline void dxRow(const float* __restrict x, const float* __restrict dy, Chan ch, const float* __restrict B, const float* __restrict D,
                  float* __restrict dx, int64_t n) {
  const float *__restrict m = ch.mean, *__restrict sc = ch.scale, *__restrict b = ch.beta, *__restrict a = ch.slope;
  for (int64_t c = 0; c < n; c++) {
    float g = math::normActGrad<A>(math::bnPre(x[c], m[c], sc[c], b[c]), a[c], dy[c]);
    dx[c] = sc[c] * g + B[c] * (x[c] - m[c]) + D[c];
  }
}

// Batch mean and biased variance per channel. Sums of (x − K) and (x − K)² with K = the first
// pixel's values: E[x²] − E[x]² then does not cancel catastrophically when |mean| ≫ std.
void statistics(const Problem& pr, float* mean, float* var) {
  const int64_t C = pr.C;
  std::vector<float> K(static_cast<size_t>(C));
  for (const Part& q : pr.parts) std::copy(q.x, q.x + q.C, K.begin() + q.off);
  std::vector<double> s = blockSums(pr, 2, [&](int64_t p, const Part& q, float* f) {
    statsRow(q.x + p * q.C, K.data() + q.off, f + q.off, f + C + q.off, q.C);
  });
  const double M = double(pr.P);
  for (int64_t c = 0; c < C; c++) {
    double dm = s[c] / M;
    mean[c] = float(K[c] + dm);
    var[c] = float(std::max(0.0, s[C + c] / M - dm * dm));
  }
}

// y = act(BN(x)) with the given per-channel statistics.
void normalize(const Problem& pr, const Chan& ch, NormAct act, float* y) {
  withAct(act, [&](auto A) {
    blockRowsBackward(pr, [&](int64_t p, const Part& q) { forwardRow<A()>(q.x + p * q.C, y + p * pr.C + q.off, ch.at(q.off), q.C); });
  });
}

// ---- ops ---------------------------------------------------------------------------------------
Napi::Value BatchNormActTrain(const Napi::CallbackInfo& info) {
  const char* op = "batchNormAct";
  Problem pr = problemArg(info, op);
  NTensor* gamma = tensorArg(info, 1, op, "gamma");
  NTensor* beta = tensorArg(info, 2, op, "beta");
  NTensor* rm = tensorArg(info, 3, op, "runningMean", DType::F32, true);
  NTensor* rv = tensorArg(info, 4, op, "runningVar", DType::F32, true);
  double momentum = bnMomentumArg(info, 5, op);
  float eps = bnEpsArg(info, 6, op);
  NTensor* slopeT = nullptr;
  std::vector<float> slope;
  NormAct act = actArgs(info, 7, pr.C, pr.shape, op, &slopeT, &slope);
  channelsArg(gamma, pr, op, "gamma");
  channelsArg(beta, pr, op, "beta");
  if ((rm == nullptr) != (rv == nullptr)) fail(op, "arguments 'runningMean' and 'runningVar' must be given together");
  if (rm) {
    channelsArg(rm, pr, op, "runningMean");
    channelsArg(rv, pr, op, "runningVar");
  }
  if (pr.P < 2) fail(op, "training needs more than one value per channel (N*H*W > 1), got concat(xs) of shape " + shapeStr(pr.shape));
  refuseCuda(op, pr, {{"gamma", gamma}, {"beta", beta}, {"runningMean", rm}, {"runningVar", rv}, {"slope", slopeT}});

  const int64_t C = pr.C;
  Napi::Env env = info.Env();
  Napi::Object yo = NTensor::New(env, pr.shape, DType::F32);
  Napi::Object mo = NTensor::New(env, {C}, DType::F32);
  Napi::Object vo = NTensor::New(env, {C}, DType::F32);
  float *mean = NTensor::Unwrap(mo)->f32(), *var = NTensor::Unwrap(vo)->f32();
  statistics(pr, mean, var);
  std::vector<float> sc = scales(gamma->f32(), var, eps, C);
  normalize(pr, {mean, sc.data(), beta->f32(), slope.data()}, act, NTensor::Unwrap(yo)->f32());

  if (rm) bnUpdateRunning(rm, rv, mean, var, C, momentum, pr.P);
  return arrayOf(env, {yo, mo, vo});
}

Napi::Value BatchNormActInfer(const Napi::CallbackInfo& info) {
  const char* op = "batchNormAct";
  Problem pr = problemArg(info, op);
  NTensor* gamma = tensorArg(info, 1, op, "gamma");
  NTensor* beta = tensorArg(info, 2, op, "beta");
  NTensor* mean = tensorArg(info, 3, op, "runningMean");
  NTensor* var = tensorArg(info, 4, op, "runningVar");
  float eps = bnEpsArg(info, 5, op);
  NTensor* slopeT = nullptr;
  std::vector<float> slope;
  NormAct act = actArgs(info, 6, pr.C, pr.shape, op, &slopeT, &slope);
  for (const NamedTensor& t : {NamedTensor{"gamma", gamma}, {"beta", beta}, {"runningMean", mean}, {"runningVar", var}}) {
    channelsArg(t.second, pr, op, t.first);
  }
  refuseCuda(op, pr, {{"gamma", gamma}, {"beta", beta}, {"runningMean", mean}, {"runningVar", var}, {"slope", slopeT}});

  Napi::Object yo = NTensor::New(info.Env(), pr.shape, DType::F32);
  std::vector<float> sc = scales(gamma->f32(), var->f32(), eps, pr.C);
  normalize(pr, {mean->f32(), sc.data(), beta->f32(), slope.data()}, act, NTensor::Unwrap(yo)->f32());
  return yo;
}

Napi::Value BatchNormActBackward(const Napi::CallbackInfo& info) {
  const char* op = "batchNormActBackward";
  Problem pr = problemArg(info, op);
  NTensor* meanT = tensorArg(info, 1, op, "mean");
  NTensor* varT = tensorArg(info, 2, op, "var");
  NTensor* gamma = tensorArg(info, 3, op, "gamma");
  NTensor* betaT = tensorArg(info, 4, op, "beta");
  NTensor* dyT = tensorArg(info, 5, op, "dy");
  float eps = bnEpsArg(info, 6, op);
  bool global = boolArg(info, 7, op, "globalStats");
  NTensor* slopeT = nullptr;
  std::vector<float> slope;
  NormAct act = actArgs(info, 8, pr.C, pr.shape, op, &slopeT, &slope);
  for (const NamedTensor& t : {NamedTensor{"mean", meanT}, {"var", varT}, {"gamma", gamma}, {"beta", betaT}}) {
    channelsArg(t.second, pr, op, t.first);
  }
  if (dyT->shape() != pr.shape) {
    fail(op, "argument 'dy' expected shape " + shapeStr(pr.shape) + " (concat(xs)), got " + shapeStr(dyT->shape()));
  }
  refuseCuda(op, pr, {{"mean", meanT}, {"var", varT}, {"gamma", gamma}, {"beta", betaT}, {"dy", dyT}, {"slope", slopeT}});

  const int64_t C = pr.C;
  const float *mean = meanT->f32(), *dy = dyT->f32();
  std::vector<float> sc = scales(gamma->f32(), varT->f32(), eps, C);
  const float* scale = sc.data();
  const Chan ch{mean, scale, betaT->f32(), slope.data()};
  const int nAcc = act == NormAct::Prelu ? 3 : 2;
  std::vector<double> s;
  withAct(act, [&](auto A) {
    s = blockSums(pr, nAcc, [&](int64_t p, const Part& q, float* f) {
      float* sa = A() == NormAct::Prelu ? f + 2 * C + q.off : nullptr;
      gradSumsRow<A()>(q.x + p * q.C, dy + p * C + q.off, ch.at(q.off), f + q.off, f + C + q.off, sa, q.C);
    });
  });

  // dx = scale·g + B·(x − mean) + D: B = D = 0 with fixed (global) statistics
  std::vector<float> B(size_t(C), 0.0f), D(size_t(C), 0.0f);
  const float* varp = varT->f32();
  if (!global) normact::dxCoefficients(scale, varp, eps, s.data(), s.data() + C, double(pr.P), C, B.data(), D.data());

  Napi::Env env = info.Env();
  std::vector<Napi::Value> outs;
  std::vector<float*> dxs;
  for (const Part& q : pr.parts) {
    Napi::Object o = NTensor::New(env, {pr.shape[0], pr.shape[1], pr.shape[2], q.C}, DType::F32);
    dxs.push_back(NTensor::Unwrap(o)->f32());
    outs.push_back(o);
  }
  const Part* first = pr.parts.data();
  withAct(act, [&](auto A) {
    blockRowsBackward(pr, [&](int64_t p, const Part& q) {
      dxRow<A()>(q.x + p * q.C, dy + p * C + q.off, ch.at(q.off), B.data() + q.off, D.data() + q.off, dxs[size_t(&q - first)] + p * q.C, q.C);
    });
  });

  auto [dgo, dbo] = normact::gammaBetaGrads(env, s.data(), s.data() + C, varp, eps, C);
  outs.push_back(dgo);
  outs.push_back(dbo);
  outs.push_back(act == NormAct::Prelu ? normact::slopeGrad(env, slopeT, s.data() + 2 * C, C) : env.Null());
  return arrayOf(env, outs);
}

}  // namespace

namespace normact {
NormAct actArgs(const Napi::CallbackInfo& info, size_t i, int64_t C, const Shape& shape, const char* op, NTensor** slopeOut,
                std::vector<float>* slopes) {
  double a = numberArg(info, i, op, "act");
  if (a != 0 && a != 1 && a != 2) fail(op, "argument 'act' must be 0 (none), 1 (relu) or 2 (prelu), got " + std::to_string(a));
  NormAct act = NormAct(int(a));
  NTensor* slope = tensorArg(info, i + 1, op, "slope", DType::F32, true);
  if (act == NormAct::Prelu) {
    if (!slope) fail(op, "argument 'slope' is required for act 2 (prelu)");
    const Shape& s = slope->shape();
    if (s.size() != 1 || (s[0] != 1 && s[0] != C)) {
      fail(op, "argument 'slope' expected shape [1] or [" + std::to_string(C) + "] (the channels of concat(xs) " +
                   shapeStr(shape) + "), got " + shapeStr(s));
    }
  } else if (slope) {
    fail(op, "argument 'slope' is only for act 2 (prelu), got act " + std::to_string(int(a)));
  }
  slopes->assign(size_t(C), 0.0f);
  if (slope) {
    const float* sp = slope->f32();
    for (int64_t c = 0; c < C; c++) (*slopes)[c] = sp[slope->shape()[0] == 1 ? 0 : c];
  }
  *slopeOut = slope;
  return act;
}

void dxCoefficients(const float* scale, const float* var, float eps, const double* sg, const double* sgx, double count, int64_t C,
                    float* B, float* D) {
  for (int64_t c = 0; c < C; c++) {
    const double rstd2 = 1.0 / (double(var[c]) + eps);
    B[c] = float(-double(scale[c]) * rstd2 * sgx[c] / count);
    D[c] = float(-double(scale[c]) * sg[c] / count);
  }
}

std::pair<Napi::Object, Napi::Object> gammaBetaGrads(Napi::Env env, const double* sg, const double* sgx, const float* var, float eps,
                                                     int64_t C) {
  Napi::Object dgo = NTensor::New(env, {C}, DType::F32), dbo = NTensor::New(env, {C}, DType::F32);
  float *dg = NTensor::Unwrap(dgo)->f32(), *db = NTensor::Unwrap(dbo)->f32();
  for (int64_t c = 0; c < C; c++) {
    dg[c] = float(sgx[c] / std::sqrt(double(var[c]) + eps));  // Σ g·x̂
    db[c] = float(sg[c]);
  }
  return {dgo, dbo};
}

Napi::Value slopeGrad(Napi::Env env, const NTensor* slope, const double* perChannel, int64_t C) {
  Napi::Object o = NTensor::New(env, slope->shape(), DType::F32);
  float* da = NTensor::Unwrap(o)->f32();
  if (slope->shape()[0] == 1) {
    double t = 0;
    for (int64_t c = 0; c < C; c++) t += perChannel[c];
    da[0] = float(t);
  } else {
    for (int64_t c = 0; c < C; c++) da[c] = float(perChannel[c]);
  }
  return o;
}

void batchStatistics(const float* x, int64_t N, int64_t H, int64_t W, int64_t C, float* mean, float* var) {
  Problem pr;
  pr.parts.push_back({x, C, 0});
  pr.shape = {N, H, W, C};
  pr.P = N * H * W, pr.C = C;
  statistics(pr, mean, var);
}
}  // namespace normact

void registerNormAct(Napi::Env, Napi::Object exports) {
  SCSE_EXPORT(exports, "batchNormActTrain", BatchNormActTrain);
  SCSE_EXPORT(exports, "batchNormActInfer", BatchNormActInfer);
  SCSE_EXPORT(exports, "batchNormActBackward", BatchNormActBackward);
}

}  // namespace scse
