// Per-device runtime state, created on first use and kept until process exit (CUDA may be torn
// down before static destructors run, so nothing here frees GPU memory at exit): one stream on
// which all of the device's work is queued, the caching allocator (allocator.h), and two pinned
// host staging buffers for transfers. Every function makes the device current on the calling
// thread first and throws CudaError (device.h) with the CUDA status name and message on failure.
// Plain C++ header (no CUDA types).
#pragma once
#include <cstddef>

#include "cuda/allocator.h"

namespace scse::cuda {

// The device's stream (a cudaStream_t), created non-blocking w.r.t. the legacy default stream.
void* deviceStream(int device);

void* deviceAlloc(int device, size_t bytes);
void deviceFree(int device, void* ptr);
void deviceEmptyCache(int device);
// Zeros for a device that has not been used yet (never creates a context).
DeviceMemoryStats deviceMemoryStats(int device);

// Host -> device, queued on the device's stream through pinned staging buffers (4 MiB chunks,
// double-buffered). Returns as soon as `src` has been staged and may be reused; the device copy
// completes in stream order, before any work queued after it.
void copyToDevice(int device, void* dst, const void* src, size_t bytes);
// Device -> host, queued on the device's stream after all earlier work; blocks the calling
// thread (waiting on events, not the whole device) until `dst` holds the data. Meant to run on a
// worker thread for async reads.
void copyToHost(int device, void* dst, const void* src, size_t bytes);
// Device -> device within one device, queued on its stream after all earlier work (returns at
// once; clone and same-device moves of tensors).
void copyDeviceToDevice(int device, void* dst, const void* src, size_t bytes);
// Waits for everything queued on the device's stream.
void synchronize(int device);

// Scoped device memory from the caching allocator.
class DeviceBuffer {
 public:
  DeviceBuffer(int device, size_t bytes) : device_(device), ptr_(deviceAlloc(device, bytes)) {}
  ~DeviceBuffer() {
    try {
      deviceFree(device_, ptr_);
    } catch (...) {
    }
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return ptr_; }

 private:
  int device_;
  void* ptr_;
};

}  // namespace scse::cuda
