// Fused softmax + cross-entropy over the last axis (classes) of NHWC logits, with optional
// per-pixel weights: loss = sum_i w_i * (-log softmax(x_i)[label_i]) / P, P = number of pixels.
// The forward also returns the softmax, which is all the backward needs.
// Also the soft Dice loss over the same layout (below), whose softmax is likewise computed once.
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

// The shapes shared by the cross-entropy and the Dice loss: x [..., K] (logits or probs), labels
// x's shape without the class axis, weights (if any) the same; at least one pixel and one class.
Args checkPixels(const char* op, const char* xName, NTensor* x, NTensor* labels, NTensor* w) {
  Args a{x, labels, w, 0, 0};
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

Args checkArgs(const Napi::CallbackInfo& info, const char* op, const char* xName) {
  NTensor* x = tensorArg(info, 0, op, xName);
  NTensor* labels = tensorArg(info, 1, op, "labels", DType::I32);
  NTensor* w = tensorArg(info, 2, op, "weights", DType::F32, true);
  return checkPixels(op, xName, x, labels, w);
}

// The first non-finite logit (flat index) and out-of-range label (pixel) of each chunk of pixels,
// -1 for none: noted inside the parallel loops, raised after them (lowest chunk first).
struct BadPixels {
  std::vector<int64_t> x, label;
  explicit BadPixels(int64_t chunks) : x(size_t(chunks), -1), label(size_t(chunks), -1) {}

  // Whether pixel i of chunk c (logits xr[0..K), label l) can be used; notes a first offender.
  bool check(int64_t c, int64_t i, const float* xr, int64_t K, int32_t l) {
    bool finite = true;
    for (int64_t k = 0; k < K; k++) {
      if (!std::isfinite(xr[k])) {
        if (x[c] < 0) x[c] = i * K + k;
        finite = false;
        break;
      }
    }
    const bool labelOk = l >= 0 && l < K;
    if (!labelOk && label[c] < 0) label[c] = i;
    return finite && labelOk;
  }

  // Fails on the first non-finite logit if any, else on the first bad label.
  void raise(const char* op, const float* logits, const Shape& xs, const int32_t* lab, const Shape& ls) const {
    const int64_t K = xs.back();
    for (int64_t b : x) {
      if (b >= 0) fail(op, "argument 'logits' contains NaN/Inf at " + indexStr(b, xs) + " (value " + numStr(logits[b]) + ")");
    }
    for (int64_t b : label) {
      if (b >= 0) {
        fail(op, "argument 'labels' has " + std::to_string(lab[b]) + " at " + indexStr(b, ls) + ", outside the class range [0, " + std::to_string(K) +
                     ") of 'logits' " + shapeStr(xs));
      }
    }
  }
};

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
  BadPixels bad(chunks);
  std::vector<int64_t> badW(size_t(chunks), -1);  // first non-finite weight per chunk, likewise
  parallelFor(chunks, kPixelsPerChunk * K * 4, [&](int64_t c) {
    const int64_t i1 = std::min(P, (c + 1) * kPixelsPerChunk);
    double acc = 0.0;
    for (int64_t i = c * kPixelsPerChunk; i < i1; i++) {
      const float* xr = x + i * K;
      float* pr = probs + i * K;
      const int32_t l = lab[i];
      const bool ok = bad.check(c, i, xr, K, l);
      const float wi = w ? w[i] : 1.0f;
      if (!std::isfinite(wi) && badW[c] < 0) badW[c] = i;
      if (!ok) continue;  // the call fails below; skip the (out-of-range) read
      const float ce = math::softmaxXentRow(xr, int(K), l, pr);
      acc += double(wi) * double(ce);
    }
    partial[size_t(c)] = acc;
  });
  bad.raise(kOp, x, a.x->shape(), lab, a.labels->shape());
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

// ---- soft Dice loss -------------------------------------------------------------------------
// L = 1 - (1/|C|) sum_{k in C} (2 I_k + smoothNr) / (Sp_k + G_k + eps), with the sums over every
// pixel of the batch: I_k = sum_i p_ik [l_i == k], Sp_k = sum_i p_ik, G_k = sum_i [l_i == k],
// p = softmax(logits) computed once here. The forward returns the softmax and the sums
// (stats [3, K]: I, Sp, G), which is all the backward needs.

const char* kDice = "diceLoss";
const char* kDiceBack = "diceLossBackward";

// The selected classes: a non-empty list of distinct indices in [0, K).
std::vector<int32_t> classesArg(const Napi::CallbackInfo& info, size_t i, const char* op, int64_t K) {
  std::vector<int64_t> c = intsArg(info, i, op, "classes");
  if (c.empty()) fail(op, "argument 'classes' must list at least one class");
  std::vector<bool> seen(size_t(K), false);
  std::vector<int32_t> r;
  for (int64_t k : c) {
    if (k < 0 || k >= K) fail(op, "argument 'classes' has " + std::to_string(k) + ", outside [0, " + std::to_string(K) + ")");
    if (seen[size_t(k)]) fail(op, "argument 'classes' lists class " + std::to_string(k) + " twice");
    seen[size_t(k)] = true;
    r.push_back(int32_t(k));
  }
  return r;
}

double nonNegArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* arg) {
  const double v = numberArg(info, i, op, arg);
  if (!std::isfinite(v) || v < 0) fail(op, std::string("argument '") + arg + "' must be a finite number >= 0, got " + numStr(v));
  return v;
}

