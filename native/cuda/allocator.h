// Caching device allocator, one per device. cudaMalloc/cudaFree are slow and cudaFree
// synchronizes the device, so freed blocks go to per-size-class free lists and are handed out
// again. The CUDA calls sit behind DeviceMemoryBackend so this logic is tested with a fake backend
// on machines without a GPU. Plain C++ (no CUDA types).
//
// Stream-ordered reuse: every op of a device runs on that device's single stream, so a block
// released on the host while kernels that use it are still queued can be handed to the next
// allocation at once — the new user's work is queued behind the old user's on the same stream.
// Code that touches a block from another stream (or the host) must synchronize before release.
#pragma once
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>
#include <map>

namespace scse::cuda {

// Device memory from the driver. Results are 0 (ok), kOutOfMemory, or another backend code.
class DeviceMemoryBackend {
 public:
  static constexpr int kOutOfMemory = 2;  // = cudaErrorMemoryAllocation
  virtual ~DeviceMemoryBackend() = default;
  virtual int allocate(void** ptr, size_t bytes) = 0;
  virtual int release(void* ptr) = 0;
  virtual void memoryInfo(size_t* freeBytes, size_t* totalBytes) = 0;
  virtual std::string errorText(int code) = 0;
};

// Size classes: multiples of 512 B up to 1 MiB, multiples of 2 MiB above (0 B counts as 512 B).
constexpr size_t kSmallGranule = 512;
constexpr size_t kLargeGranule = size_t(2) << 20;
constexpr size_t kSmallLimit = size_t(1) << 20;
size_t roundDeviceSize(size_t bytes);

struct DeviceMemoryStats {
  size_t bytesInUse = 0;        // held by live allocations (rounded sizes)
  size_t bytesReserved = 0;     // obtained from the backend: in use + cached
  size_t bytesCached = 0;       // in the free lists
  size_t backendAllocations = 0;  // successful backend allocate() calls (growth = cache misses)
  size_t backendReleases = 0;
  size_t cacheFlushes = 0;      // emptyCache() calls that released something, incl. OOM retries
};

class CachingAllocator {
 public:
  CachingAllocator(DeviceMemoryBackend& backend, int device) : backend_(backend), device_(device) {}
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // A block of at least `bytes`; throws CudaError. On out-of-memory the cache is released and the
  // allocation retried once; a second failure throws "CUDA out of memory: asked for X MiB on
  // cuda:N, Y MiB free of Z MiB, W MiB cached by scse (U MiB in use by scse tensors)".
  void* allocate(size_t bytes);
  // Returns a block from allocate() to its free list; throws CudaError on an unknown pointer.
  void release(void* ptr);
  // Gives every cached block back to the backend.
  void emptyCache();
  DeviceMemoryStats stats() const;

 private:
  size_t releaseCachedLocked();

  DeviceMemoryBackend& backend_;
  const int device_;
  mutable std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;  // size class -> cached blocks
  std::unordered_map<void*, size_t> live_;     // block -> size class
  DeviceMemoryStats stats_;
};

std::string formatMiB(size_t bytes);  // "12.50 MiB"

}  // namespace scse::cuda
