// CUDA twins of native/cpu/pool.cc (launchers: cuda/ops.h, pool.cu). Index checks run on the
// device (error flags) and are reported with the CPU op's message through `bad`.
#include "cuda/dispatch.h"
#include "cuda/dispatch_util.h"
#include "cuda/ops.h"

namespace scse::cudaops {

using detail::dev;
using detail::Flags;
using detail::Out;

Napi::Value maxPool2d(Napi::Env env, NTensor* x, int64_t k, int64_t s, int64_t OH, int64_t OW) {
  const Shape& xs = x->shape();
  const Shape os{xs[0], OH, OW, xs[3]};
  Out y(x->device(), os), indices(x->device(), os, DType::I32);
  cuda::maxPool2dForward(dev(x), x->devF32(), xs[0], xs[1], xs[2], xs[3], k, s, y.f32(), indices.i32());
  return arrayOf(env, {y.handle(env), indices.handle(env)});
}

Napi::Value maxPool2dBackward(Napi::Env env, NTensor* dy, NTensor* indices, const Shape& xShape, int64_t k, int64_t s,
                              const BadFn& bad) {
  Out dx(dy->device(), xShape);
  Flags flags(dev(dy), 2);
  cuda::maxPool2dBackward(dev(dy), dy->devF32(), indices->devI32(), xShape[0], xShape[1], xShape[2], xShape[3], k, s,
                          dx.f32(), flags.get());
  flags.check(bad);
  return dx.handle(env);
}

Napi::Value maxUnpool2d(Napi::Env env, NTensor* x, NTensor* indices, int64_t H, int64_t W, const BadFn& bad) {
  const Shape& xs = x->shape();
  Out y(x->device(), {xs[0], H, W, xs[3]});
  Flags flags(dev(x), 1);
  cuda::maxUnpool2dForward(dev(x), x->devF32(), indices->devI32(), xs[0], xs[1], xs[2], xs[3], H, W, y.f32(), flags.get());
  flags.check(bad);
  return y.handle(env);
}

Napi::Value maxUnpool2dBackward(Napi::Env env, NTensor* dy, NTensor* indices, const BadFn& bad) {
  const Shape &is = indices->shape(), &ds = dy->shape();
  Out dx(dy->device(), is);
  Flags flags(dev(dy), 1);
  cuda::maxUnpool2dBackward(dev(dy), dy->devF32(), indices->devI32(), is[0], is[1], is[2], is[3], ds[1], ds[2], dx.f32(),
                            flags.get());
  flags.check(bad);
  return dx.handle(env);
}

Napi::Value globalAvgPool(Napi::Env env, NTensor* x) {
  const Shape& xs = x->shape();
  Out y(x->device(), {xs[0], 1, 1, xs[3]});
  cuda::globalAvgPoolForward(dev(x), x->devF32(), xs[0], xs[1] * xs[2], xs[3], y.f32());
  return y.handle(env);
}

Napi::Value globalAvgPoolBackward(Napi::Env env, NTensor* dy, const Shape& xShape) {
  Out dx(dy->device(), xShape);
  cuda::globalAvgPoolBackward(dev(dy), dy->devF32(), xShape[0], xShape[1] * xShape[2], xShape[3], dx.f32());
  return dx.handle(env);
}

}  // namespace scse::cudaops
