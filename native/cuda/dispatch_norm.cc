// CUDA twins of native/cpu/norm.cc on cuDNN (cuda/cudnn_ops.h).
#include "cuda/dispatch.h"
#include "cuda/dispatch_util.h"

namespace scse::cudaops {

using detail::dev;
using detail::Out;

namespace {
cuda::BnDims dims(const NTensor* x) {
  const Shape& s = x->shape();
  return {s[0], s[1], s[2], s[3]};
}
}  // namespace

Napi::Value batchNormTrain(Napi::Env env, NTensor* x, NTensor* gamma, NTensor* beta, NTensor* runningMean,
                           NTensor* runningVar, double momentum, float eps) {
  const cuda::BnDims d = dims(x);
  Out y(x->device(), x->shape()), mean(x->device(), {d.C}), var(x->device(), {d.C});
  cuda::batchNormTrain(dev(x), d, x->devF32(), gamma->devF32(), beta->devF32(), runningMean ? runningMean->devF32() : nullptr,
                       runningVar ? runningVar->devF32() : nullptr, momentum, double(eps), y.f32(), mean.f32(), var.f32(),
                       nullptr);
  return arrayOf(env, {y.handle(env), mean.handle(env), var.handle(env)});
}

Napi::Value batchNormInfer(Napi::Env env, NTensor* x, NTensor* gamma, NTensor* beta, NTensor* mean, NTensor* var, float eps) {
  Out y(x->device(), x->shape());
  cuda::batchNormInfer(dev(x), dims(x), x->devF32(), gamma->devF32(), beta->devF32(), mean->devF32(), var->devF32(),
                       double(eps), y.f32());
  return y.handle(env);
}

Napi::Value batchNormBackward(Napi::Env env, NTensor* x, NTensor* mean, NTensor* var, NTensor* gamma, NTensor* dy,
                              float eps, bool globalStats) {
  const cuda::BnDims d = dims(x);
  Out dx(x->device(), x->shape()), dgamma(x->device(), {d.C}), dbeta(x->device(), {d.C});
  // invStd = null: recomputed from var (the CPU op's inputs; TS saves mean and var)
  cuda::batchNormBackward(dev(x), d, x->devF32(), mean->devF32(), var->devF32(), nullptr, gamma->devF32(), dy->devF32(),
                          double(eps), globalStats, dx.f32(), dgamma.f32(), dbeta.f32());
  return arrayOf(env, {dx.handle(env), dgamma.handle(env), dbeta.handle(env)});
}

}  // namespace scse::cudaops
