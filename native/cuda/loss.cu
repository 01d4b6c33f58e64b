// Softmax cross-entropy and soft Dice losses over [P, K] logits: the CUDA twins of
// native/cpu/loss.cc (see ops.h), per-pixel math from math/loss.h. One thread per pixel computes
// the softmax (and the pixel's cross-entropy); the batch sums go through the deterministic
// column reduction (reduce.cuh) in chunks of 2048 pixels, the CPU's chunk size.
#include <vector>

#include "cuda/ops.h"
#include "cuda/reduce.cuh"
#include "math/loss.h"

namespace scse::cuda {
namespace {

using detail::checkCall;
using detail::checkLaunch;
using detail::flagFirst;
using detail::gridFor;
using detail::kBlock;
using detail::resetFlags;
using detail::streamOf;

constexpr int64_t kPixelsPerChunk = 2048;  // as native/cpu/loss.cc

// NaN and ±Inf compare false.
__device__ __forceinline__ bool finite(float v) { return fabsf(v) <= 3.402823466e38f; }

// Checks one pixel's logits and label (flags: first bad logit's flat index, first bad pixel).
__device__ bool pixelOk(const float* xr, int64_t i, int64_t K, int32_t l, int64_t* bad) {
  bool ok = true;
  for (int64_t k = 0; k < K; k++) {
    if (!finite(xr[k])) {
      if (bad) flagFirst(bad, i * K + k);
      ok = false;
      break;
    }
  }
  if (l < 0 || l >= K) {
    if (bad) flagFirst(bad + 1, i);
    ok = false;
  }
  return ok;
}

// probs and the per-pixel cross-entropy; a failing pixel gets zeros (the call fails anyway).
__global__ void xentKernel(const float* x, const int32_t* lab, const float* w, int64_t P, int64_t K, float* probs,
                           float* ce, int64_t* bad) {
  SCSE_GRID_LOOP(i, P) {
    const float* xr = x + i * K;
    float* pr = probs + i * K;
    const int32_t l = lab[i];
    const bool ok = pixelOk(xr, i, K, l, bad);
    if (w && !finite(w[i]) && bad) flagFirst(bad + 2, i);
    if (!ok) {
      for (int64_t k = 0; k < K; k++) pr[k] = 0.0f;
      ce[i] = 0.0f;
      continue;
    }
    ce[i] = math::softmaxXentRow(xr, int(K), l, pr);
  }
}

struct WeightedXent {  // w_i * ce_i in double, as the CPU accumulates
  const float *w, *ce;
  __device__ double operator()(int64_t r, int64_t) const { return double(w ? w[r] : 1.0f) * double(ce[r]); }
};

struct StoreMean {  // loss = float(total / P)
  float* loss;
  double P;
  __device__ void operator()(int64_t, double s) const { loss[0] = float(s / P); }
};

__global__ void xentGradKernel(const float* p, const int32_t* lab, const float* w, const float* dy, int64_t P, int64_t K,
                               float* dx) {
  const float gOverP = float(double(dy[0]) / double(P));
  SCSE_GRID_LOOP(i, P) {
    const float scale = w ? w[i] * gOverP : gOverP;
    const int32_t l = lab[i];
    for (int64_t k = 0; k < K; k++) dx[i * K + k] = math::softmaxXentGrad(p[i * K + k], k == l, scale);
  }
}

__global__ void diceSoftmaxKernel(const float* x, const int32_t* lab, int64_t P, int64_t K, float* probs, int64_t* bad) {
  SCSE_GRID_LOOP(i, P) {
    float* pr = probs + i * K;
    if (!pixelOk(x + i * K, i, K, lab[i], bad)) {
      for (int64_t k = 0; k < K; k++) pr[k] = 0.0f;
      continue;
    }
    math::softmaxRow(x + i * K, int(K), pr);
  }
}

// Columns [0, K): I_k = p_k [l == k]; [K, 2K): Sp_k = p_k; [2K, 3K): G_k = [l == k].
struct DiceTerms {
  const float* p;
  const int32_t* lab;
  int64_t K;
  __device__ double operator()(int64_t r, int64_t c) const {
    const int64_t which = c / K, k = c % K;
    const bool hit = lab[r] == k;
    if (which == 0) return hit ? double(p[r * K + k]) : 0.0;
    if (which == 1) return double(p[r * K + k]);
    return hit ? 1.0 : 0.0;
  }
};

// One thread: the loss from the sums, in the classes' order (as the CPU).
__global__ void diceLossKernel(const double* tot, int64_t K, const int32_t* classes, int64_t count, double eps,
                               double smoothNr, float* loss) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  double diceSum = 0.0;
  for (int64_t j = 0; j < count; j++) {
    const int64_t k = classes[j];
    diceSum += math::diceFromSums(tot[k], tot[K + k], tot[2 * K + k], eps, smoothNr);
  }
  loss[0] = float(1.0 - diceSum / double(count));
}

__global__ void toFloatKernel(const double* src, float* dst, int64_t n) {
  SCSE_GRID_LOOP(i, n) dst[i] = float(src[i]);
}

__global__ void labelCheckKernel(const int32_t* lab, int64_t P, int64_t K, int64_t* bad) {
  SCSE_GRID_LOOP(i, P) {
    if (lab[i] < 0 || lab[i] >= K) flagFirst(bad, i);
  }
}

// a, b (zeroed, [K]) at the selected classes: the coefficients of dL/dp (math/loss.h).
__global__ void diceCoefKernel(const float* stats, int64_t K, const int32_t* classes, int64_t count, double eps,
                               double smoothNr, const float* dy, float* a, float* b) {
  const double dyOverC = double(dy[0]) / double(count);
  SCSE_GRID_LOOP(j, count) {
    const int64_t k = classes[j];
    math::diceCoefficients(stats[k], stats[K + k], stats[2 * K + k], eps, smoothNr, dyOverC, a + k, b + k);
  }
}

__global__ void diceGradKernel(const float* p, const int32_t* lab, int64_t P, int64_t K, const float* a, const float* b,
                               float* dx) {
  SCSE_GRID_LOOP(i, P) math::diceGradRow(p + i * K, int(K), lab[i], a, b, dx + i * K);
}

// The class list on the device (stream-ordered copy from the caller's host array).
detail::Scratch<int32_t> deviceClasses(int device, const int32_t* hostClasses, int64_t count) {
  detail::Scratch<int32_t> d(device, count);
  copyToDevice(device, d.get(), hostClasses, size_t(count) * sizeof(int32_t));
  return d;
}

}  // namespace

