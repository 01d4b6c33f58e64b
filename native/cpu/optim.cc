// In-place optimizer steps: the parameter and its state buffers are updated elementwise
// (math/optim.h); nothing is allocated.
#include <algorithm>
#include <cmath>
#include <string>

#include "core/dispatch.h"
#include "core/registry.h"
#include "cpu/parallel.h"
#include "math/optim.h"

namespace scse {
namespace {

constexpr int64_t kChunk = 4096;  // elements per parallel work item

float hyperArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* arg, double lo, double hi, bool hiOpen = false) {
  double v = numberArg(info, i, op, arg);
  if (!std::isfinite(v) || v < lo || v > hi || (hiOpen && v == hi)) {
    fail(op, std::string("argument '") + arg + "' must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + (hiOpen ? ")" : "]") +
                 ", got " + std::to_string(v));
  }
  return float(v);
}

template <typename F>
void chunked(int64_t n, F&& f) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  parallelFor(chunks, kChunk * 4, [&](int64_t c) {
    const int64_t i1 = std::min(n, (c + 1) * kChunk);
    for (int64_t i = c * kChunk; i < i1; i++) f(i);
  });
}

// sgdStep(param, grad, momentumBuf|null, lr, momentum, dampening, weightDecay, nesterov, firstStep)
Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  const char* op = "sgdStep";
  NTensor* p = tensorArg(info, 0, op, "param");
  NTensor* g = tensorArg(info, 1, op, "grad");
  NTensor* buf = tensorArg(info, 2, op, "momentumBuf", DType::F32, true);
  expectSameShape(p, g, op, "param", "grad");
  math::SgdHyper h;
  h.lr = hyperArg(info, 3, op, "lr", 0, INFINITY);
  h.momentum = hyperArg(info, 4, op, "momentum", 0, INFINITY);
  h.dampening = hyperArg(info, 5, op, "dampening", -INFINITY, INFINITY);
  h.weightDecay = hyperArg(info, 6, op, "weightDecay", 0, INFINITY);
  h.nesterov = boolArg(info, 7, op, "nesterov");
  h.firstStep = boolArg(info, 8, op, "firstStep");
  if (h.momentum != 0.0f) {
    if (!buf) fail(op, "argument 'momentumBuf' is required when momentum != 0");
    expectSameShape(p, buf, op, "param", "momentumBuf");
  }
  if (h.nesterov && (h.momentum == 0.0f || h.dampening != 0.0f)) fail(op, "nesterov needs momentum > 0 and dampening = 0");
  if (p->storage() == g->storage() || (buf && (buf->storage() == p->storage() || buf->storage() == g->storage()))) {
    fail(op, "arguments 'param', 'grad' and 'momentumBuf' must not share storage");
  }
  SCSE_ON_CUDA(deviceOf(op, {{"param", p}, {"grad", g}, {"momentumBuf", buf}}), cudaops::sgdStep(info.Env(), p, g, buf, h));
  float* pp = p->f32();
  const float* gp = g->f32();
  float* bp = buf ? buf->f32() : nullptr;
  chunked(p->numel(), [&](int64_t i) { math::sgdUpdate(pp + i, gp[i], bp ? bp + i : nullptr, h); });
  return info.Env().Undefined();
}

// adamStep(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step, decoupled)
Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  const char* op = "adamStep";
  NTensor* p = tensorArg(info, 0, op, "param");
  NTensor* g = tensorArg(info, 1, op, "grad");
  NTensor* m = tensorArg(info, 2, op, "m");
  NTensor* v = tensorArg(info, 3, op, "v");
  expectSameShape(p, g, op, "param", "grad");
  expectSameShape(p, m, op, "param", "m");
  expectSameShape(p, v, op, "param", "v");
  math::AdamHyper h;
  h.lr = hyperArg(info, 4, op, "lr", 0, INFINITY);
  h.beta1 = hyperArg(info, 5, op, "beta1", 0, 1, true);
  h.beta2 = hyperArg(info, 6, op, "beta2", 0, 1, true);
  h.eps = hyperArg(info, 7, op, "eps", 0, INFINITY);
  h.weightDecay = hyperArg(info, 8, op, "weightDecay", 0, INFINITY);
  const int64_t step = intArg(info, 9, op, "step");
  if (step < 1) fail(op, "argument 'step' must be >= 1, got " + std::to_string(step));
  h.decoupled = boolArg(info, 10, op, "decoupled");
  // The scalar factors are computed from the arguments as given (double), as PyTorch does in Python.
  const double lr = numberArg(info, 4, op, "lr");
  const double beta1 = numberArg(info, 5, op, "beta1"), beta2 = numberArg(info, 6, op, "beta2");
  math::adamStepScalars(lr, beta1, beta2, step, &h);
  if (p->storage() == g->storage() || p->storage() == m->storage() || p->storage() == v->storage() || m->storage() == v->storage()) {
    fail(op, "arguments 'param', 'grad', 'm' and 'v' must not share storage");
  }
  SCSE_ON_CUDA(deviceOf(op, {{"param", p}, {"grad", g}, {"m", m}, {"v", v}}),
               cudaops::adamStep(info.Env(), p, g, m, v, lr, beta1, beta2, numberArg(info, 7, op, "eps"),
                                 numberArg(info, 8, op, "weightDecay"), step, h.decoupled));
  float *pp = p->f32(), *mp = m->f32(), *vp = v->f32();
  const float* gp = g->f32();
  chunked(p->numel(), [&](int64_t i) { math::adamUpdate(pp + i, gp[i], mp + i, vp + i, h); });
  return info.Env().Undefined();
}

}  // namespace

void registerOptim(Napi::Env, Napi::Object exports) {
  SCSE_EXPORT(exports, "sgdStep", SgdStep);
  SCSE_EXPORT(exports, "adamStep", AdamStep);
}

}  // namespace scse
