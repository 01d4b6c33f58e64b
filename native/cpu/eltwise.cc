// Elementwise, broadcasting, reduction, channel concat/split and softmax kernels (OpenMP).
// Broadcasting follows NumPy: shapes are right-aligned (rank <= 4) and size-1 dims stretch, so
// per-channel ([C] or [N,1,1,C]) and per-pixel ([N,H,W,1]) operands work in NHWC.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/dispatch.h"
#include "core/registry.h"
#include "cpu/parallel.h"
#include "math/common.h"
#include "math/eltwise.h"

namespace scse {
namespace {

using math::sigmoid;

// ---- unary ----------------------------------------------------------------------------------
template <typename F>
Napi::Value unary(const Napi::CallbackInfo& info, NTensor* x, F f) {
  Napi::Object out = NTensor::New(info.Env(), x->shape(), DType::F32);
  float* y = NTensor::Unwrap(out)->f32();
  const float* xs = x->f32();
  int64_t n = x->numel();
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; i++) y[i] = f(xs[i]);
  return out;
}

// The saved tensor (x or y) and dy, checked: same shape, one device.
std::pair<NTensor*, NTensor*> backwardArgs(const Napi::CallbackInfo& info, const char* op, const char* saved) {
  NTensor* s = tensorArg(info, 0, op, saved);
  NTensor* dy = tensorArg(info, 1, op, "dy");
  expectSameShape(s, dy, op, saved, "dy");
  return {s, dy};
}

template <typename F>
Napi::Value unaryBackward(const Napi::CallbackInfo& info, NTensor* s, NTensor* dy, F f) {
  Napi::Object out = NTensor::New(info.Env(), s->shape(), DType::F32);
  float* dx = NTensor::Unwrap(out)->f32();
  const float* sv = s->f32();
  const float* g = dy->f32();
  int64_t n = s->numel();
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; i++) dx[i] = f(sv[i], g[i]);
  return out;
}

Napi::Value Relu(const Napi::CallbackInfo& info) {
  NTensor* x = tensorArg(info, 0, "relu", "x");
  SCSE_ON_CUDA(deviceOf("relu", {{"x", x}}), cudaops::relu(info.Env(), x));
  return unary(info, x, [](float v) { return math::relu(v); });
}
Napi::Value ReluBackward(const Napi::CallbackInfo& info) {
  auto [x, dy] = backwardArgs(info, "reluBackward", "x");
  SCSE_ON_CUDA(deviceOf("reluBackward", {{"x", x}, {"dy", dy}}), cudaops::reluBackward(info.Env(), x, dy));
  return unaryBackward(info, x, dy, [](float x, float g) { return math::reluGrad(x, g); });
}
Napi::Value Sigmoid(const Napi::CallbackInfo& info) {
  NTensor* x = tensorArg(info, 0, "sigmoid", "x");
  SCSE_ON_CUDA(deviceOf("sigmoid", {{"x", x}}), cudaops::sigmoid(info.Env(), x));
  return unary(info, x, [](float v) { return sigmoid(v); });
}
Napi::Value SigmoidBackward(const Napi::CallbackInfo& info) {
  auto [y, dy] = backwardArgs(info, "sigmoidBackward", "y");
  SCSE_ON_CUDA(deviceOf("sigmoidBackward", {{"y", y}, {"dy", dy}}), cudaops::sigmoidBackward(info.Env(), y, dy));
  return unaryBackward(info, y, dy, [](float y, float g) { return math::sigmoidGradFromY(y, g); });
}

// affine(x, a, b) = a*x + b with scalar a, b (scaling, negation, constants)
Napi::Value Affine(const Napi::CallbackInfo& info) {
  float a = float(numberArg(info, 1, "affine", "a"));
  float b = float(numberArg(info, 2, "affine", "b"));
  NTensor* x = tensorArg(info, 0, "affine", "x");
  SCSE_ON_CUDA(deviceOf("affine", {{"x", x}}), cudaops::affine(info.Env(), x, a, b));
  return unary(info, x, [a, b](float v) { return math::affine(v, a, b); });
}

// ---- prelu: slope shared ([1]) or per channel ([C], C = last dim) -----------------------------
void preluCheck(NTensor* x, NTensor* a, const char* op) {
  int64_t C = x->shape().empty() ? 1 : x->shape().back();
  if (a->shape().size() != 1 || (a->shape()[0] != 1 && a->shape()[0] != C)) {
    fail(op, "argument 'slope' expected shape [1] or [" + std::to_string(C) + "] (channels of x " + shapeStr(x->shape()) +
                 "), got " + shapeStr(a->shape()));
  }
}

