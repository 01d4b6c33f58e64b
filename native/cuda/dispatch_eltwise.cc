// CUDA twins of native/cpu/eltwise.cc (launchers: cuda/ops.h, eltwise.cu).
#include "cuda/dispatch.h"
#include "cuda/dispatch_util.h"
#include "cuda/ops.h"

namespace scse::cudaops {

using detail::dev;
using detail::Out;

namespace {
// The last dimension (1 for a scalar) and the rows before it, as the CPU ops count them.
int64_t lastDim(const NTensor* t) { return t->shape().empty() ? 1 : t->shape().back(); }
int64_t rowsOf(const NTensor* t) { return t->numel() / std::max<int64_t>(lastDim(t), 1); }
}  // namespace

Napi::Value relu(Napi::Env env, NTensor* x) {
  Out y(x->device(), x->shape());
  cuda::reluForward(dev(x), x->devF32(), y.f32(), x->numel());
  return y.handle(env);
}

Napi::Value reluBackward(Napi::Env env, NTensor* x, NTensor* dy) {
  Out dx(x->device(), x->shape());
  cuda::reluBackward(dev(x), x->devF32(), dy->devF32(), dx.f32(), x->numel());
  return dx.handle(env);
}

Napi::Value sigmoid(Napi::Env env, NTensor* x) {
  Out y(x->device(), x->shape());
  cuda::sigmoidForward(dev(x), x->devF32(), y.f32(), x->numel());
  return y.handle(env);
}

Napi::Value sigmoidBackward(Napi::Env env, NTensor* y, NTensor* dy) {
  Out dx(y->device(), y->shape());
  cuda::sigmoidBackward(dev(y), y->devF32(), dy->devF32(), dx.f32(), y->numel());
  return dx.handle(env);
}

Napi::Value affine(Napi::Env env, NTensor* x, float a, float b) {
  Out y(x->device(), x->shape());
  cuda::affineForward(dev(x), x->devF32(), a, b, y.f32(), x->numel());
  return y.handle(env);
}

Napi::Value prelu(Napi::Env env, NTensor* x, NTensor* slope) {
  Out y(x->device(), x->shape());
  const int64_t C = lastDim(x);
  cuda::preluForward(dev(x), x->devF32(), slope->devF32(), slope->shape()[0], y.f32(), rowsOf(x), C);
  return y.handle(env);
}

Napi::Value preluBackward(Napi::Env env, NTensor* x, NTensor* slope, NTensor* dy) {
  Out dx(x->device(), x->shape()), dslope(x->device(), slope->shape());
  cuda::preluBackward(dev(x), x->devF32(), slope->devF32(), slope->shape()[0], dy->devF32(), dx.f32(), dslope.f32(),
                      rowsOf(x), lastDim(x));
  return arrayOf(env, {dx.handle(env), dslope.handle(env)});
}

Napi::Value binary(Napi::Env env, int kind, NTensor* a, NTensor* b, const Shape& outShape) {
  Out y(a->device(), outShape);
  cuda::binary(dev(a), kind, a->devF32(), a->shape(), b->devF32(), b->shape(), y.f32());
  return y.handle(env);
}

Napi::Value sumTo(Napi::Env env, NTensor* x, const Shape& target) {
  Out y(x->device(), target);
  cuda::sumTo(dev(x), x->devF32(), x->shape(), y.f32(), target);
  return y.handle(env);
}

Napi::Value concat(Napi::Env env, const std::vector<NTensor*>& xs, const Shape& outShape) {
  Out y(xs[0]->device(), outShape);
  std::vector<const float*> ptrs;
  std::vector<int64_t> widths;
  for (NTensor* t : xs) ptrs.push_back(t->devF32()), widths.push_back(t->shape().back());
  const int64_t rows = numel(outShape) / std::max<int64_t>(outShape.back(), 1);
  cuda::concatLast(dev(xs[0]), ptrs.data(), widths.data(), int(xs.size()), rows, y.f32());
  return y.handle(env);
}

Napi::Value split(Napi::Env env, NTensor* x, const std::vector<int64_t>& sizes) {
  std::vector<Out> parts;
  std::vector<float*> ptrs;
  for (int64_t w : sizes) {
    Shape s = x->shape();
    s.back() = w;
    parts.emplace_back(x->device(), s);
    ptrs.push_back(parts.back().f32());
  }
  cuda::splitLast(dev(x), x->devF32(), rowsOf(x), sizes.data(), int(sizes.size()), ptrs.data());
  Napi::Array r = Napi::Array::New(env, parts.size());
  for (size_t k = 0; k < parts.size(); k++) r.Set(uint32_t(k), parts[k].handle(env));
  return r;
}

Napi::Value softmax(Napi::Env env, NTensor* x) {
  Out y(x->device(), x->shape());
  cuda::softmaxForward(dev(x), x->devF32(), y.f32(), rowsOf(x), lastDim(x));
  return y.handle(env);
}

Napi::Value softmaxBackward(Napi::Env env, NTensor* y, NTensor* dy) {
  Out dx(y->device(), y->shape());
  cuda::softmaxBackward(dev(y), y->devF32(), dy->devF32(), dx.f32(), rowsOf(y), lastDim(y));
  return dx.handle(env);
}

}  // namespace scse::cudaops
