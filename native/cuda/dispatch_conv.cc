// CUDA twins of native/cpu/conv.cc and native/cpu/linear.cc on cuDNN (cuda/cudnn_ops.h). A fully
// connected layer is the 1x1 convolution of x [N,1,1,in] with W as OHWI [out,1,1,in].
#include <cstdlib>
#include <cstring>

#include "cuda/dispatch.h"
#include "cuda/dispatch_util.h"
#include "cuda/ops.h"

namespace scse::cudaops {

using detail::dev;
using detail::optF32;
using detail::Out;

namespace {

// SCSE_CUDA_TF32=1 lets cuDNN use TF32 tensor cores (Ampere+): faster, ~1e-3 relative error.
// Off by default: results then match the CPU to float rounding.
cuda::ConvParams withMath(cuda::ConvParams p) {
  static const bool tf32 = [] {
    const char* v = std::getenv("SCSE_CUDA_TF32");
    return v && std::strcmp(v, "1") == 0;
  }();
  p.allowTf32 = tf32;
  return p;
}

cuda::ConvParams linearParams(int64_t N, int64_t in, int64_t out) {
  cuda::ConvParams p;
  p.N = N, p.IC = in, p.IH = 1, p.IW = 1, p.OC = out, p.KH = 1, p.KW = 1, p.OH = 1, p.OW = 1;
  return withMath(p);
}

}  // namespace

Napi::Value convForward(Napi::Env env, const cuda::ConvParams& p, NTensor* x, NTensor* w, NTensor* bias) {
  Out y(x->device(), {p.N, p.OH, p.OW, p.OC});
  cuda::convForward(dev(x), withMath(p), x->devF32(), w->devF32(), optF32(bias), y.f32());
  return y.handle(env);
}

Napi::Value convBackwardData(Napi::Env env, const cuda::ConvParams& p, NTensor* dy, NTensor* w, const Shape& xShape) {
  Out dx(dy->device(), xShape);
  cuda::convBackwardData(dev(dy), withMath(p), dy->devF32(), w->devF32(), dx.f32());
  return dx.handle(env);
}

Napi::Value convBackwardWeights(Napi::Env env, const cuda::ConvParams& p, NTensor* x, NTensor* dy, const Shape& wShape,
                                bool withBias) {
  Out dw(x->device(), wShape);
  if (!withBias) {
    cuda::convBackwardWeights(dev(x), withMath(p), x->devF32(), dy->devF32(), dw.f32(), nullptr);
    return arrayOf(env, {dw.handle(env)});
  }
  Out db(x->device(), {p.OC});
  cuda::convBackwardWeights(dev(x), withMath(p), x->devF32(), dy->devF32(), dw.f32(), db.f32());
  return arrayOf(env, {dw.handle(env), db.handle(env)});
}

Napi::Value linear(Napi::Env env, NTensor* x, NTensor* w, NTensor* bias) {
  const int64_t N = x->shape()[0], in = x->shape()[1], out = w->shape()[0];
  Out y(x->device(), {N, out});
  if (N == 0 || out == 0) return y.handle(env);
  if (in == 0) {
    // no features to multiply (cuDNN refuses empty tensors): y is the bias, or zeros, as on the CPU
    cuda::fillF32(dev(x), y.f32(), 0.0f, N * out);
    if (bias) cuda::binary(dev(x), math::kBinAdd, y.f32(), {N, out}, bias->devF32(), {out}, y.f32());
    return y.handle(env);
  }
  cuda::convForward(dev(x), linearParams(N, in, out), x->devF32(), w->devF32(), optF32(bias), y.f32());
  return y.handle(env);
}

Napi::Value linearBackward(Napi::Env env, NTensor* x, NTensor* w, NTensor* dy, bool withBias) {
  const int64_t N = x->shape()[0], in = x->shape()[1], out = w->shape()[0];
  const int d = dev(x);
  Out dx(x->device(), x->shape()), dw(x->device(), w->shape());
  if (N == 0 || in == 0 || out == 0) {
    // nothing to multiply: zero gradients, and the bias gradient is dy summed over the batch
    cuda::fillF32(d, dx.f32(), 0.0f, N * in);
    cuda::fillF32(d, dw.f32(), 0.0f, out * in);
    if (!withBias) return arrayOf(env, {dx.handle(env), dw.handle(env)});
    Out db(x->device(), {out});
    if (N > 0 && out > 0) cuda::sumTo(d, dy->devF32(), dy->shape(), db.f32(), {out});
    else cuda::fillF32(d, db.f32(), 0.0f, out);
    return arrayOf(env, {dx.handle(env), dw.handle(env), db.handle(env)});
  }
  const cuda::ConvParams p = linearParams(N, in, out);
  cuda::convBackwardData(d, p, dy->devF32(), w->devF32(), dx.f32());
  if (!withBias) {
    cuda::convBackwardWeights(d, p, x->devF32(), dy->devF32(), dw.f32(), nullptr);
    return arrayOf(env, {dx.handle(env), dw.handle(env)});
  }
  Out db(x->device(), {out});
  cuda::convBackwardWeights(d, p, x->devF32(), dy->devF32(), dw.f32(), db.f32());
  return arrayOf(env, {dx.handle(env), dw.handle(env), db.handle(env)});
}

}  // namespace scse::cudaops
