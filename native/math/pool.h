// Per-element rules of the pooling ops (native/cpu/pool.cc, native/cuda/pool.cu), shared by the
// CPU and CUDA kernels.
#pragma once
#include <cstdint>

#include "math/common.h"

namespace scse::math {

// Whether a max-pool window scan (row by row) replaces the current maximum `cur` by `v`: strictly
// greater keeps the first maximum on ties; a NaN wins (and then stays) as in PyTorch.
// (x != x is the NaN test on every compiler without fast-math.)
SCSE_HD bool maxPoolTakes(float v, float cur) { return v > cur || (v != v && !(cur != cur)); }

// Output size of a k x k window with stride s over n input rows: "valid" windows only (floor).
SCSE_HD constexpr int64_t poolOutSize(int64_t n, int64_t k, int64_t s) { return (n - k) / s + 1; }

}  // namespace scse::math