Napi::Value Prelu(const Napi::CallbackInfo& info) {
  NTensor* x = tensorArg(info, 0, "prelu", "x");
  NTensor* a = tensorArg(info, 1, "prelu", "slope");
  preluCheck(x, a, "prelu");
  SCSE_ON_CUDA(deviceOf("prelu", {{"x", x}, {"slope", a}}), cudaops::prelu(info.Env(), x, a));
  int64_t C = x->shape().back(), rows = x->numel() / C, na = a->shape()[0];
  Napi::Object out = NTensor::New(info.Env(), x->shape(), DType::F32);
  float* y = NTensor::Unwrap(out)->f32();
  const float *xs = x->f32(), *as = a->f32();
  parallelFor(rows, C, [&](int64_t r) {
    const float* xr = xs + r * C;
    float* yr = y + r * C;
    for (int64_t c = 0; c < C; c++) yr[c] = math::prelu(xr[c], as[na == 1 ? 0 : c]);
  });
  return out;
}

// preluBackward(x, slope, dy) -> [dx, dslope]
Napi::Value PreluBackward(const Napi::CallbackInfo& info) {
  NTensor* x = tensorArg(info, 0, "preluBackward", "x");
  NTensor* a = tensorArg(info, 1, "preluBackward", "slope");
  NTensor* dy = tensorArg(info, 2, "preluBackward", "dy");
  preluCheck(x, a, "preluBackward");
  expectSameShape(x, dy, "preluBackward", "x", "dy");
  SCSE_ON_CUDA(deviceOf("preluBackward", {{"x", x}, {"slope", a}, {"dy", dy}}), cudaops::preluBackward(info.Env(), x, a, dy));
  int64_t C = x->shape().back(), rows = x->numel() / C, na = a->shape()[0];
  Napi::Object dxo = NTensor::New(info.Env(), x->shape(), DType::F32);
  Napi::Object dao = NTensor::New(info.Env(), a->shape(), DType::F32);
  float* dx = NTensor::Unwrap(dxo)->f32();
  float* da = NTensor::Unwrap(dao)->f32();
  const float *xs = x->f32(), *as = a->f32(), *g = dy->f32();
  int nt = omp_get_max_threads();
  std::vector<double> partial(size_t(nt) * C, 0.0);
#pragma omp parallel if (rows * C > kParallelGrain)
  {
    double* acc = partial.data() + size_t(omp_get_thread_num()) * C;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const float* xr = xs + r * C;
      const float* gr = g + r * C;
      float* dr = dx + r * C;
      for (int64_t c = 0; c < C; c++) {
        dr[c] = math::preluGradX(xr[c], as[na == 1 ? 0 : c], gr[c]);
        acc[c] += math::preluSlopeGradTerm(xr[c], gr[c]);
      }
    }
  }
  for (int64_t c = 0; c < na; c++) {
    double s = 0;
    for (int t = 0; t < nt; t++) s += partial[size_t(t) * C + c];
    da[c] = float(s);
  }
  if (na == 1) {
    double s = 0;
    for (int t = 0; t < nt; t++)
      for (int64_t c = 0; c < C; c++) s += partial[size_t(t) * C + c];
    da[0] = float(s);
  }
  Napi::Array r = Napi::Array::New(info.Env(), 2);
  r.Set(0u, dxo);
  r.Set(1u, dao);
  return r;
}

// ---- broadcasting binary ops ----------------------------------------------------------------
struct Bcast {
  int64_t out[4];
  int64_t sa[4], sb[4];  // element strides of a and b in the 4-D output index space (0 = broadcast)
  Shape outShape;
};

Shape pad4(const Shape& s) {
  Shape r(4 - s.size(), 1);
  r.insert(r.end(), s.begin(), s.end());
  return r;
}

void strides4(const Shape& p, int64_t* st) {
  int64_t acc = 1;
  for (int d = 3; d >= 0; d--) {
    st[d] = p[d] == 1 ? 0 : acc;
    acc *= p[d];
  }
}

