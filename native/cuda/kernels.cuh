// Helpers shared by the op kernels (*.cu only; the public API is ops.h): launch geometry,
// grid-stride loops, launch checks, scratch memory and device-side error flags.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <string>

#include "cuda/context.h"
#include "cuda/device.h"

namespace scse::cuda::detail {

constexpr int kBlock = 256;

// Blocks for one thread per element (at least one: kernels loop grid-stride, so n = 0 is a no-op
// launch and a capped grid still covers every element).
inline unsigned gridFor(int64_t n) {
  const int64_t b = (n + kBlock - 1) / kBlock;
  return unsigned(b < 1 ? 1 : b > (int64_t(1) << 20) ? (int64_t(1) << 20) : b);
}

// The device's stream; also makes `device` current on this thread (CUDA's current device is per
// thread) and throws CudaError with the reason when it is not usable.
inline cudaStream_t streamOf(int device) { return static_cast<cudaStream_t>(deviceStream(device)); }

// Throws CudaError("<op>: <cuda error>") if the last launch (or any earlier async work) failed.
inline void checkLaunch(const char* op) { check(int(cudaGetLastError()), op); }

inline void checkCall(cudaError_t e, const char* op, const char* call) {
  if (e != cudaSuccess) check(int(e), (std::string(op) + ": " + call).c_str());
}

// Scratch device memory from the caching allocator, typed. Released at scope exit: safe while
// kernels using it are still queued, because every op of the device runs on its one stream and
// the allocator hands the block out again only to work queued behind them (allocator.h).
template <typename T>
class Scratch {
 public:
  Scratch(int device, int64_t count) : buf_(std::make_unique<DeviceBuffer>(device, size_t(count < 1 ? 1 : count) * sizeof(T))) {}
  T* get() const { return static_cast<T*>(buf_->get()); }

 private:
  std::unique_ptr<DeviceBuffer> buf_;
};

// Error flags: int64 slots in device memory that kernels set to the offending flat index, -1 when
// nothing was wrong. "Last" slots keep the largest index (atomicMax), "first" slots the smallest
// (atomicMin on the unsigned view, where -1 is the largest value). Integer atomics: deterministic.
inline void resetFlags(int64_t* flags, int slots, cudaStream_t st, const char* op) {
  checkCall(cudaMemsetAsync(flags, 0xFF, size_t(slots) * sizeof(int64_t), st), op, "cudaMemsetAsync (error flags)");
}
__device__ __forceinline__ void flagLast(int64_t* slot, int64_t i) {
  atomicMax(reinterpret_cast<long long*>(slot), static_cast<long long>(i));
}
__device__ __forceinline__ void flagFirst(int64_t* slot, int64_t i) {
  atomicMin(reinterpret_cast<unsigned long long*>(slot), static_cast<unsigned long long>(i));
}

}  // namespace scse::cuda::detail

// for (int64_t i = first thread's index; i < n; i += all threads)
#define SCSE_GRID_LOOP(i, n) \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)
