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

// Like parallelFor, but each thread walks its static chunk (the same chunk `omp for
// schedule(static)` gives it) from the end to the start. For a second pass over data just streamed
// by a first pass with the same partition: the most recently read lines, still in cache, come
// first, instead of being evicted by the reads of the chunk's start (LRU thrashing when the data
// is larger than the cache). threadEnd() runs once per thread after its chunk (e.g. a store fence).
template <typename F, typename End>
inline void parallelForReverse(int64_t n, int64_t workPerItem, F&& f, End&& threadEnd) {
#pragma omp parallel if (n * workPerItem > kParallelGrain)
  {
    const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    // libgomp's static schedule: the first n % nt threads get one item more.
    const int64_t q = n / nt, r = n % nt;
    const int64_t lo = t * q + (t < r ? t : r), hi = lo + q + (t < r ? 1 : 0);
    for (int64_t i = hi - 1; i >= lo; i--) f(i);
    threadEnd();
  }
}
}  // namespace scse