Bcast makeBcast(const NTensor* a, const NTensor* b, const char* op) {
  if (a->shape().size() > 4 || b->shape().size() > 4) {
    fail(op, "supports rank <= 4, got " + shapeStr(a->shape()) + " and " + shapeStr(b->shape()));
  }
  Shape pa = pad4(a->shape()), pb = pad4(b->shape());
  Bcast r;
  for (int d = 0; d < 4; d++) {
    if (pa[d] != pb[d] && pa[d] != 1 && pb[d] != 1) {
      fail(op, "arguments 'a' " + shapeStr(a->shape()) + " and 'b' " + shapeStr(b->shape()) +
                   " cannot be broadcast together (dimension " + std::to_string(d - 4 + int(std::max(a->shape().size(), b->shape().size()))) + ")");
    }
    r.out[d] = std::max(pa[d], pb[d]);
    if (pa[d] == 0 || pb[d] == 0) r.out[d] = 0;
  }
  strides4(pa, r.sa);
  strides4(pb, r.sb);
  size_t rank = std::max(a->shape().size(), b->shape().size());
  r.outShape.assign(r.out + (4 - rank), r.out + 4);
  return r;
}

template <typename F>
void binaryKernel(const Bcast& bc, const float* a, const float* b, float* y, F f) {
  const int64_t D0 = bc.out[0], D1 = bc.out[1], D2 = bc.out[2], D3 = bc.out[3];
  const int64_t rows = D0 * D1 * D2;
  const int64_t a3 = bc.sa[3], b3 = bc.sb[3];
  parallelFor(rows, D3, [&](int64_t r) {
    int64_t i2 = r % D2, i1 = (r / D2) % D1, i0 = r / (D1 * D2);
    const float* ar = a + i0 * bc.sa[0] + i1 * bc.sa[1] + i2 * bc.sa[2];
    const float* br = b + i0 * bc.sb[0] + i1 * bc.sb[1] + i2 * bc.sb[2];
    float* yr = y + r * D3;
    if (a3 && b3) {
#pragma omp simd
      for (int64_t c = 0; c < D3; c++) yr[c] = f(ar[c], br[c]);
    } else if (a3) {
      const float bv = br[0];
#pragma omp simd
      for (int64_t c = 0; c < D3; c++) yr[c] = f(ar[c], bv);
    } else if (b3) {
      const float av = ar[0];
#pragma omp simd
      for (int64_t c = 0; c < D3; c++) yr[c] = f(av, br[c]);
    } else {
      const float v = f(ar[0], br[0]);
      for (int64_t c = 0; c < D3; c++) yr[c] = v;
    }
  });
}

// math::BinaryKind of a kind name
int binaryKind(const std::string& kind) {
  static const char* names[] = {"add", "sub", "mul", "div", "max", "min", "maxShare"};
  for (int k = 0; k < 7; k++)
    if (kind == names[k]) return k;
  fail("binary", "argument 'kind' must be add|sub|mul|div|max|min|maxShare, got '" + kind + "'");
}

// binary(kind, a, b) with kind in add|sub|mul|div|max|min
Napi::Value Binary(const Napi::CallbackInfo& info) {
  std::string kind = stringArg(info, 0, "binary", "kind");
  std::string opname = kind;
  NTensor* a = tensorArg(info, 1, opname.c_str(), "a");
  NTensor* b = tensorArg(info, 2, opname.c_str(), "b");
  Bcast bc = makeBcast(a, b, opname.c_str());
  [[maybe_unused]] const int k = binaryKind(kind);  // validates the kind; the CUDA twin takes the number
  SCSE_ON_CUDA(deviceOf(opname.c_str(), {{"a", a}, {"b", b}}), cudaops::binary(info.Env(), k, a, b, bc.outShape));
  Napi::Object out = NTensor::New(info.Env(), bc.outShape, DType::F32);
  float* y = NTensor::Unwrap(out)->f32();
  const float *ap = a->f32(), *bp = b->f32();
  using namespace math;
  if (kind == "add") binaryKernel(bc, ap, bp, y, [](float u, float v) { return binaryApply<kBinAdd>(u, v); });
  else if (kind == "sub") binaryKernel(bc, ap, bp, y, [](float u, float v) { return binaryApply<kBinSub>(u, v); });
  else if (kind == "mul") binaryKernel(bc, ap, bp, y, [](float u, float v) { return binaryApply<kBinMul>(u, v); });
  else if (kind == "div") binaryKernel(bc, ap, bp, y, [](float u, float v) { return binaryApply<kBinDiv>(u, v); });
  else if (kind == "max") binaryKernel(bc, ap, bp, y, [](float u, float v) { return binaryApply<kBinMax>(u, v); });
  else if (kind == "min") binaryKernel(bc, ap, bp, y, [](float u, float v) { return binaryApply<kBinMin>(u, v); });
  // a's share of a max's gradient (ties split equally): used by the max/min backward
  else if (kind == "maxShare") binaryKernel(bc, ap, bp, y, [](float u, float v) { return binaryApply<kBinMaxShare>(u, v); });
  else fail("binary", "argument 'kind' must be add|sub|mul|div|max|min|maxShare, got '" + kind + "'");
  return out;
}

