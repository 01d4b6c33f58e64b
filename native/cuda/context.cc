// See context.h.
#include "cuda/context.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "cuda/device.h"

namespace scse::cuda {
namespace {

constexpr size_t kStagingBytes = size_t(4) << 20;

// cudaMalloc/cudaFree on the current device (the allocator is only called after useDevice()).
class CudaMemoryBackend final : public DeviceMemoryBackend {
 public:
  int allocate(void** ptr, size_t bytes) override {
    cudaError_t e = cudaMalloc(ptr, bytes);
    if (e == cudaSuccess) return 0;
    cudaGetLastError();  // out-of-memory is not sticky; clear it so later calls do not report it
    return e == cudaErrorMemoryAllocation ? kOutOfMemory : int(e);
  }
  int release(void* ptr) override {
    cudaError_t e = cudaFree(ptr);
    if (e != cudaSuccess) cudaGetLastError();
    return int(e);
  }
  void memoryInfo(size_t* freeBytes, size_t* totalBytes) override {
    if (cudaMemGetInfo(freeBytes, totalBytes) != cudaSuccess) {
      cudaGetLastError();
      *freeBytes = *totalBytes = 0;
    }
  }
  std::string errorText(int code) override { return scse::cuda::errorText(code); }
};

struct Context {
  explicit Context(int device) : allocator(backend, device) {}
  cudaStream_t stream = nullptr;
  CudaMemoryBackend backend;
  CachingAllocator allocator;
  std::mutex stagingMutex;  // transfers of one device take turns on its staging buffers
  void* staging[2] = {nullptr, nullptr};
  cudaEvent_t stagingFree[2] = {nullptr, nullptr};  // recorded after the copy that reads/writes staging[k]
};

std::mutex gContextsMutex;
std::vector<Context*>* gContexts = nullptr;  // index = device; never freed (see context.h)

Context* findContext(int device) {
  std::lock_guard<std::mutex> lock(gContextsMutex);
  if (!gContexts || device < 0 || size_t(device) >= gContexts->size()) return nullptr;
  return (*gContexts)[size_t(device)];
}

// Makes `device` current on this thread and returns its context, creating it on first use.
Context& context(int device) {
  useDevice(device);  // throws with the precise reason when the device is not usable
  std::lock_guard<std::mutex> lock(gContextsMutex);
  if (!gContexts) gContexts = new std::vector<Context*>(runtimeStatus().devices.size(), nullptr);
  Context*& c = (*gContexts)[size_t(device)];
  if (!c) {
    auto fresh = std::make_unique<Context>(device);
    check(cudaStreamCreateWithFlags(&fresh->stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    c = fresh.release();
  }
  return *c;
}

void ensureStaging(Context& c) {
  if (c.staging[0]) return;
  for (int k = 0; k < 2; k++) {
    check(cudaHostAlloc(&c.staging[k], kStagingBytes, cudaHostAllocDefault), "cudaHostAlloc (staging buffer)");
    check(cudaEventCreateWithFlags(&c.stagingFree[k], cudaEventDisableTiming), "cudaEventCreateWithFlags");
  }
}

}  // namespace

void* deviceStream(int device) { return context(device).stream; }

void* deviceAlloc(int device, size_t bytes) { return context(device).allocator.allocate(bytes); }

void deviceFree(int device, void* ptr) {
  if (!ptr) return;
  context(device).allocator.release(ptr);
}

void deviceEmptyCache(int device) {
  if (!findContext(device)) return;
  context(device).allocator.emptyCache();
}

DeviceMemoryStats deviceMemoryStats(int device) {
  Context* c = findContext(device);
  return c ? c->allocator.stats() : DeviceMemoryStats{};
}

void copyToDevice(int device, void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  Context& c = context(device);
  std::lock_guard<std::mutex> lock(c.stagingMutex);
  ensureStaging(c);
  auto* out = static_cast<char*>(dst);
  const auto* in = static_cast<const char*>(src);
  for (size_t off = 0, k = 0; off < bytes; off += kStagingBytes, k ^= 1) {
    const size_t n = std::min(kStagingBytes, bytes - off);
    // The previous copy out of this staging buffer must be done before it is overwritten.
    check(cudaEventSynchronize(c.stagingFree[k]), "cudaEventSynchronize (staging)");
    std::memcpy(c.staging[k], in + off, n);
    check(cudaMemcpyAsync(out + off, c.staging[k], n, cudaMemcpyHostToDevice, c.stream), "cudaMemcpyAsync (host to device)");
    check(cudaEventRecord(c.stagingFree[k], c.stream), "cudaEventRecord");
  }
}

void copyToHost(int device, void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  Context& c = context(device);
  std::lock_guard<std::mutex> lock(c.stagingMutex);
  ensureStaging(c);
  auto* out = static_cast<char*>(dst);
  const auto* in = static_cast<const char*>(src);
  const size_t chunks = (bytes + kStagingBytes - 1) / kStagingBytes;
  auto chunkBytes = [&](size_t i) { return std::min(kStagingBytes, bytes - i * kStagingBytes); };
  // Chunk i goes through staging[i % 2]; chunk i+1 is queued before chunk i is copied out, so the
  // device copy of the next chunk overlaps the host copy of this one. Queueing into a buffer the
  // host has already emptied is safe; copies on the one stream run in order.
  auto enqueue = [&](size_t i) {
    const size_t k = i & 1;
    check(cudaMemcpyAsync(c.staging[k], in + i * kStagingBytes, chunkBytes(i), cudaMemcpyDeviceToHost, c.stream),
          "cudaMemcpyAsync (device to host)");
    check(cudaEventRecord(c.stagingFree[k], c.stream), "cudaEventRecord");
  };
  enqueue(0);
  for (size_t i = 0; i < chunks; i++) {
    if (i + 1 < chunks) enqueue(i + 1);
    check(cudaEventSynchronize(c.stagingFree[i & 1]), "cudaEventSynchronize (device to host)");
    std::memcpy(out + i * kStagingBytes, c.staging[i & 1], chunkBytes(i));
  }
}

void copyDeviceToDevice(int device, void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  Context& c = context(device);
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, c.stream), "cudaMemcpyAsync (device to device)");
}

void synchronize(int device) { check(cudaStreamSynchronize(context(device).stream), "cudaStreamSynchronize"); }

}  // namespace scse::cuda
