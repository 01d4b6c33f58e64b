// CUDA twins of native/cpu/loss.cc (launchers: cuda/ops.h, loss.cu). Content checks (NaN/Inf
// logits, labels out of range, bad weights) run on the device and are reported, in the CPU op's
// order and words, through `bad`.
#include "cuda/dispatch.h"
#include "cuda/dispatch_util.h"
#include "cuda/ops.h"

namespace scse::cudaops {

using detail::dev;
using detail::Flags;
using detail::optF32;
using detail::Out;

Napi::Value softmaxCrossEntropy(Napi::Env env, NTensor* logits, NTensor* labels, NTensor* weights, int64_t P, int64_t K,
                                const BadFn& bad) {
  Out loss(logits->device(), {}), probs(logits->device(), logits->shape());
  Flags flags(dev(logits), 3);
  cuda::softmaxCrossEntropyForward(dev(logits), logits->devF32(), labels->devI32(), optF32(weights), P, K, loss.f32(),
                                   probs.f32(), flags.get());
  flags.check(bad);
  return arrayOf(env, {loss.handle(env), probs.handle(env)});
}

Napi::Value softmaxCrossEntropyBackward(Napi::Env env, NTensor* probs, NTensor* labels, NTensor* weights, NTensor* dy,
                                        int64_t P, int64_t K) {
  Out dx(probs->device(), probs->shape());
  cuda::softmaxCrossEntropyBackward(dev(probs), probs->devF32(), labels->devI32(), optF32(weights), dy->devF32(), P, K,
                                    dx.f32());
  return dx.handle(env);
}

Napi::Value diceLoss(Napi::Env env, NTensor* logits, NTensor* labels, int64_t P, int64_t K,
                     const std::vector<int32_t>& classes, double eps, double smoothNr, const BadFn& bad) {
  Out loss(logits->device(), {}), probs(logits->device(), logits->shape()), stats(logits->device(), {3, K});
  Flags flags(dev(logits), 2);
  cuda::diceLossForward(dev(logits), logits->devF32(), labels->devI32(), P, K, classes.data(), int64_t(classes.size()), eps,
                        smoothNr, loss.f32(), probs.f32(), stats.f32(), flags.get());
  flags.check(bad);
  return arrayOf(env, {loss.handle(env), probs.handle(env), stats.handle(env)});
}

Napi::Value diceLossBackward(Napi::Env env, NTensor* probs, NTensor* labels, NTensor* stats, int64_t P, int64_t K,
                             const std::vector<int32_t>& classes, double eps, double smoothNr, NTensor* dy, const BadFn& bad) {
  Out dx(probs->device(), probs->shape());
  Flags flags(dev(probs), 1);
  cuda::diceLossBackward(dev(probs), probs->devF32(), labels->devI32(), stats->devF32(), P, K, classes.data(),
                         int64_t(classes.size()), eps, smoothNr, dy->devF32(), dx.f32(), flags.get());
  flags.check(bad);
  return dx.handle(env);
}

}  // namespace scse::cudaops
