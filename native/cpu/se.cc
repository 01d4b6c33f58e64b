// Fused squeeze & excitation kernels (cSE, sSE, scSE with add/max/mul aggregation), NHWC float32.
//
// Forward, per image: pass 1 reads U once and produces both squeezes (per-channel sums for cSE,
// per-pixel projections w·U_ij + b for sSE); the channel MLP runs on the C-vector; pass 2 reads U
// again and writes Y. Backward, per image: pass 1 reads (U, dY) and reduces the gradients of both
// excitations (per channel and per pixel) and the sSE weights; the MLP backward runs; pass 2 reads
// (U, dY) again and writes dU. Images are processed one at a time so that the second pass over an
// image finds it in the (large) last-level cache, and in an order that starts with the images the
// op before most likely left in cache (forward: see SeForward; backward: last to first, as dY's
// producers mostly write in order). Measured in the SD-Net scSE step: SE kernels 55 -> 49-51 ms.
// The forward passes are batchNormActSe's (cpu/se_forward.h) without its normalization.
// Per-element math lives in math/se.h.
#include <cmath>
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/dispatch.h"
#include "core/registry.h"
#include "cpu/se_block.h"
#include "cpu/se_forward.h"

namespace scse {
namespace {

using namespace scse::sekern;

// ---- backward -------------------------------------------------------------------------------------

template <int M>
void backwardImage(const SeArgs& a, const float* U, const float* dY, const float* z, const float* hpre, const float* s,
                   const float* q, const SeGrads& g, int64_t n, std::vector<double>& wsqAcc, double& bsqAcc) {
  const int64_t C = a.C, P = a.P;
  const int nt = omp_get_max_threads();
  std::vector<double> dsPart(seUsesChannel(M) ? size_t(nt) * C : 0, 0.0);
  std::vector<double> wsqPart(seUsesSpatial(M) ? size_t(nt) * C : 0, 0.0);
  std::vector<double> bsqPart(size_t(nt), 0.0);
  std::vector<float> dqpre(seUsesSpatial(M) ? P : 0);
#pragma omp parallel if (P * C > kParallelGrain)
  {
    int t = omp_get_thread_num();
    std::vector<float> dsBlock(seUsesChannel(M) ? C : 0, 0.0f), wBlock(seUsesSpatial(M) ? C : 0, 0.0f);
    double* dsAcc = seUsesChannel(M) ? dsPart.data() + size_t(t) * C : nullptr;
    double* wAcc = seUsesSpatial(M) ? wsqPart.data() + size_t(t) * C : nullptr;
    int64_t rows = 0;
    double bsqLocal = 0.0;
    float* dsb = dsBlock.data();
    float* wb = wBlock.data();
    // Finishes one pixel of the sSE path: its pre-sigmoid gradient and its share of the conv grads.
    auto spatialRow = [&](int64_t p, float dq) {
      const float dpre = dq * q[p] * (1.0f - q[p]);
      dqpre[p] = dpre;
      bsqLocal += dpre;
      return dpre;
    };
#pragma omp for schedule(static)
    for (int64_t g = 0; g < (P + 3) / 4; g++) {
      const int64_t p = g * 4;
      if (p + 4 <= P) {  // four pixels per step, as in the forward
        const float *u0 = U + p * C, *u1 = u0 + C, *u2 = u1 + C, *u3 = u2 + C;
        const float *y0 = dY + p * C, *y1 = y0 + C, *y2 = y1 + C, *y3 = y2 + C;
        const float q0 = seUsesSpatial(M) ? q[p] : 0.0f, q1 = seUsesSpatial(M) ? q[p + 1] : 0.0f;
        const float q2 = seUsesSpatial(M) ? q[p + 2] : 0.0f, q3 = seUsesSpatial(M) ? q[p + 3] : 0.0f;
        float dq0 = 0.0f, dq1 = 0.0f, dq2 = 0.0f, dq3 = 0.0f;
#pragma omp simd reduction(+ : dq0, dq1, dq2, dq3)
        for (int64_t c = 0; c < C; c++) {
          const float sc = seUsesChannel(M) ? s[c] : 0.0f;
          SeGrad e0 = seGrad<M>(u0[c], sc, q0, y0[c]), e1 = seGrad<M>(u1[c], sc, q1, y1[c]);
          SeGrad e2 = seGrad<M>(u2[c], sc, q2, y2[c]), e3 = seGrad<M>(u3[c], sc, q3, y3[c]);
          if (seUsesChannel(M)) dsb[c] += (e0.ds + e1.ds) + (e2.ds + e3.ds);
          dq0 += e0.dq, dq1 += e1.dq, dq2 += e2.dq, dq3 += e3.dq;
        }
        if (seUsesSpatial(M)) {
          const float d0 = spatialRow(p, dq0), d1 = spatialRow(p + 1, dq1);
          const float d2 = spatialRow(p + 2, dq2), d3 = spatialRow(p + 3, dq3);
#pragma omp simd
          for (int64_t c = 0; c < C; c++) wb[c] += (d0 * u0[c] + d1 * u1[c]) + (d2 * u2[c] + d3 * u3[c]);
        }
        rows += 4;
      } else {
        for (int64_t r = p; r < P; r++, rows++) {
          const float* u = U + r * C;
          const float* dy = dY + r * C;
          const float qr = seUsesSpatial(M) ? q[r] : 0.0f;
          float dq = 0.0f;
#pragma omp simd reduction(+ : dq)
          for (int64_t c = 0; c < C; c++) {
            SeGrad e = seGrad<M>(u[c], seUsesChannel(M) ? s[c] : 0.0f, qr, dy[c]);
            if (seUsesChannel(M)) dsb[c] += e.ds;
            dq += e.dq;
          }
          if (seUsesSpatial(M)) {
            const float d = spatialRow(r, dq);
#pragma omp simd
            for (int64_t c = 0; c < C; c++) wb[c] += d * u[c];
          }
        }
      }
      if (rows >= kFlushRows) {
        if (seUsesChannel(M))
          for (int64_t c = 0; c < C; c++) dsAcc[c] += dsb[c], dsb[c] = 0.0f;
        if (seUsesSpatial(M))
          for (int64_t c = 0; c < C; c++) wAcc[c] += wb[c], wb[c] = 0.0f;
        rows = 0;
      }
    }
    bsqPart[t] = bsqLocal;
    if (seUsesChannel(M))
      for (int64_t c = 0; c < C; c++) dsAcc[c] += dsBlock[c];
    if (seUsesSpatial(M))
      for (int64_t c = 0; c < C; c++) wAcc[c] += wBlock[c];
  }
  std::vector<float> dz(C, 0.0f);
  if (seUsesChannel(M)) {
    std::vector<double> ds(C, 0.0);
    for (int k = 0; k < nt; k++)
      for (int64_t c = 0; c < C; c++) ds[c] += dsPart[size_t(k) * C + c];
    mlpBackward(a, z, hpre, s, ds.data(), g.dw1, g.db1, g.dw2, g.db2, dz.data());
  }
  if (seUsesSpatial(M)) {
    for (int k = 0; k < nt; k++) {
      for (int64_t c = 0; c < C; c++) wsqAcc[c] += wsqPart[size_t(k) * C + c];
      bsqAcc += bsqPart[k];
    }
  }
  const float invP = 1.0f / float(P);
  for (int64_t c = 0; c < C; c++) dz[c] *= invP;  // z is a mean over the P pixels
  float* dU = g.dU + n * P * C;
  writeRowsBackward(P, C, dU, [&](int64_t p, float* du) {
    const float* u = U + p * C;
    const float* dy = dY + p * C;
    const float qp = seUsesSpatial(M) ? q[p] : 0.0f;
    const float dqp = seUsesSpatial(M) ? dqpre[p] : 0.0f;
#pragma omp simd
    for (int64_t c = 0; c < C; c++) {
      float v = seGrad<M>(u[c], seUsesChannel(M) ? s[c] : 0.0f, qp, dy[c]).du;
      if (seUsesSpatial(M)) v += dqp * a.wsq[c];
      if (seUsesChannel(M)) v += dz[c];
      du[c] = v;
    }
  });
}


#ifdef SCSE_HAVE_CUDA
cudaops::SeTensors cudaArgs(const SeInputs& in) {
  cudaops::SeTensors t;
  t.mode = in.a.mode, t.N = in.a.N, t.H = in.a.H, t.W = in.a.W, t.C = in.a.C, t.Cr = in.a.Cr;
  t.x = in.x, t.w1 = in.w1, t.b1 = in.b1, t.w2 = in.w2, t.b2 = in.b2, t.wsq = in.wsq, t.bsq = in.bsq;
  return t;
}
#endif


// seForward(mode, x, w1, b1, w2, b2, wsq, bsq) -> [y, z [N,C], hpre [N,Cr], s [N,C], q [N,H,W]]
Napi::Value SeForward(const Napi::CallbackInfo& info) {
  SeInputs in = readArgs(info, 0, "seForward");
  const std::string name = std::string("seForward ") + modeName(in.a.mode);
  SCSE_ON_CUDA(deviceOf(name.c_str(), {{"x", in.x}, {"fc1.weight", in.w1}, {"fc1.bias", in.b1}, {"fc2.weight", in.w2},
                                       {"fc2.bias", in.b2}, {"conv.weight", in.wsq}, {"conv.bias", in.bsq}}),
               cudaops::seForward(info.Env(), cudaArgs(in), [&](int, int64_t n) { nonFinite(name, n); }));
  NTensor* x = in.x;
  SeArgs a = hostArgs(in);
  Napi::Env env = info.Env();
  int64_t Cr = std::max<int64_t>(a.Cr, 1);
  Napi::Object y = NTensor::New(env, x->shape(), DType::F32);
  Napi::Object z = NTensor::New(env, {a.N, a.C}, DType::F32);
  Napi::Object h = NTensor::New(env, {a.N, Cr}, DType::F32);
  Napi::Object s = NTensor::New(env, {a.N, a.C}, DType::F32);
  Napi::Object q = NTensor::New(env, {a.N, a.H, a.W}, DType::F32);
  float *Y = NTensor::Unwrap(y)->f32(), *Z = NTensor::Unwrap(z)->f32(), *Hp = NTensor::Unwrap(h)->f32();
  float *S = NTensor::Unwrap(s)->f32(), *Q = NTensor::Unwrap(q)->f32();
  const float* U = x->f32();
  const Chan id{};  // no normalization: u = x
  // Image order: the SE input often comes from batchNormAct, whose second pass walks each thread's
  // static chunk of pixels from its end, so the images at the starts of the chunks (0 and 2 of 4 on
  // 2 threads) are the ones still cached: those first, then the others.
  const std::vector<int64_t> order = cachedImageOrder(a.N, false);
  int64_t bad = -1;
  dispatch(a.mode, [&](auto m) {
    // the squeeze and apply passes of batchNormActSe's forward, without its normalization
    bad = squeezeApplyImages<NormAct::None, decltype(m)::value, false>(a, U, id, order, Z, Hp, S, Q, Y);
  });
  if (bad >= 0) nonFinite(name, bad);
  return arrayOf(env, {y, z, h, s, q});
}

// seBackward(mode, x, w1, b1, w2, b2, wsq, bsq, dy, z, hpre, s, q)
//   -> [dx, dw1, db1, dw2, db2, dwsq, dbsq] (entries null where the block has no such parameter)
Napi::Value SeBackward(const Napi::CallbackInfo& info) {
  SeInputs in = readArgs(info, 0, "seBackward");
  NTensor* x = in.x;
  const SeArgs& shapes = in.a;
  std::string name = std::string("seBackward ") + modeName(shapes.mode);
  const char* nm = name.c_str();
  NTensor* dy = tensorArg(info, 8, nm, "dy");
  expectSameShape(x, dy, nm, "x", "dy");
  int64_t Cr = std::max<int64_t>(shapes.Cr, 1);
  const SeSaved sv = savedArgs(info, 9, shapes, nm);
  NTensor *z = sv.z, *h = sv.hpre, *s = sv.s, *q = sv.q;
  SCSE_ON_CUDA(deviceOf(nm, {{"x", x}, {"fc1.weight", in.w1}, {"fc1.bias", in.b1}, {"fc2.weight", in.w2}, {"fc2.bias", in.b2},
                             {"conv.weight", in.wsq}, {"conv.bias", in.bsq}, {"dy", dy}, {"z", z}, {"hpre", h}, {"s", s},
                             {"q", q}}),
               cudaops::seBackward(info.Env(), cudaArgs(in), dy, z, h, s, q));
  SeArgs a = hostArgs(in);
  Napi::Env env = info.Env();
  Napi::Object dx = NTensor::New(env, x->shape(), DType::F32);
  const SeParamGrads pg = paramGrads(env, a);
  SeGrads g{NTensor::Unwrap(dx)->f32(), pg.ptr(0), pg.ptr(1), pg.ptr(2), pg.ptr(3), pg.ptr(4), pg.ptr(5)};
  std::vector<double> wsqAcc(a.C, 0.0);
  double bsqAcc = 0;
  const float* U = x->f32();
  const float* dY = dy->f32();
  dispatch(a.mode, [&](auto m) {
    for (int64_t n = a.N - 1; n >= 0; n--) {
      int64_t off = n * a.P * a.C;
      backwardImage<decltype(m)::value>(a, U + off, dY + off, z->f32() + n * a.C, h->f32() + n * Cr, s->f32() + n * a.C,
                                        q->f32() + n * a.P, g, n, wsqAcc, bsqAcc);
    }
  });
  if (seUsesSpatial(a.mode)) {
    for (int64_t c = 0; c < a.C; c++) g.dwsq[c] = float(wsqAcc[c]);
    g.dbsq[0] = float(bsqAcc);
  }
  return arrayOf(env, {dx, pg.v[0], pg.v[1], pg.v[2], pg.v[3], pg.v[4], pg.v[5]});
}

}  // namespace

void registerSe(Napi::Env, Napi::Object exports) {
  SCSE_EXPORT(exports, "seForward", SeForward);
  SCSE_EXPORT(exports, "seBackward", SeBackward);
}

}  // namespace scse