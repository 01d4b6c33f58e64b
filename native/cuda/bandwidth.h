// The device's attainable memory bandwidth, measured in the same run as the GPU benchmarks
// (bench/gpu.ts) so the SE kernels' GB/s can be read against it. Plain C++ header.
#pragma once
#include <cstddef>

namespace scse::cuda {

// Best GB/s over `reps` runs of a = b + s*c on float arrays of `bytesPerArray` bytes each
// (counting 2 reads + 1 write per element), timed with CUDA events on the device's stream.
double deviceTriad(int device, size_t bytesPerArray, int reps);
// Best GB/s over `reps` device-to-device copies of `bytes` (counting 1 read + 1 write).
double deviceCopy(int device, size_t bytes, int reps);

}  // namespace scse::cuda
