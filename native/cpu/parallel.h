// OpenMP helpers: small loops run serially (thread wake-up costs more than the work).
#pragma once
#include <omp.h>

#include <cstdint>

namespace scse {
constexpr int64_t kParallelGrain = 1 << 15;  // elements below which a loop stays on one thread

template <typename F>
inline void parallelFor(int64_t n, int64_t workPerItem, F&& f) {
#pragma omp parallel for schedule(static) if (n * workPerItem > kParallelGrain)
  for (int64_t i = 0; i < n; i++) f(i);
}
}  // namespace scse
