// CUDA twins of native/cpu/random.cc: the same Philox draws (math/philox.h) on the device.
#include "cuda/dispatch.h"
#include "cuda/dispatch_util.h"
#include "cuda/ops.h"

namespace scse::cudaops {

using detail::dev;
using detail::Out;

Napi::Value uniform(Napi::Env env, NTensor* t, float lo, float hi, uint32_t seed, uint32_t stream) {
  cuda::uniformFill(dev(t), t->devF32(), t->numel(), lo, hi, seed, stream);
  return env.Undefined();
}

Napi::Value normal(Napi::Env env, NTensor* t, float mean, float sd, uint32_t seed, uint32_t stream) {
  cuda::normalFill(dev(t), t->devF32(), t->numel(), mean, sd, seed, stream);
  return env.Undefined();
}

Napi::Value dropoutMask(Napi::Env env, Device where, const Shape& shape, double p, uint32_t seed, uint32_t stream) {
  Out y(where, shape);
  cuda::dropoutMask(where.index, y.f32(), numel(shape), p, seed, stream);
  return y.handle(env);
}

}  // namespace scse::cudaops