// ---- sumTo: reduce x to a shape it broadcasts to (gradients of broadcasting ops, sums, means)
Napi::Value SumTo(const Napi::CallbackInfo& info) {
  NTensor* x = tensorArg(info, 0, "sumTo", "x");
  Shape target = shapeArg(info, 1, "sumTo", "shape");
  if (x->shape().size() > 4 || target.size() > x->shape().size()) {
    fail("sumTo", "cannot reduce " + shapeStr(x->shape()) + " to " + shapeStr(target));
  }
  Shape px = pad4(x->shape()), pt = pad4(target);
  for (int d = 0; d < 4; d++) {
    if (pt[d] != 1 && pt[d] != px[d]) fail("sumTo", "cannot reduce " + shapeStr(x->shape()) + " to " + shapeStr(target));
  }
  SCSE_ON_CUDA(deviceOf("sumTo", {{"x", x}}), cudaops::sumTo(info.Env(), x, target));
  Napi::Object out = NTensor::New(info.Env(), target, DType::F32);
  float* y = NTensor::Unwrap(out)->f32();
  const float* xs = x->f32();
  int64_t ost[4];
  strides4(pt, ost);
  const int64_t on = numel(target), D3 = px[3], rows = px[0] * px[1] * px[2];
  const int nt = omp_get_max_threads();
  // Each thread accumulates its share of the rows into a private double buffer of the output's
  // size; buffers are summed at the end (deterministic for a fixed thread count).
  std::vector<double> partial(size_t(nt) * size_t(on), 0.0);
#pragma omp parallel if (x->numel() > kParallelGrain)
  {
    double* acc = partial.data() + size_t(omp_get_thread_num()) * size_t(on);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      int64_t i2 = r % px[2], i1 = (r / px[2]) % px[1], i0 = r / (px[1] * px[2]);
      double* ar = acc + i0 * ost[0] + i1 * ost[1] + i2 * ost[2];
      const float* xr = xs + r * D3;
      if (ost[3]) {
        for (int64_t c = 0; c < D3; c++) ar[c] += xr[c];
      } else {
        double s = 0;
        for (int64_t c = 0; c < D3; c++) s += xr[c];
        ar[0] += s;
      }
    }
  }
  for (int64_t i = 0; i < on; i++) {
    double s = 0;
    for (int t = 0; t < nt; t++) s += partial[size_t(t) * size_t(on) + size_t(i)];
    y[i] = float(s);
  }
  return out;
}

// ---- channel (last-axis) concat and split ----------------------------------------------------
Napi::Value ConcatLast(const Napi::CallbackInfo& info) {
  std::vector<NTensor*> xs = tensorListArg(info, 0, "concat", "xs");
  if (xs.empty()) fail("concat", "argument 'xs' must hold at least one tensor");
  Shape s0 = xs[0]->shape();
  if (s0.empty()) fail("concat", "argument 'xs[0]' must have rank >= 1");
  int64_t total = 0;
  for (size_t k = 0; k < xs.size(); k++) {
    const Shape& s = xs[k]->shape();
    if (s.size() != s0.size() || !std::equal(s.begin(), s.end() - 1, s0.begin())) {
      fail("concat", "argument 'xs[" + std::to_string(k) + "]' " + shapeStr(s) + " must match 'xs[0]' " + shapeStr(s0) +
                         " in every dimension but the last");
    }
    total += s.back();
  }
  Shape os = s0;
  os.back() = total;
  SCSE_ON_CUDA(deviceOf("concat", "xs", xs), cudaops::concat(info.Env(), xs, os));
  Napi::Object out = NTensor::New(info.Env(), os, DType::F32);
  float* y = NTensor::Unwrap(out)->f32();
  int64_t rows = numel(os) / std::max<int64_t>(total, 1);
  parallelFor(rows, total, [&](int64_t r) {
    float* yr = y + r * total;
    for (NTensor* t : xs) {
      int64_t c = t->shape().back();
      std::memcpy(yr, t->f32() + r * c, size_t(c) * 4);
      yr += c;
    }
  });
  return out;
}