// diceLoss(logits, labels, classes, eps, smoothNr) -> [loss (shape []), probs, stats [3, K]]
Napi::Value DiceLoss(const Napi::CallbackInfo& info) {
  NTensor* xt = tensorArg(info, 0, kDice, "logits");
  NTensor* lt = tensorArg(info, 1, kDice, "labels", DType::I32);
  const Args a = checkPixels(kDice, "logits", xt, lt, nullptr);
  const int64_t K = a.K, P = a.P;
  const Shape& xs = xt->shape();
  const std::vector<int32_t> classes = classesArg(info, 2, kDice, K);
  const double eps = nonNegArg(info, 3, kDice, "eps");
  const double smoothNr = nonNegArg(info, 4, kDice, "smoothNr");

  auto probStore = std::make_shared<Storage>(size_t(xt->numel()) * sizeof(float));
  float* probs = static_cast<float*>(probStore->ptr);
  const float* x = xt->f32();
  const int32_t* lab = lt->i32();
  // Per-chunk sums in double, added in chunk order: the result does not depend on threads.
  const int64_t chunks = (P + kPixelsPerChunk - 1) / kPixelsPerChunk;
  std::vector<double> partial(size_t(chunks * 3 * K), 0.0);
  BadPixels bad(chunks);
  parallelFor(chunks, kPixelsPerChunk * K * 4, [&](int64_t c) {
    double* I = partial.data() + c * 3 * K;
    double* Sp = I + K;
    double* G = Sp + K;
    const int64_t i1 = std::min(P, (c + 1) * kPixelsPerChunk);
    for (int64_t i = c * kPixelsPerChunk; i < i1; i++) {
      const float* xr = x + i * K;
      float* pr = probs + i * K;
      const int32_t l = lab[i];
      if (!bad.check(c, i, xr, K, l)) continue;  // the call fails below
      math::softmaxRow(xr, int(K), pr);
      for (int64_t k = 0; k < K; k++) Sp[k] += pr[k];
      I[l] += pr[l];
      G[l] += 1.0;
    }
  });
  bad.raise(kDice, x, xs, lab, lt->shape());
  std::vector<double> tot(size_t(3 * K), 0.0);
  for (int64_t c = 0; c < chunks; c++) {
    for (int64_t j = 0; j < 3 * K; j++) tot[size_t(j)] += partial[size_t(c * 3 * K + j)];
  }
  double diceSum = 0.0;
  for (int32_t k : classes) diceSum += math::diceFromSums(tot[size_t(k)], tot[size_t(K + k)], tot[size_t(2 * K + k)], eps, smoothNr);
  Napi::Object lossObj = NTensor::New(info.Env(), {}, DType::F32);
  NTensor::Unwrap(lossObj)->f32()[0] = float(1.0 - diceSum / double(classes.size()));
  Napi::Object statsObj = NTensor::New(info.Env(), {3, K}, DType::F32);
  float* st = NTensor::Unwrap(statsObj)->f32();
  for (int64_t j = 0; j < 3 * K; j++) st[j] = float(tot[size_t(j)]);
  Napi::Array r = Napi::Array::New(info.Env(), 3);
  r.Set(0u, lossObj);
  r.Set(1u, NTensor::Wrap(info.Env(), probStore, xs, DType::F32));
  r.Set(2u, statsObj);
  return r;
}

