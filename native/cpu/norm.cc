// Batch normalization over NHWC activations with per-channel scale (gamma) and shift (beta),
// on oneDNN's batch_normalization primitives:
//   batchNormTrain(x, gamma, beta, runningMean?, runningVar?, momentum, eps) -> [y, mean, var]
//   batchNormInfer(x, gamma, beta, mean, var, eps) -> y
//   batchNormBackward(x, mean, var, gamma, dy, eps, globalStats) -> [dx, dgamma, dbeta]
// `mean`/`var` from training are the batch statistics (variance biased, as oneDNN computes it).
// oneDNN keeps no running averages, so the PyTorch-style update (unbiased variance) is ours.
// globalStats = true is the backward of inference mode: mean/var are constants, so dx is just
// dy * gamma / sqrt(var + eps).
#include <cmath>
#include <map>
#include <tuple>
#include <vector>

#include "core/dispatch.h"
#include "core/registry.h"
#include "cpu/dnnl_ctx.h"
#include "cpu/norm_args.h"
#include "math/norm.h"

namespace scse {
namespace {

using dnnl::memory;
using dnnl::normalization_flags;
using dnnl::prop_kind;
using BnFwd = dnnl::batch_normalization_forward;
using BnBwd = dnnl::batch_normalization_backward;

struct Dims {
  int64_t N, H, W, C;
};

// x must be a non-empty NHWC tensor.
Dims dataArg(NTensor* x, const char* op, const char* arg) {
  expectRank(x, 4, op, arg);
  const Shape& s = x->shape();
  for (auto d : s) {
    if (d <= 0) fail(op, std::string("argument '") + arg + "' must not be empty, got shape " + shapeStr(s));
  }
  return {s[0], s[1], s[2], s[3]};
}

void channelsArg(NTensor* t, const Dims& d, const char* op, const char* arg) {
  if (t->shape() != Shape{d.C}) {
    fail(op, std::string("argument '") + arg + "' expected shape [" + std::to_string(d.C) + "] (the channels of x), got " +
                 shapeStr(t->shape()));
  }
}

memory::desc dataMd(const Dims& d) { return memory::desc({d.N, d.C, d.H, d.W}, memory::data_type::f32, memory::format_tag::nhwc); }
memory::desc chanMd(const Dims& d) { return memory::desc({d.C}, memory::data_type::f32, memory::format_tag::a); }
memory mem(const memory::desc& md, const NTensor* t) { return memory(md, cpuEngine(), t->raw()); }

// ---- primitive cache, keyed by shape, eps, flags and direction --------------------------------
using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, float, unsigned, int>;
constexpr size_t kMaxCached = 64;  // many distinct shapes (e.g. a sweep) must not grow it forever

Key makeKey(const Dims& d, float eps, normalization_flags f, int dir) { return Key{d.N, d.H, d.W, d.C, eps, unsigned(f), dir}; }

// Primitives use a user-provided scratchpad: Debian's oneDNN has a global library scratchpad that
// would tie each primitive to the thread that created it.
dnnl::primitive_attr userScratchpad() {
  dnnl::primitive_attr a;
  a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return a;
}

template <class P>
struct Prim {
  typename P::primitive_desc pd;
  P prim;
};
using Fwd = Prim<BnFwd>;
using Bwd = Prim<BnBwd>;

// The primitive for `k` from `cache`, built from makePd() on a miss. Each caller's cache is
// thread_local: primitives then never cross threads.
template <class P, class MakePd>
Prim<P>& cached(std::map<Key, Prim<P>>& cache, const Key& k, MakePd makePd) {
  auto it = cache.find(k);
  if (it != cache.end()) return it->second;
  if (cache.size() >= kMaxCached) cache.clear();
  typename P::primitive_desc pd = makePd();
  return cache.emplace(k, Prim<P>{pd, P(pd)}).first->second;
}

BnFwd::primitive_desc fwdPd(const Dims& d, float eps, normalization_flags f, prop_kind pk) {
  return BnFwd::primitive_desc(BnFwd::desc(pk, dataMd(d), eps, f), userScratchpad(), cpuEngine());
}

Fwd& forwardPrim(const Dims& d, float eps, normalization_flags f, prop_kind pk) {
  thread_local std::map<Key, Fwd> cache;
  return cached(cache, makeKey(d, eps, f, int(pk)), [&] { return fwdPd(d, eps, f, pk); });
}

Bwd& backwardPrim(const Dims& d, float eps, normalization_flags f) {
  thread_local std::map<Key, Bwd> cache;
  return cached(cache, makeKey(d, eps, f, int(prop_kind::backward)), [&] {
    // the backward pd needs the matching forward-training pd as a hint
    auto hint = fwdPd(d, eps, f, prop_kind::forward_training);
    return BnBwd::primitive_desc(BnBwd::desc(prop_kind::backward, dataMd(d), dataMd(d), eps, f), userScratchpad(), cpuEngine(), hint);
  });
}

void run(const dnnl::primitive& p, const memory::desc& scratchMd, std::unordered_map<int, memory> args) {
  std::vector<uint8_t> scratch(scratchMd.get_size());
  args.insert({DNNL_ARG_SCRATCHPAD, memory(scratchMd, cpuEngine(), scratch.data())});
  p.execute(cpuStream(), args);
  cpuStream().wait();
}

const normalization_flags kAffine = normalization_flags::use_scale | normalization_flags::use_shift;
const normalization_flags kAffineGlobal = kAffine | normalization_flags::use_global_stats;

// Training (mean/var are written: the batch statistics) or inference (mean/var are read).
void runForward(const Fwd& f, const Dims& d, NTensor* x, NTensor* y, NTensor* gamma, NTensor* beta, NTensor* mean, NTensor* var) {
  memory::desc dm = dataMd(d), cm = chanMd(d);
  run(f.prim, f.pd.scratchpad_desc(),
      {{DNNL_ARG_SRC, mem(dm, x)},
       {DNNL_ARG_DST, mem(dm, y)},
       {DNNL_ARG_SCALE, mem(cm, gamma)},
       {DNNL_ARG_SHIFT, mem(cm, beta)},
       {DNNL_ARG_MEAN, mem(cm, mean)},
       {DNNL_ARG_VARIANCE, mem(cm, var)}});
}

// ---- ops ---------------------------------------------------------------------------------------
Napi::Value BatchNormTrain(const Napi::CallbackInfo& info) {
  const char* op = "batchNorm";
  NTensor* x = tensorArg(info, 0, op, "x");
  NTensor* gamma = tensorArg(info, 1, op, "gamma");
  NTensor* beta = tensorArg(info, 2, op, "beta");
  NTensor* rm = tensorArg(info, 3, op, "runningMean", DType::F32, true);
  NTensor* rv = tensorArg(info, 4, op, "runningVar", DType::F32, true);
  double momentum = bnMomentumArg(info, 5, op);
  float eps = bnEpsArg(info, 6, op);
  Dims d = dataArg(x, op, "x");
  channelsArg(gamma, d, op, "gamma");
  channelsArg(beta, d, op, "beta");
  if ((rm == nullptr) != (rv == nullptr)) fail(op, "arguments 'runningMean' and 'runningVar' must be given together");
  if (rm) {
    channelsArg(rm, d, op, "runningMean");
    channelsArg(rv, d, op, "runningVar");
  }
  const int64_t count = d.N * d.H * d.W;
  if (count < 2) {
    fail(op, "training needs more than one value per channel (N*H*W > 1), got x of shape " + shapeStr(x->shape()));
  }
  SCSE_ON_CUDA(deviceOf(op, {{"x", x}, {"gamma", gamma}, {"beta", beta}, {"runningMean", rm}, {"runningVar", rv}}),
               cudaops::batchNormTrain(info.Env(), x, gamma, beta, rm, rv, momentum, eps));

  Napi::Env env = info.Env();
  Napi::Object yo = NTensor::New(env, x->shape(), DType::F32);
  Napi::Object mo = NTensor::New(env, {d.C}, DType::F32);
  Napi::Object vo = NTensor::New(env, {d.C}, DType::F32);
  NTensor *y = NTensor::Unwrap(yo), *mean = NTensor::Unwrap(mo), *var = NTensor::Unwrap(vo);

  runForward(forwardPrim(d, eps, kAffine, prop_kind::forward_training), d, x, y, gamma, beta, mean, var);

  if (rm) bnUpdateRunning(rm, rv, mean->f32(), var->f32(), d.C, momentum, count);
  return arrayOf(env, {yo, mo, vo});
}

Napi::Value BatchNormInfer(const Napi::CallbackInfo& info) {
  const char* op = "batchNorm";
  NTensor* x = tensorArg(info, 0, op, "x");
  NTensor* gamma = tensorArg(info, 1, op, "gamma");
  NTensor* beta = tensorArg(info, 2, op, "beta");
  NTensor* mean = tensorArg(info, 3, op, "runningMean");
  NTensor* var = tensorArg(info, 4, op, "runningVar");
  float eps = bnEpsArg(info, 5, op);
  Dims d = dataArg(x, op, "x");
  channelsArg(gamma, d, op, "gamma");
  channelsArg(beta, d, op, "beta");
  channelsArg(mean, d, op, "runningMean");
  channelsArg(var, d, op, "runningVar");
  SCSE_ON_CUDA(deviceOf(op, {{"x", x}, {"gamma", gamma}, {"beta", beta}, {"runningMean", mean}, {"runningVar", var}}),
               cudaops::batchNormInfer(info.Env(), x, gamma, beta, mean, var, eps));

  Napi::Object yo = NTensor::New(info.Env(), x->shape(), DType::F32);
  runForward(forwardPrim(d, eps, kAffineGlobal, prop_kind::forward_inference), d, x, NTensor::Unwrap(yo), gamma, beta, mean, var);
  return yo;
}

Napi::Value BatchNormBackward(const Napi::CallbackInfo& info) {
  const char* op = "batchNormBackward";
  NTensor* x = tensorArg(info, 0, op, "x");
  NTensor* mean = tensorArg(info, 1, op, "mean");
  NTensor* var = tensorArg(info, 2, op, "var");
  NTensor* gamma = tensorArg(info, 3, op, "gamma");
  NTensor* dy = tensorArg(info, 4, op, "dy");
  float eps = bnEpsArg(info, 5, op);
  bool global = boolArg(info, 6, op, "globalStats");
  Dims d = dataArg(x, op, "x");
  expectSameShape(x, dy, op, "x", "dy");
  channelsArg(mean, d, op, "mean");
  channelsArg(var, d, op, "var");
  channelsArg(gamma, d, op, "gamma");
  SCSE_ON_CUDA(deviceOf(op, {{"x", x}, {"mean", mean}, {"var", var}, {"gamma", gamma}, {"dy", dy}}),
               cudaops::batchNormBackward(info.Env(), x, mean, var, gamma, dy, eps, global));

  Napi::Env env = info.Env();
  Napi::Object dxo = NTensor::New(env, x->shape(), DType::F32);
  Napi::Object dgo = NTensor::New(env, {d.C}, DType::F32);
  Napi::Object dbo = NTensor::New(env, {d.C}, DType::F32);
  Bwd& b = backwardPrim(d, eps, global ? kAffineGlobal : kAffine);
  memory::desc dm = dataMd(d), cm = chanMd(d);
  // oneDNN 2.6 refuses to execute the backward without a shift argument although the gradients
  // do not depend on beta (it would only matter with fuse_norm_relu): pass zeros.
  std::vector<float> noShift(size_t(d.C), 0.0f);
  run(b.prim, b.pd.scratchpad_desc(),
      {{DNNL_ARG_SRC, mem(dm, x)},
       {DNNL_ARG_SHIFT, memory(cm, cpuEngine(), noShift.data())},
       {DNNL_ARG_MEAN, mem(cm, mean)},
       {DNNL_ARG_VARIANCE, mem(cm, var)},
       {DNNL_ARG_DIFF_DST, mem(dm, dy)},
       {DNNL_ARG_SCALE, mem(cm, gamma)},
       {DNNL_ARG_DIFF_SRC, mem(dm, NTensor::Unwrap(dxo))},
       {DNNL_ARG_DIFF_SCALE, mem(cm, NTensor::Unwrap(dgo))},
       {DNNL_ARG_DIFF_SHIFT, mem(cm, NTensor::Unwrap(dbo))}});
  return arrayOf(env, {dxo, dgo, dbo});
}

}  // namespace

void registerNorm(Napi::Env, Napi::Object exports) {
  SCSE_EXPORT(exports, "batchNormTrain", BatchNormTrain);
  SCSE_EXPORT(exports, "batchNormInfer", BatchNormInfer);
  SCSE_EXPORT(exports, "batchNormBackward", BatchNormBackward);
}

}  // namespace scse
