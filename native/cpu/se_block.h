// What the fused SE kernels (se.cc) and the batch norm + activation + SE kernels (norm_act_se.cc)
// share on the CPU: the block's arguments and the backward's saved tensors (read and
// shape-checked), the channel MLP forward and backward for one image, the streamed second pass,
// and the zero-filled parameter gradients.
#pragma once
#include <algorithm>
#include <cstring>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "core/check.h"
#include "core/tensor.h"
#include "cpu/parallel.h"
#include "cpu/stream_store.h"
#include "math/se.h"

namespace scse::sekern {

using namespace scse::math;

struct SeArgs {
  int mode;
  int64_t N, H, W, C, Cr, P;  // P = H*W
  const float *w1 = nullptr, *b1 = nullptr, *w2 = nullptr, *b2 = nullptr;  // channel MLP (fc1, fc2)
  const float *wsq = nullptr, *bsq = nullptr;                              // spatial 1x1 conv
};

// Channel sums accumulate in float over blocks of rows, then in double, so long images do not
// lose precision while the inner loop stays vectorised.
constexpr int64_t kFlushRows = 64;

// ---- channel MLP: s = σ(fc2(relu(fc1(z)))) for one image ---------------------------------------
inline void mlpForward(const SeArgs& a, const float* z, float* hpre, float* s) {
  for (int64_t j = 0; j < a.Cr; j++) {
    float acc = a.b1 ? a.b1[j] : 0.0f;
    const float* wr = a.w1 + j * a.C;
    for (int64_t c = 0; c < a.C; c++) acc += wr[c] * z[c];
    hpre[j] = acc;
  }
  for (int64_t c = 0; c < a.C; c++) {
    float acc = a.b2 ? a.b2[c] : 0.0f;
    const float* wr = a.w2 + c * a.Cr;
    for (int64_t j = 0; j < a.Cr; j++) acc += wr[j] * seHiddenRelu(hpre[j]);
    s[c] = sigmoid(acc);
  }
}

// Gradients of the MLP for one image given ds (∂L/∂s); accumulates parameter grads, writes dz.
inline void mlpBackward(const SeArgs& a, const float* z, const float* hpre, const float* s, const double* ds, float* dw1,
                        float* db1, float* dw2, float* db2, float* dz) {
  std::vector<float> dpre(a.C), dh(a.Cr, 0.0f);
  for (int64_t c = 0; c < a.C; c++) dpre[c] = float(ds[c]) * s[c] * (1.0f - s[c]);
  for (int64_t c = 0; c < a.C; c++) {
    float* gw = dw2 + c * a.Cr;
    const float* wr = a.w2 + c * a.Cr;
    for (int64_t j = 0; j < a.Cr; j++) {
      gw[j] += dpre[c] * seHiddenRelu(hpre[j]);
      dh[j] += wr[j] * dpre[c];
    }
    if (db2) db2[c] += dpre[c];
  }
  for (int64_t j = 0; j < a.Cr; j++) dh[j] = seHiddenReluGrad(hpre[j], dh[j]);
  for (int64_t c = 0; c < a.C; c++) dz[c] = 0.0f;
  for (int64_t j = 0; j < a.Cr; j++) {
    float* gw = dw1 + j * a.C;
    const float* wr = a.w1 + j * a.C;
    for (int64_t c = 0; c < a.C; c++) {
      gw[c] += dh[j] * z[c];
      dz[c] += wr[c] * dh[j];
    }
    if (db1) db1[j] += dh[j];
  }
}

// ---- second passes ------------------------------------------------------------------------------
// Writes out[p, 0..C) = row(p, dst) for every pixel p: the same per-thread chunks of four-pixel
// groups as pass 1, walked backwards, so the inputs pass 1 read last come from cache first (see
// parallelForReverse). Outputs too big for the cache are streamed (stream_store.h): `row` then
// writes into an L1 buffer that is copied out with streaming stores.
template <typename Row>
inline void writeRowsBackward(int64_t P, int64_t C, float* out, Row&& row) {
  const bool stream = canStream(out, C, P * C * 4);
  parallelForReverse(
      (P + 3) / 4, 4 * C,
      [&](int64_t g) {
        alignas(64) float buf[kStreamRowMax];
        for (int64_t p = std::min(P, g * 4 + 4) - 1; p >= g * 4; p--) {
          row(p, stream ? buf : out + p * C);
          if (stream) streamRow(out + p * C, buf, C);
        }
      },
      [&] {
        if (stream) streamFence();
      });
}

struct SeGrads {
  float *dU, *dw1, *db1, *dw2, *db2, *dwsq, *dbsq;
};

// ---- argument handling ------------------------------------------------------------------------------
[[noreturn]] inline void nonFinite(const std::string& op, int64_t image) {
  fail(op, "argument 'x' (or a parameter) contains NaN or Inf in image " + std::to_string(image));
}

inline const char* modeName(int m) {
  static const char* names[] = {"cSE", "sSE", "scSE(add)", "scSE(max)", "scSE(mul)"};
  return names[m];
}

// The checked tensor arguments of a block (null where the block has no such parameter).
struct SeInputs {
  SeArgs a{};  // sizes and mode; pointers filled by hostArgs()
  NTensor *x = nullptr, *w1 = nullptr, *b1 = nullptr, *w2 = nullptr, *b2 = nullptr, *wsq = nullptr, *bsq = nullptr;
};

// Reads (mode, x, fc1.w, fc1.b, fc2.w, fc2.b, conv.w, conv.b) starting at `i`, checking shapes.
inline SeInputs readArgs(const Napi::CallbackInfo& info, size_t i, const char* op) {
  SeInputs in;
  SeArgs& a = in.a;
  a.mode = int(intArg(info, i, op, "mode"));
  if (a.mode < 0 || a.mode > 4) fail(op, "argument 'mode' must be 0..4 (cse, sse, add, max, mul), got " + std::to_string(a.mode));
  std::string name = std::string(op) + " " + modeName(a.mode);
  const char* nm = name.c_str();
  NTensor* x = tensorArg(info, i + 1, nm, "x");
  expectRank(x, 4, nm, "x");
  a.N = x->shape()[0], a.H = x->shape()[1], a.W = x->shape()[2], a.C = x->shape()[3], a.P = a.H * a.W;
  if (a.C < 1 || a.P < 1) fail(nm, "argument 'x' must have non-empty H, W and C, got " + shapeStr(x->shape()));
  if (seUsesChannel(a.mode)) {
    NTensor* w1 = tensorArg(info, i + 2, nm, "fc1.weight");
    if (w1->shape().size() != 2 || w1->shape()[1] != a.C || w1->shape()[0] < 1) {
      fail(nm, "argument 'fc1.weight' expected shape [C/r, " + std::to_string(a.C) + "], got " + shapeStr(w1->shape()));
    }
    a.Cr = w1->shape()[0];
    NTensor* b1 = tensorArg(info, i + 3, nm, "fc1.bias", DType::F32, true);
    NTensor* w2 = tensorArg(info, i + 4, nm, "fc2.weight");
    expectShape(w2, {a.C, a.Cr}, nm, "fc2.weight");
    NTensor* b2 = tensorArg(info, i + 5, nm, "fc2.bias", DType::F32, true);
    if (bool(b1) != bool(b2)) fail(nm, "arguments 'fc1.bias' and 'fc2.bias' must both be given or both be null");
    if (b1) expectShape(b1, {a.Cr}, nm, "fc1.bias"), expectShape(b2, {a.C}, nm, "fc2.bias");
    in.w1 = w1, in.w2 = w2, in.b1 = b1, in.b2 = b2;
  }
  if (seUsesSpatial(a.mode)) {
    NTensor* ws = tensorArg(info, i + 6, nm, "conv.weight");
    expectShape(ws, {1, 1, 1, a.C}, nm, "conv.weight");
    NTensor* bs = tensorArg(info, i + 7, nm, "conv.bias");
    expectShape(bs, {1}, nm, "conv.bias");
    in.wsq = ws, in.bsq = bs;
  }
  in.x = x;
  return in;
}

// The host pointers of a CPU block's parameters.
inline SeArgs hostArgs(const SeInputs& in) {
  SeArgs a = in.a;
  auto p = [](const NTensor* t) -> const float* { return t ? t->f32() : nullptr; };
  a.w1 = p(in.w1), a.b1 = p(in.b1), a.w2 = p(in.w2), a.b2 = p(in.b2), a.wsq = p(in.wsq), a.bsq = p(in.bsq);
  return a;
}

template <typename F>
inline void dispatch(int mode, F&& f) {
  switch (mode) {
    case kSeCse: f(std::integral_constant<int, kSeCse>{}); break;
    case kSeSse: f(std::integral_constant<int, kSeSse>{}); break;
    case kSeAdd: f(std::integral_constant<int, kSeAdd>{}); break;
    case kSeMax: f(std::integral_constant<int, kSeMax>{}); break;
    default: f(std::integral_constant<int, kSeMul>{}); break;
  }
}

// What a backward gets back from its forward (seForward / batchNormActSeTrain): z [N,C], hpre
// [N,max(Cr,1)], s [N,C], q [N,H,W], read from arguments i .. i+3 and shape-checked.
struct SeSaved {
  NTensor *z = nullptr, *hpre = nullptr, *s = nullptr, *q = nullptr;
};

inline SeSaved savedArgs(const Napi::CallbackInfo& info, size_t i, const SeArgs& a, const char* op) {
  SeSaved v;
  const int64_t Cr = std::max<int64_t>(a.Cr, 1);
  v.z = tensorArg(info, i, op, "z");
  v.hpre = tensorArg(info, i + 1, op, "hpre");
  v.s = tensorArg(info, i + 2, op, "s");
  v.q = tensorArg(info, i + 3, op, "q");
  expectShape(v.z, {a.N, a.C}, op, "z"), expectShape(v.hpre, {a.N, Cr}, op, "hpre");
  expectShape(v.s, {a.N, a.C}, op, "s"), expectShape(v.q, {a.N, a.H, a.W}, op, "q");
  return v;
}

// The gradients of the block's parameters as zero-filled outputs (null where it has no such
// parameter), in the order fc1.weight, fc1.bias, fc2.weight, fc2.bias, conv.weight, conv.bias.
struct SeParamGrads {
  Napi::Value v[6];
  float* ptr(int i) const { return v[i].IsNull() ? nullptr : NTensor::Unwrap(v[i].As<Napi::Object>())->f32(); }
};

inline SeParamGrads paramGrads(Napi::Env env, const SeArgs& a) {
  auto zeros = [&](const Shape& sh) -> Napi::Value {
    Napi::Object o = NTensor::New(env, sh, DType::F32);
    std::memset(NTensor::Unwrap(o)->raw(), 0, size_t(numel(sh)) * 4);
    return o;
  };
  const bool ch = seUsesChannel(a.mode), sp = seUsesSpatial(a.mode), bias = a.b1 != nullptr;
  Napi::Value nul = env.Null();
  return {{ch ? zeros({a.Cr, a.C}) : nul, ch && bias ? zeros({a.Cr}) : nul, ch ? zeros({a.C, a.Cr}) : nul,
           ch && bias ? zeros({a.C}) : nul, sp ? zeros({1, 1, 1, a.C}) : nul, sp ? zeros({1}) : nul}};
}

}  // namespace scse::sekern