// diceLossBackward(probs, labels, stats [3, K], classes, eps, smoothNr, dy (one element)) -> dlogits
Napi::Value DiceLossBackward(const Napi::CallbackInfo& info) {
  NTensor* pt = tensorArg(info, 0, kDiceBack, "probs");
  NTensor* lt = tensorArg(info, 1, kDiceBack, "labels", DType::I32);
  NTensor* st = tensorArg(info, 2, kDiceBack, "stats");
  const Shape& ps = pt->shape();
  if (ps.size() < 2) fail(kDiceBack, "argument 'probs' expected rank >= 2 ([N, H, W, K] NHWC), got shape " + shapeStr(ps));
  Shape pix(ps.begin(), ps.end() - 1);
  if (lt->shape() != pix) fail(kDiceBack, "argument 'labels' expected shape " + shapeStr(pix) + ", got " + shapeStr(lt->shape()));
  const int64_t K = ps.back(), P = numel(pix);
  if (K < 1 || P < 1) fail(kDiceBack, "argument 'probs' must have at least one pixel and one class, got shape " + shapeStr(ps));
  if (st->shape() != Shape{3, K}) fail(kDiceBack, "argument 'stats' expected shape [3, " + std::to_string(K) + "], got " + shapeStr(st->shape()));
  const std::vector<int32_t> classes = classesArg(info, 3, kDiceBack, K);
  const double eps = nonNegArg(info, 4, kDiceBack, "eps");
  const double smoothNr = nonNegArg(info, 5, kDiceBack, "smoothNr");
  NTensor* dy = tensorArg(info, 6, kDiceBack, "dy");
  if (dy->numel() != 1) fail(kDiceBack, "argument 'dy' must have one element, got shape " + shapeStr(dy->shape()));
  const int32_t* lab = lt->i32();
  for (int64_t i = 0; i < P; i++) {
    if (lab[i] < 0 || lab[i] >= K) fail(kDiceBack, "argument 'labels' has " + std::to_string(lab[i]) + " at " + indexStr(i, pix) + ", outside [0, " + std::to_string(K) + ")");
  }
  // per-class coefficients of dL/dp (zero outside the selected classes)
  std::vector<float> a(size_t(K), 0.0f), b(size_t(K), 0.0f);
  const float* s = st->f32();
  const double dyOverC = double(dy->f32()[0]) / double(classes.size());
  for (int32_t k : classes) math::diceCoefficients(s[k], s[K + k], s[2 * K + k], eps, smoothNr, dyOverC, &a[size_t(k)], &b[size_t(k)]);
  Napi::Object out = NTensor::New(info.Env(), ps, DType::F32);
  float* dx = NTensor::Unwrap(out)->f32();
  const float* p = pt->f32();
  parallelFor(P, K * 4, [&](int64_t i) { math::diceGradRow(p + i * K, int(K), lab[i], a.data(), b.data(), dx + i * K); });
  return out;
}

}  // namespace

void registerLoss(Napi::Env, Napi::Object exports) {
  SCSE_EXPORT(exports, "softmaxCrossEntropy", SoftmaxCrossEntropy);
  SCSE_EXPORT(exports, "softmaxCrossEntropyBackward", SoftmaxCrossEntropyBackward);
  SCSE_EXPORT(exports, "diceLoss", DiceLoss);
  SCSE_EXPORT(exports, "diceLossBackward", DiceLossBackward);
}

}  // namespace scse
