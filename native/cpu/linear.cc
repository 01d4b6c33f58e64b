// Fully connected layer y = x W^T + b with PyTorch's weight layout W [out, in], on oneDNN's
// row-major dnnl_sgemm (no primitive to create or cache: the shapes here are small and varied,
// e.g. the SE channel MLP).
#include <oneapi/dnnl/dnnl.h>

#include <cstring>
#include <vector>

#include "core/dispatch.h"
#include "core/registry.h"
#include "cpu/column_sums.h"
#include "cpu/gemm.h"
#include "cpu/parallel.h"

namespace scse {
namespace {

struct Dims {
  int64_t N, in, out;
};

Dims checkDims(const char* op, NTensor* x, NTensor* w) {
  if (x->shape().size() != 2) fail(op, "argument 'x' expected rank 2 [N, in], got shape " + shapeStr(x->shape()));
  if (w->shape().size() != 2) fail(op, "argument 'w' expected rank 2 [out, in], got shape " + shapeStr(w->shape()));
  if (w->shape()[1] != x->shape()[1]) {
    fail(op, "argument 'w' " + shapeStr(w->shape()) + " expects " + std::to_string(w->shape()[1]) + " input features but 'x' " +
                 shapeStr(x->shape()) + " has " + std::to_string(x->shape()[1]));
  }
  return {x->shape()[0], x->shape()[1], w->shape()[0]};
}

// linear(x [N,in], w [out,in], bias [out] | null) -> y [N,out]
Napi::Value Linear(const Napi::CallbackInfo& info) {
  NTensor* x = tensorArg(info, 0, "linear", "x");
  NTensor* w = tensorArg(info, 1, "linear", "w");
  NTensor* b = tensorArg(info, 2, "linear", "bias", DType::F32, true);
  Dims d = checkDims("linear", x, w);
  if (b && (b->shape().size() != 1 || b->shape()[0] != d.out)) {
    fail("linear", "argument 'bias' expected shape [" + std::to_string(d.out) + "] (output features), got " + shapeStr(b->shape()));
  }
  SCSE_ON_CUDA(deviceOf("linear", {{"x", x}, {"w", w}, {"bias", b}}), cudaops::linear(info.Env(), x, w, b));
  Napi::Object out = NTensor::New(info.Env(), {d.N, d.out}, DType::F32);
  float* y = NTensor::Unwrap(out)->f32();
  if (d.N == 0 || d.out == 0) return out;
  // Start from the bias (or zero) and let the gemm accumulate onto it (beta = 1).
  if (b) {
    const float* bp = b->f32();
    parallelFor(d.N, d.out, [&](int64_t r) { std::memcpy(y + r * d.out, bp, size_t(d.out) * 4); });
  } else {
    std::memset(y, 0, size_t(d.N * d.out) * 4);
  }
  if (d.in > 0) sgemm("linear", 'N', 'T', d.N, d.out, d.in, x->f32(), d.in, w->f32(), d.in, 1.0f, y, d.out);
  return out;
}

// linearBackward(x, w, dy, withBias) -> [dx, dw, db?]
Napi::Value LinearBackward(const Napi::CallbackInfo& info) {
  const char* op = "linearBackward";
  NTensor* x = tensorArg(info, 0, op, "x");
  NTensor* w = tensorArg(info, 1, op, "w");
  NTensor* dy = tensorArg(info, 2, op, "dy");
  bool withBias = boolArg(info, 3, op, "withBias");
  Dims d = checkDims(op, x, w);
  expectShape(dy, {d.N, d.out}, op, "dy");
  SCSE_ON_CUDA(deviceOf(op, {{"x", x}, {"w", w}, {"dy", dy}}), cudaops::linearBackward(info.Env(), x, w, dy, withBias));
  Napi::Env env = info.Env();
  Napi::Object dxo = NTensor::New(env, x->shape(), DType::F32);
  Napi::Object dwo = NTensor::New(env, w->shape(), DType::F32);
  float* dx = NTensor::Unwrap(dxo)->f32();
  float* dw = NTensor::Unwrap(dwo)->f32();
  const float* g = dy->f32();
  std::memset(dx, 0, size_t(d.N * d.in) * 4);
  std::memset(dw, 0, size_t(d.out * d.in) * 4);
  if (d.N > 0 && d.out > 0 && d.in > 0) {
    sgemm(op, 'N', 'N', d.N, d.in, d.out, g, d.out, w->f32(), d.in, 0.0f, dx, d.in);     // dx = dy W
    sgemm(op, 'T', 'N', d.out, d.in, d.N, g, d.out, x->f32(), d.in, 0.0f, dw, d.in);     // dW = dy^T x
  }
  if (!withBias) return arrayOf(env, {dxo, dwo});
  Napi::Object dbo = NTensor::New(env, {d.out}, DType::F32);
  columnSums(g, d.N, d.out, NTensor::Unwrap(dbo)->f32());
  return arrayOf(env, {dxo, dwo, dbo});
}

}  // namespace

void registerLinear(Napi::Env, Napi::Object exports) {
  SCSE_EXPORT(exports, "linear", Linear);
  SCSE_EXPORT(exports, "linearBackward", LinearBackward);
}

}  // namespace scse