// split(x, sizes) -> tensors holding consecutive slices of the last axis
Napi::Value SplitLast(const Napi::CallbackInfo& info) {
  NTensor* x = tensorArg(info, 0, "split", "x");
  std::vector<int64_t> sizes = intsArg(info, 1, "split", "sizes");
  if (x->shape().empty()) fail("split", "argument 'x' must have rank >= 1");
  int64_t C = x->shape().back(), sum = 0;
  for (auto s : sizes) {
    if (s < 0) fail("split", "argument 'sizes' must be non-negative");
    sum += s;
  }
  if (sum != C) {
    fail("split", "argument 'sizes' sums to " + std::to_string(sum) + " but 'x' " + shapeStr(x->shape()) + " has " +
                      std::to_string(C) + " channels");
  }
  SCSE_ON_CUDA(deviceOf("split", {{"x", x}}), cudaops::split(info.Env(), x, sizes));
  int64_t rows = x->numel() / std::max<int64_t>(C, 1);
  Napi::Array outs = Napi::Array::New(info.Env(), sizes.size());
  std::vector<float*> ptrs;
  for (size_t k = 0; k < sizes.size(); k++) {
    Shape s = x->shape();
    s.back() = sizes[k];
    Napi::Object o = NTensor::New(info.Env(), s, DType::F32);
    ptrs.push_back(NTensor::Unwrap(o)->f32());
    outs.Set(uint32_t(k), o);
  }
  const float* xs = x->f32();
  parallelFor(rows, C, [&](int64_t r) {
    const float* xr = xs + r * C;
    for (size_t k = 0; k < sizes.size(); k++) {
      std::memcpy(ptrs[k] + r * sizes[k], xr, size_t(sizes[k]) * 4);
      xr += sizes[k];
    }
  });
  return outs;
}

// ---- softmax over the last axis ----------------------------------------------------------------
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  NTensor* x = tensorArg(info, 0, "softmax", "x");
  if (x->shape().empty()) fail("softmax", "argument 'x' must have rank >= 1");
  SCSE_ON_CUDA(deviceOf("softmax", {{"x", x}}), cudaops::softmax(info.Env(), x));
  int64_t K = x->shape().back(), rows = x->numel() / std::max<int64_t>(K, 1);
  Napi::Object out = NTensor::New(info.Env(), x->shape(), DType::F32);
  float* y = NTensor::Unwrap(out)->f32();
  const float* xs = x->f32();
  parallelFor(rows, K * 4, [&](int64_t r) { math::softmaxLastAxisRow(xs + r * K, K, y + r * K); });
  return out;
}

// softmaxBackward(y, dy): dx = y * (dy - sum(dy * y))
Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  NTensor* y = tensorArg(info, 0, "softmaxBackward", "y");
  NTensor* dy = tensorArg(info, 1, "softmaxBackward", "dy");
  expectSameShape(y, dy, "softmaxBackward", "y", "dy");
  SCSE_ON_CUDA(deviceOf("softmaxBackward", {{"y", y}, {"dy", dy}}), cudaops::softmaxBackward(info.Env(), y, dy));
  int64_t K = y->shape().back(), rows = y->numel() / std::max<int64_t>(K, 1);
  Napi::Object out = NTensor::New(info.Env(), y->shape(), DType::F32);
  float* dx = NTensor::Unwrap(out)->f32();
  const float *ys = y->f32(), *g = dy->f32();
  parallelFor(rows, K * 2, [&](int64_t r) { math::softmaxBackwardRow(ys + r * K, g + r * K, K, dx + r * K); });
  return out;
}

}  // namespace

void registerEltwise(Napi::Env, Napi::Object exports) {
  SCSE_EXPORT(exports, "relu", Relu);
  SCSE_EXPORT(exports, "reluBackward", ReluBackward);
  SCSE_EXPORT(exports, "sigmoid", Sigmoid);
  SCSE_EXPORT(exports, "sigmoidBackward", SigmoidBackward);
  SCSE_EXPORT(exports, "affine", Affine);
  SCSE_EXPORT(exports, "prelu", Prelu);
  SCSE_EXPORT(exports, "preluBackward", PreluBackward);
  SCSE_EXPORT(exports, "binary", Binary);
  SCSE_EXPORT(exports, "sumTo", SumTo);
  SCSE_EXPORT(exports, "concat", ConcatLast);
  SCSE_EXPORT(exports, "split", SplitLast);
  SCSE_EXPORT(exports, "softmax", Softmax);
  SCSE_EXPORT(exports, "softmaxBackward", SoftmaxBackward);
}

}  // namespace scse
