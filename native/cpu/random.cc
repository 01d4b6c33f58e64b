// Random fills (uniform_, normal_) and dropout masks from Philox4x32-10 (math/philox.h). Element
// i of a draw keyed by (seed, stream) depends only on i, so every thread count gives the same
// tensor. philoxRaw exposes the bare generator for known-answer tests.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/dispatch.h"
#include "core/registry.h"
#include "cpu/parallel.h"
#include "math/philox.h"

namespace scse {
namespace {

using math::Philox4;
using math::philoxBlock;

// Work is split into chunks of this many 4-element blocks; the split does not affect values.
constexpr int64_t kBlocksPerChunk = 1024;

uint32_t u32Arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* arg) {
  int64_t v = intArg(info, i, op, arg);
  if (v < 0 || v > int64_t(UINT32_MAX)) {
    fail(op, std::string("argument '") + arg + "' must be an unsigned 32-bit integer, got " + std::to_string(v));
  }
  return uint32_t(v);
}

float finiteArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* arg) {
  double v = numberArg(info, i, op, arg);
  if (!std::isfinite(v)) fail(op, std::string("argument '") + arg + "' must be a finite number, got " + std::to_string(v));
  return float(v);
}

// Calls f(block, values, first, count) for each 4-element block of an n-element draw.
template <typename F>
void forEachBlock(int64_t n, uint32_t seed, uint32_t stream, F&& f) {
  const int64_t blocks = (n + 3) / 4;
  const int64_t chunks = (blocks + kBlocksPerChunk - 1) / kBlocksPerChunk;
  parallelFor(chunks, kBlocksPerChunk * 4 * 8, [&](int64_t c) {
    const int64_t b1 = std::min(blocks, (c + 1) * kBlocksPerChunk);
    for (int64_t b = c * kBlocksPerChunk; b < b1; b++) {
      const Philox4 r = philoxBlock(seed, stream, uint64_t(b));
      const int64_t first = b * 4;
      f(r, first, std::min<int64_t>(4, n - first));
    }
  });
}

// philoxRaw(counter[4], key[2]) -> [u32 x4]
Napi::Value PhiloxRaw(const Napi::CallbackInfo& info) {
  std::vector<int64_t> c = intsArg(info, 0, "philoxRaw", "counter");
  std::vector<int64_t> k = intsArg(info, 1, "philoxRaw", "key");
  if (c.size() != 4) fail("philoxRaw", "argument 'counter' must hold 4 words, got " + std::to_string(c.size()));
  if (k.size() != 2) fail("philoxRaw", "argument 'key' must hold 2 words, got " + std::to_string(k.size()));
  for (auto v : c) {
    if (v < 0 || v > int64_t(UINT32_MAX)) fail("philoxRaw", "argument 'counter' must hold unsigned 32-bit words");
  }
  for (auto v : k) {
    if (v < 0 || v > int64_t(UINT32_MAX)) fail("philoxRaw", "argument 'key' must hold unsigned 32-bit words");
  }
  Philox4 in{{uint32_t(c[0]), uint32_t(c[1]), uint32_t(c[2]), uint32_t(c[3])}};
  Philox4 out = math::philox4x32_10(in, uint32_t(k[0]), uint32_t(k[1]));
  Napi::Array r = Napi::Array::New(info.Env(), 4);
  for (uint32_t i = 0; i < 4; i++) r.Set(i, double(out.v[i]));
  return r;
}

// uniform_(t, lo, hi, seed, stream): t[i] ~ U[lo, hi) in place
Napi::Value Uniform(const Napi::CallbackInfo& info) {
  NTensor* t = tensorArg(info, 0, "uniform_", "x");
  float lo = finiteArg(info, 1, "uniform_", "lo");
  float hi = finiteArg(info, 2, "uniform_", "hi");
  if (!(lo <= hi)) fail("uniform_", "argument 'lo' (" + std::to_string(lo) + ") must be <= 'hi' (" + std::to_string(hi) + ")");
  uint32_t seed = u32Arg(info, 3, "uniform_", "seed");
  uint32_t stream = u32Arg(info, 4, "uniform_", "stream");
  SCSE_ON_CUDA(deviceOf("uniform_", {{"x", t}}), cudaops::uniform(info.Env(), t, lo, hi, seed, stream));
  float* y = t->f32();
  forEachBlock(t->numel(), seed, stream, [&](const Philox4& r, int64_t first, int64_t count) {
    for (int64_t j = 0; j < count; j++) y[first + j] = math::uniformInRange(r.v[j], lo, hi);
  });
  return info.Env().Undefined();
}

// normal_(t, mean, std, seed, stream): t[i] ~ N(mean, std^2) in place
Napi::Value Normal(const Napi::CallbackInfo& info) {
  NTensor* t = tensorArg(info, 0, "normal_", "x");
  float mean = finiteArg(info, 1, "normal_", "mean");
  float sd = finiteArg(info, 2, "normal_", "std");
  if (sd < 0) fail("normal_", "argument 'std' must be >= 0, got " + std::to_string(sd));
  uint32_t seed = u32Arg(info, 3, "normal_", "seed");
  uint32_t stream = u32Arg(info, 4, "normal_", "stream");
  SCSE_ON_CUDA(deviceOf("normal_", {{"x", t}}), cudaops::normal(info.Env(), t, mean, sd, seed, stream));
  float* y = t->f32();
  forEachBlock(t->numel(), seed, stream, [&](const Philox4& r, int64_t first, int64_t count) {
    float z[4];
    math::boxMuller(r.v[0], r.v[1], &z[0], &z[1]);
    math::boxMuller(r.v[2], r.v[3], &z[2], &z[3]);
    for (int64_t j = 0; j < count; j++) y[first + j] = math::scaledNormal(z[j], mean, sd);
  });
  return info.Env().Undefined();
}

// dropoutMask(shape, p, seed, stream, device = 'cpu') -> float tensor of 0 (probability p) or 1/(1-p)
Napi::Value DropoutMask(const Napi::CallbackInfo& info) {
  Shape s = shapeArg(info, 0, "dropoutMask", "shape");
  double p = numberArg(info, 1, "dropoutMask", "p");
  if (!(p >= 0 && p <= 1)) fail("dropoutMask", "argument 'p' must be in [0, 1], got " + std::to_string(p));
  uint32_t seed = u32Arg(info, 2, "dropoutMask", "seed");
  uint32_t stream = u32Arg(info, 3, "dropoutMask", "stream");
  const Device where = deviceArg(info, 4, "dropoutMask");
  SCSE_ON_CUDA(where, cudaops::dropoutMask(info.Env(), where, s, p, seed, stream));
  Napi::Object out = NTensor::New(info.Env(), s, DType::F32);
  float* y = NTensor::Unwrap(out)->f32();
  const float pf = float(p);
  const float keepScale = p < 1 ? float(1.0 / (1.0 - p)) : 0.0f;
  forEachBlock(numel(s), seed, stream, [&](const Philox4& r, int64_t first, int64_t count) {
    for (int64_t j = 0; j < count; j++) y[first + j] = math::dropoutMaskValue(r.v[j], pf, keepScale);
  });
  return out;
}

}  // namespace

void registerRandom(Napi::Env, Napi::Object exports) {
  SCSE_EXPORT(exports, "philoxRaw", PhiloxRaw);
  SCSE_EXPORT(exports, "uniform_", Uniform);
  SCSE_EXPORT(exports, "normal_", Normal);
  SCSE_EXPORT(exports, "dropoutMask", DropoutMask);
}

}  // namespace scse