void softmaxCrossEntropyForward(int device, const float* logits, const int32_t* labels, const float* weights, int64_t P,
                                int64_t K, float* loss, float* probs, int64_t* bad) {
  const char* op = "softmaxCrossEntropy";
  cudaStream_t st = streamOf(device);
  if (bad) resetFlags(bad, 3, st, op);
  detail::Scratch<float> ce(device, P);
  xentKernel<<<gridFor(P), kBlock, 0, st>>>(logits, labels, weights, P, K, probs, ce.get(), bad);
  checkLaunch(op);
  detail::reduceColumns(device, st, P, 1, kPixelsPerChunk, WeightedXent{weights, ce.get()}, StoreMean{loss, double(P)}, op);
}

void softmaxCrossEntropyBackward(int device, const float* probs, const int32_t* labels, const float* weights,
                                 const float* dy, int64_t P, int64_t K, float* dx) {
  cudaStream_t st = streamOf(device);
  xentGradKernel<<<gridFor(P), kBlock, 0, st>>>(probs, labels, weights, dy, P, K, dx);
  checkLaunch("softmaxCrossEntropyBackward");
}

void diceLossForward(int device, const float* logits, const int32_t* labels, int64_t P, int64_t K,
                     const int32_t* hostClasses, int64_t classCount, double eps, double smoothNr, float* loss,
                     float* probs, float* stats, int64_t* bad) {
  const char* op = "diceLoss";
  cudaStream_t st = streamOf(device);
  if (bad) resetFlags(bad, 2, st, op);
  diceSoftmaxKernel<<<gridFor(P), kBlock, 0, st>>>(logits, labels, P, K, probs, bad);
  checkLaunch(op);
  detail::Scratch<double> tot(device, 3 * K);
  detail::reduceColumns(device, st, P, 3 * K, kPixelsPerChunk, DiceTerms{probs, labels, K}, detail::StoreDouble{tot.get()},
                        op);
  detail::Scratch<int32_t> classes = deviceClasses(device, hostClasses, classCount);
  diceLossKernel<<<1, 1, 0, st>>>(tot.get(), K, classes.get(), classCount, eps, smoothNr, loss);
  checkLaunch(op);
  toFloatKernel<<<gridFor(3 * K), kBlock, 0, st>>>(tot.get(), stats, 3 * K);
  checkLaunch(op);
}

void diceLossBackward(int device, const float* probs, const int32_t* labels, const float* stats, int64_t P, int64_t K,
                      const int32_t* hostClasses, int64_t classCount, double eps, double smoothNr, const float* dy,
                      float* dx, int64_t* bad) {
  const char* op = "diceLossBackward";
  cudaStream_t st = streamOf(device);
  if (bad) {
    resetFlags(bad, 1, st, op);
    labelCheckKernel<<<gridFor(P), kBlock, 0, st>>>(labels, P, K, bad);
    checkLaunch(op);
  }
  detail::Scratch<float> ab(device, 2 * K);  // a [K], b [K]: zero outside the selected classes
  checkCall(cudaMemsetAsync(ab.get(), 0, size_t(2 * K) * sizeof(float), st), op, "cudaMemsetAsync");
  detail::Scratch<int32_t> classes = deviceClasses(device, hostClasses, classCount);
  diceCoefKernel<<<gridFor(classCount), kBlock, 0, st>>>(stats, K, classes.get(), classCount, eps, smoothNr, dy, ab.get(),
                                                          ab.get() + K);
  checkLaunch(op);
  diceGradKernel<<<gridFor(P), kBlock, 0, st>>>(probs, labels, P, K, ab.get(), ab.get() + K, dx);
  checkLaunch(op);
}

}  // namespace scse::cuda
