// A STREAM-like triad (a = b + s·c) over OpenMP threads: the machine's attainable memory
// bandwidth, measured in the same run as the SE benchmarks so their GB/s can be read against it.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "core/allocator.h"
#include "core/registry.h"

namespace scse {
namespace {

// triad(bytesPerArray, reps) -> best GB/s over reps (counting 2 reads + 1 write per element)
Napi::Value Triad(const Napi::CallbackInfo& info) {
  int64_t bytes = intArg(info, 0, "triad", "bytesPerArray");
  int64_t reps = intArg(info, 1, "triad", "reps");
  if (bytes < 4096 || reps < 1) fail("triad", "arguments must be bytesPerArray >= 4096 and reps >= 1");
  const int64_t n = bytes / 4;
  size_t ra, rb, rc;
  float* a = static_cast<float*>(cpuAlloc(size_t(n) * 4, &ra));
  float* b = static_cast<float*>(cpuAlloc(size_t(n) * 4, &rb));
  float* c = static_cast<float*>(cpuAlloc(size_t(n) * 4, &rc));
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; i++) a[i] = 0.0f, b[i] = 1.0f, c[i] = 2.0f;
  double best = 0;
  const float s = 0.5f;
  for (int64_t r = 0; r < reps; r++) {
    auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; i++) a[i] = b[i] + s * c[i];
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 3.0 * double(n) * 4.0 / sec / 1e9);
  }
  cpuFree(a, ra), cpuFree(b, rb), cpuFree(c, rc);
  return Napi::Number::New(info.Env(), best);
}

}  // namespace

void registerBandwidth(Napi::Env, Napi::Object exports) { SCSE_EXPORT(exports, "triad", Triad); }

}  // namespace scse
