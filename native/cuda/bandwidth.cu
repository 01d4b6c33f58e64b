// See bandwidth.h: a STREAM-like triad kernel and a device-to-device copy, timed with events.
#include <algorithm>

#include "cuda/bandwidth.h"
#include "cuda/kernels.cuh"

namespace scse::cuda {
namespace {

using detail::checkCall;
using detail::checkLaunch;
using detail::gridFor;
using detail::kBlock;
using detail::Scratch;
using detail::streamOf;

__global__ void initKernel(float* a, float* b, float* c, int64_t n) {
  SCSE_GRID_LOOP(i, n) a[i] = 0.0f, b[i] = 1.0f, c[i] = 2.0f;
}

__global__ void triadKernel(float* a, const float* b, const float* c, float s, int64_t n) {
  SCSE_GRID_LOOP(i, n) a[i] = b[i] + s * c[i];
}

// Runs `body` reps times between events on the device's stream; the best time in seconds.
template <typename F>
double bestSeconds(int device, int reps, const char* op, F&& body) {
  cudaStream_t st = streamOf(device);
  cudaEvent_t t0, t1;
  checkCall(cudaEventCreate(&t0), op, "cudaEventCreate");
  checkCall(cudaEventCreate(&t1), op, "cudaEventCreate");
  double best = 1e30;
  try {
    body(st);  // warm-up
    for (int r = 0; r < reps; r++) {
      checkCall(cudaEventRecord(t0, st), op, "cudaEventRecord");
      body(st);
      checkCall(cudaEventRecord(t1, st), op, "cudaEventRecord");
      checkCall(cudaEventSynchronize(t1), op, "cudaEventSynchronize");
      float ms = 0;
      checkCall(cudaEventElapsedTime(&ms, t0, t1), op, "cudaEventElapsedTime");
      best = std::min(best, double(ms) / 1e3);
    }
  } catch (...) {
    cudaEventDestroy(t0);
    cudaEventDestroy(t1);
    throw;
  }
  cudaEventDestroy(t0);
  cudaEventDestroy(t1);
  return best;
}

}  // namespace

double deviceTriad(int device, size_t bytesPerArray, int reps) {
  const int64_t n = int64_t(bytesPerArray / sizeof(float));
  Scratch<float> a(device, n), b(device, n), c(device, n);
  initKernel<<<gridFor(n), kBlock, 0, streamOf(device)>>>(a.get(), b.get(), c.get(), n);
  checkLaunch("deviceTriad");
  const double sec = bestSeconds(device, reps, "deviceTriad", [&](cudaStream_t st) {
    triadKernel<<<gridFor(n), kBlock, 0, st>>>(a.get(), b.get(), c.get(), 0.5f, n);
    checkLaunch("deviceTriad");
  });
  return 3.0 * double(n) * sizeof(float) / sec / 1e9;
}

double deviceCopy(int device, size_t bytes, int reps) {
  Scratch<char> a(device, int64_t(bytes)), b(device, int64_t(bytes));
  const double sec = bestSeconds(device, reps, "deviceCopy", [&](cudaStream_t st) {
    checkCall(cudaMemcpyAsync(a.get(), b.get(), bytes, cudaMemcpyDeviceToDevice, st), "deviceCopy", "cudaMemcpyAsync");
  });
  return 2.0 * double(bytes) / sec / 1e9;
}

}  // namespace scse::cuda
