// See allocator.h.
#include "cuda/allocator.h"

#include <cstdio>

#include "cuda/device.h"

namespace scse::cuda {

size_t roundDeviceSize(size_t bytes) {
  if (bytes == 0) return kSmallGranule;
  if (bytes <= kSmallLimit) return (bytes + kSmallGranule - 1) / kSmallGranule * kSmallGranule;
  return (bytes + kLargeGranule - 1) / kLargeGranule * kLargeGranule;
}

std::string formatMiB(size_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f MiB", double(bytes) / double(1 << 20));
  return buf;
}

void* CachingAllocator::allocate(size_t bytes) {
  if (bytes > (size_t(1) << 62))  // rounding would overflow; no device has this much
    throw CudaError("CUDA out of memory: asked for " + formatMiB(bytes) + " on cuda:" + std::to_string(device_));
  const size_t size = roundDeviceSize(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = free_.find(size);
  if (it != free_.end() && !it->second.empty()) {
    void* p = it->second.back();
    it->second.pop_back();
    stats_.bytesCached -= size;
    stats_.bytesInUse += size;
    live_.emplace(p, size);
    return p;
  }
  void* p = nullptr;
  int e = backend_.allocate(&p, size);
  if (e == DeviceMemoryBackend::kOutOfMemory) {
    // Retry even with an empty cache: other processes may have freed memory meanwhile.
    releaseCachedLocked();
    e = backend_.allocate(&p, size);
  }
  if (e == DeviceMemoryBackend::kOutOfMemory) {
    size_t freeBytes = 0, totalBytes = 0;
    backend_.memoryInfo(&freeBytes, &totalBytes);
    throw CudaError("CUDA out of memory: asked for " + formatMiB(size) + " on cuda:" + std::to_string(device_) + ", " +
                    formatMiB(freeBytes) + " free of " + formatMiB(totalBytes) + ", " + formatMiB(stats_.bytesCached) +
                    " cached by scse (" + formatMiB(stats_.bytesInUse) + " in use by scse tensors)");
  }
  if (e != 0)
    throw CudaError("cudaMalloc(" + formatMiB(size) + ") on cuda:" + std::to_string(device_) + " failed: " +
                    backend_.errorText(e));
  stats_.backendAllocations++;
  stats_.bytesReserved += size;
  stats_.bytesInUse += size;
  live_.emplace(p, size);
  return p;
}

void CachingAllocator::release(void* ptr) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(ptr);
  if (it == live_.end())
    throw CudaError("cuda:" + std::to_string(device_) + ": release of a pointer this allocator does not own (double free?)");
  const size_t size = it->second;
  live_.erase(it);
  free_[size].push_back(ptr);
  stats_.bytesInUse -= size;
  stats_.bytesCached += size;
}

size_t CachingAllocator::releaseCachedLocked() {
  size_t released = 0;
  for (auto& [size, blocks] : free_) {
    for (void* p : blocks) {
      // A failure here (e.g. cudaErrorCudartUnloading at exit) only leaks: the pointer is dropped.
      backend_.release(p);
      stats_.backendReleases++;
      released += size;
    }
  }
  free_.clear();
  stats_.bytesReserved -= released;
  stats_.bytesCached -= released;
  if (released) stats_.cacheFlushes++;
  return released;
}

void CachingAllocator::emptyCache() {
  std::lock_guard<std::mutex> lock(mutex_);
  releaseCachedLocked();
}

DeviceMemoryStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace scse::cuda
