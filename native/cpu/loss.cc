// Fused softmax + cross-entropy over the last axis (classes) of NHWC logits, with optional
// per-pixel weights: loss = sum_i w_i * (-log softmax(x_i)[label_i]) / P, P = number of pixels.
// The forward also returns the softmax, which is all the backward needs.
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "core/registry.h"
#include "cpu/parallel.h"
#include "math/loss.h"

namespace scse {
namespace {

const char* kOp = "softmaxCrossEntropy";
const char* kOpBack = "softmaxCrossEntropyBackward";

// Pixels per chunk: partial sums are per chunk and added in chunk order, so the loss does not
// depend on the thread count.
constexpr int64_t kPixelsPerChunk = 2048;

std::string indexStr(int64_t flat, const Shape& s) {
  Shape idx(s.size());
  for (size_t d = s.size(); d-- > 0;) {
    idx[d] = s[d] ? flat % s[d] : 0;
    flat = s[d] ? flat / s[d] : 0;
  }
  return shapeStr(idx);
}

std::string numStr(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Inf" : "-Inf";
  return std::to_string(v);
}

// logits [..., K] float32, labels [...] int32, weights [...] float32 or null
struct Args {
  NTensor* x;
  NTensor* labels;
  NTensor* w;
  int64_t K, P;
};

Args checkArgs(const Napi::CallbackInfo& info, const char* op, const char* xName) {
  Args a;
  a.x = tensorArg(info, 0, op, xName);
  a.labels = tensorArg(info, 1, op, "labels", DType::I32);
  a.w = tensorArg(info, 2, op, "weights", DType::F32, true);
  const Shape& xs = a.x->shape();
  if (xs.size() < 2) fail(op, std::string("argument '") + xName + "' expected rank >= 2 ([N, H, W, K] NHWC), got shape " + shapeStr(xs));
  Shape pix(xs.begin(), xs.end() - 1);
  if (a.labels->shape() != pix) {
    fail(op, "argument 'labels' expected shape " + shapeStr(pix) + " ('" + xName + "' " + shapeStr(xs) +
                 " without the class axis), got " + shapeStr(a.labels->shape()));
  }
  if (a.w && a.w->shape() != pix) {
    fail(op, "argument 'weights' expected shape " + shapeStr(pix) + " (one weight per pixel of '" + xName + "' " +
                 shapeStr(xs) + "), got " + shapeStr(a.w->shape()));
  }
  a.K = xs.back();
  a.P = numel(pix);
  if (a.K < 1 || a.P < 1) fail(op, std::string("argument '") + xName + "' must have at least one pixel and one class, got shape " + shapeStr(xs));
  if (a.K > INT32_MAX) fail(op, "too many classes: " + std::to_string(a.K));
  return a;
}

// softmaxCrossEntropy(logits, labels, weights|null) -> [loss (shape []), probs]
Napi::Value SoftmaxCrossEntropy(const Napi::CallbackInfo& info) {
  Args a = checkArgs(info, kOp, "logits");
  const int64_t K = a.K, P = a.P;
  // Outputs are wrapped as JS handles only on success: a failed call leaves no live tensor.
  auto probStore = std::make_shared<Storage>(size_t(a.x->numel()) * sizeof(float));
  float* probs = static_cast<float*>(probStore->ptr);
  const float* x = a.x->f32();
  const int32_t* lab = a.labels->i32();
  const float* w = a.w ? a.w->f32() : nullptr;

  const int64_t chunks = (P + kPixelsPerChunk - 1) / kPixelsPerChunk;
  std::vector<double> partial(size_t(chunks), 0.0);
  // first offending flat index per chunk (-1: none); errors are raised after the parallel loop
  std::vector<int64_t> badX(size_t(chunks), -1), badLabel(size_t(chunks), -1), badW(size_t(chunks), -1);
  parallelFor(chunks, kPixelsPerChunk * K * 4, [&](int64_t c) {
    const int64_t i1 = std::min(P, (c + 1) * kPixelsPerChunk);
    double acc = 0.0;
    for (int64_t i = c * kPixelsPerChunk; i < i1; i++) {
      const float* xr = x + i * K;
      float* pr = probs + i * K;
      bool finite = true;
      for (int64_t k = 0; k < K; k++) {
        if (!std::isfinite(xr[k])) {
          if (badX[c] < 0) badX[c] = i * K + k;
          finite = false;
          break;
        }
      }
      const int32_t l = lab[i];
      const bool labelOk = l >= 0 && l < K;
      if (!labelOk && badLabel[c] < 0) badLabel[c] = i;
      const float wi = w ? w[i] : 1.0f;
      if (!std::isfinite(wi) && badW[c] < 0) badW[c] = i;
      if (!finite || !labelOk) continue;  // the call fails below; skip the (out-of-range) read
      const float ce = math::softmaxXentRow(xr, int(K), l, pr);
      acc += double(wi) * double(ce);
    }
    partial[size_t(c)] = acc;
  });
  for (int64_t c = 0; c < chunks; c++) {
    if (badX[c] >= 0) {
      fail(kOp, "argument 'logits' contains NaN/Inf at " + indexStr(badX[c], a.x->shape()) + " (value " + numStr(x[badX[c]]) + ")");
    }
  }
  for (int64_t c = 0; c < chunks; c++) {
    if (badLabel[c] >= 0) {
      fail(kOp, "argument 'labels' has " + std::to_string(lab[badLabel[c]]) + " at " + indexStr(badLabel[c], a.labels->shape()) +
                    ", outside the class range [0, " + std::to_string(K) + ") of 'logits' " + shapeStr(a.x->shape()));
    }
  }
  for (int64_t c = 0; c < chunks; c++) {
    if (badW[c] >= 0) {
      fail(kOp, "argument 'weights' contains NaN/Inf at " + indexStr(badW[c], a.w->shape()) + " (value " + numStr(w[badW[c]]) + ")");
    }
  }
  double total = 0.0;
  for (double s : partial) total += s;
  Napi::Object lossObj = NTensor::New(info.Env(), {}, DType::F32);
  NTensor::Unwrap(lossObj)->f32()[0] = float(total / double(P));
  Napi::Array r = Napi::Array::New(info.Env(), 2);
  r.Set(0u, lossObj);
  r.Set(1u, NTensor::Wrap(info.Env(), probStore, a.x->shape(), DType::F32));
  return r;
}

// softmaxCrossEntropyBackward(probs, labels, weights|null, dy (one element)) -> dlogits
Napi::Value SoftmaxCrossEntropyBackward(const Napi::CallbackInfo& info) {
  Args a = checkArgs(info, kOpBack, "probs");
  NTensor* dy = tensorArg(info, 3, kOpBack, "dy");
  if (dy->numel() != 1) fail(kOpBack, "argument 'dy' must have one element, got shape " + shapeStr(dy->shape()));
  const int64_t K = a.K;
  Napi::Object out = NTensor::New(info.Env(), a.x->shape(), DType::F32);
  float* dx = NTensor::Unwrap(out)->f32();
  const float* p = a.x->f32();
  const int32_t* lab = a.labels->i32();
  const float* w = a.w ? a.w->f32() : nullptr;
  const float gOverP = float(double(dy->f32()[0]) / double(a.P));
  parallelFor(a.P, K * 2, [&](int64_t i) {
    const float scale = w ? w[i] * gOverP : gOverP;
    const int32_t l = lab[i];
    const float* pr = p + i * K;
    float* dr = dx + i * K;
    for (int64_t k = 0; k < K; k++) dr[k] = math::softmaxXentGrad(pr[k], k == l, scale);
  });
  return out;
}

}  // namespace

void registerLoss(Napi::Env, Napi::Object exports) {
  SCSE_EXPORT(exports, "softmaxCrossEntropy", SoftmaxCrossEntropy);
  SCSE_EXPORT(exports, "softmaxCrossEntropyBackward", SoftmaxCrossEntropyBackward);
}

}  // namespace scse
