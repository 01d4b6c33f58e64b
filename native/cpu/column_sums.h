// Column sums of a row-major [rows, cols] float matrix (bias gradients: dy summed over pixels).
// Each thread sums its static chunk of rows into its own double row; the rows are added in
// thread order, so the result is deterministic for a given thread count.
#pragma once
#include <omp.h>

#include <cstdint>
#include <vector>

#include "cpu/parallel.h"

namespace scse {

inline void columnSums(const float* x, int64_t rows, int64_t cols, float* out) {
  const int nt = omp_get_max_threads();
  // allocated before the region: a failed allocation inside it would terminate the process
  std::vector<double> part(size_t(nt) * size_t(cols), 0.0);
#pragma omp parallel num_threads(nt) if (rows * cols > kParallelGrain)
  {
    double* mine = part.data() + size_t(omp_get_thread_num()) * size_t(cols);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const float* xr = x + r * cols;
      for (int64_t c = 0; c < cols; c++) mine[c] += xr[c];
    }
  }
  for (int64_t c = 0; c < cols; c++) {
    double s = 0;
    for (int t = 0; t < nt; t++) s += part[size_t(t) * size_t(cols) + size_t(c)];
    out[c] = float(s);
  }
}

}  // namespace scse
