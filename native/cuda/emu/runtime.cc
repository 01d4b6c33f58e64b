// cuda-emu runtime: the host half of the CUDA runtime API on the CPU (see include/cuda_runtime.h).
//
// - Devices: SCSE_CUEMU_DEVICES (default 1) copies of one RTX 3090; CUDA_VISIBLE_DEVICES="" hides
//   them, as with a real driver. Memory is host memory, limited to the card's 24 GiB
//   (SCSE_CUEMU_MEMORY_MIB lowers it, for out-of-memory tests).
// - cudaMalloc returns memory filled with 0xFF bytes (a float NaN, an int -1: code that relies on
//   fresh memory being zero shows it) followed by a red zone that is checked after every kernel
//   (copies are bounds-checked, so only kernels can break it; under AddressSanitizer, an exact
//   heap block instead).
// - Streams are queues: kernels, copies, memsets and event records run in order when the host
//   waits (cudaStreamSynchronize, cudaEventSynchronize/Query, cudaDeviceSynchronize, blocking
//   copies, cudaFree), on the waiting thread. Work therefore completes later than the call that
//   queued it, as on a GPU: host code that reads a result without waiting reads stale data.
//   Copies from pageable host memory take the source at the call (as CUDA stages them); copies to
//   pageable memory wait for the stream (as CUDA's do); pinned memory (cudaHostAlloc) is read and
//   written when the copy runs.
// - Faults found while a kernel ran are reported by the next call that waits, and by
//   cudaGetLastError, with the diagnostic in cudaGetErrorString's text. Unlike a real device they
//   do not poison the context: the process can go on (a test suite continues).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "emu.h"
#include "stream_abi.h"

static int syncStreamAbi(void* stream);

struct CUstream_st {
  CuemuStreamAbi abi{CUEMU_STREAM_MAGIC, &syncStreamAbi};  // must stay the first member (stream_abi.h)
  int device = 0;
  std::mutex queueMutex;  // guards work
  std::deque<std::function<void()>> work;
  std::recursive_mutex runMutex;  // one thread drains a stream at a time, in order
};

struct CUevent_st {
  CUstream_st* stream = nullptr;  // where it was last recorded
  std::atomic<bool> recorded{false};
  std::atomic<bool> done{false};
  bool timing = true;
  double ms = 0;  // host clock when the record ran
};

namespace cuemu {
namespace {

constexpr size_t kRedZone = 256;
constexpr unsigned char kPoison = 0xFF;
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif

struct Allocation {
  size_t bytes;
  int device;
};

std::mutex gMutex;  // allocations, pinned blocks, the error text
std::map<uintptr_t, Allocation>* gDevice = nullptr;  // base -> allocation
std::map<uintptr_t, size_t>* gPinned = nullptr;
size_t gUsed[8] = {};
std::vector<CUstream_st*>* gStreams = nullptr;   // every stream, for cudaDeviceSynchronize
CUstream_st* gDefault[8] = {};                    // the default (null) stream of each device

thread_local cudaError_t tLastError = cudaSuccess;
thread_local int tDevice = 0;
std::atomic<int> gAsync{cudaSuccess};
std::string* gAsyncText = nullptr;  // the diagnostic of the last fault (under gMutex)
cudaError_t gTextCode = cudaSuccess;  // the error it explains: only that code's text carries it

// Records the diagnostic that explains `code` (call with gMutex held) and prints it.
void noteLocked(cudaError_t code, const std::string& what) {
  if (!gAsyncText) gAsyncText = new std::string();
  *gAsyncText = what;
  gTextCode = code;
  std::fprintf(stderr, "cuda-emu: %s\n", what.c_str());
}

double nowMs() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

int deviceCount() {
  static const int n = [] {
    const char* vis = std::getenv("CUDA_VISIBLE_DEVICES");
    if (vis && !*vis) return 0;
    const char* env = std::getenv("SCSE_CUEMU_DEVICES");
    int v = env && *env ? std::atoi(env) : 1;
    return std::clamp(v, 0, 8);
  }();
  return n;
}

size_t memoryLimit() {
  static const size_t m = [] {
    const char* env = std::getenv("SCSE_CUEMU_MEMORY_MIB");
    if (env && *env) return size_t(std::strtoull(env, nullptr, 10)) << 20;
    return size_t(24) << 30;
  }();
  return m;
}

cudaError_t setLast(cudaError_t e) {
  if (e != cudaSuccess) tLastError = e;
  return e;
}

// A pending fault is returned (once) by the next call that waits for the device.
cudaError_t takeAsync() {
  int e = gAsync.exchange(cudaSuccess);
  return cudaError_t(e);
}

CUstream_st* streamOf(cudaStream_t st) {
  if (st) return st;
  std::lock_guard<std::mutex> lock(gMutex);
  CUstream_st*& d = gDefault[tDevice];
  if (!d) {
    d = new CUstream_st();
    d->device = tDevice;
    if (!gStreams) gStreams = new std::vector<CUstream_st*>();
    gStreams->push_back(d);
  }
  return d;
}

void drain(CUstream_st* s) {
  std::lock_guard<std::recursive_mutex> run(s->runMutex);
  for (;;) {
    std::function<void()> w;
    {
      std::lock_guard<std::mutex> lock(s->queueMutex);
      if (s->work.empty()) return;
      w = std::move(s->work.front());
      s->work.pop_front();
    }
    w();
  }
}

void drainAll() {
  std::vector<CUstream_st*> all;
  {
    std::lock_guard<std::mutex> lock(gMutex);
    if (gStreams) all = *gStreams;
  }
  for (CUstream_st* s : all) drain(s);
}

// The device allocation holding [p, p + bytes), or nullptr.
const Allocation* findDevice(const void* p, size_t bytes, uintptr_t* base) {
  if (!gDevice) return nullptr;
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = gDevice->upper_bound(a);
  if (it == gDevice->begin()) return nullptr;
  --it;
  if (a < it->first || a + bytes > it->first + it->second.bytes) return nullptr;
  if (base) *base = it->first;
  return &it->second;
}

bool isPinned(const void* p, size_t bytes) {
  if (!gPinned) return false;
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = gPinned->upper_bound(a);
  if (it == gPinned->begin()) return false;
  --it;
  return a >= it->first && a + bytes <= it->first + it->second;
}

// Which side each pointer of a copy is on, checked against `kind`.
enum class Side { kDevice, kPinned, kPageable, kBad };
Side sideOf(const void* p, size_t bytes) {
  std::lock_guard<std::mutex> lock(gMutex);
  if (findDevice(p, bytes, nullptr)) return Side::kDevice;
  const auto a = reinterpret_cast<uintptr_t>(p);
  // A range that starts inside a device allocation but runs past its end.
  if (gDevice) {
    auto it = gDevice->upper_bound(a);
    if (it != gDevice->begin()) {
      --it;
      if (a >= it->first && a < it->first + it->second.bytes + kRedZone) return Side::kBad;
    }
  }
  return isPinned(p, bytes) ? Side::kPinned : Side::kPageable;
}

cudaError_t badCopy(const std::string& what) {
  std::lock_guard<std::mutex> lock(gMutex);
  noteLocked(cudaErrorInvalidValue, what);
  return setLast(cudaErrorInvalidValue);
}

// Checks a copy's pointers against its kind; sets *deferSrc when the source must be taken now
// (pageable host memory) and *syncDst when the host destination must be written before returning.
cudaError_t checkCopy(const char* call, void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, bool* takeSrc,
                      bool* waitDst) {
  const Side d = sideOf(dst, bytes), s = sideOf(src, bytes);
  auto need = [&](bool ok, const char* which, Side got) -> cudaError_t {
    if (ok) return cudaSuccess;
    const char* what = got == Side::kDevice ? "device memory" : got == Side::kBad ? "a range past the end of a device allocation"
                                                                                  : "host memory";
    return badCopy(std::string(call) + ": " + which + " is " + what + ", which kind " + std::to_string(int(kind)) +
                   " does not allow (" + std::to_string(bytes) + " bytes)");
  };
  if (d == Side::kBad) return need(false, "the destination", d);
  if (s == Side::kBad) return need(false, "the source", s);
  cudaError_t e = cudaSuccess;
  switch (kind) {
    case cudaMemcpyHostToDevice:
      if ((e = need(d == Side::kDevice, "the destination", d))) return e;
      if ((e = need(s != Side::kDevice, "the source", s))) return e;
      break;
    case cudaMemcpyDeviceToHost:
      if ((e = need(s == Side::kDevice, "the source", s))) return e;
      if ((e = need(d != Side::kDevice, "the destination", d))) return e;
      break;
    case cudaMemcpyDeviceToDevice:
      if ((e = need(d == Side::kDevice, "the destination", d))) return e;
      if ((e = need(s == Side::kDevice, "the source", s))) return e;
      break;
    case cudaMemcpyHostToHost: break;
    case cudaMemcpyDefault: break;
    default: return setLast(cudaErrorInvalidMemcpyDirection);
  }
  *takeSrc = s == Side::kPageable;
  *waitDst = d == Side::kPageable;
  return cudaSuccess;
}

cudaError_t copy(const char* call, void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t st,
                 bool blocking) {
  if (bytes == 0) return cudaSuccess;
  if (!dst || !src) return badCopy(std::string(call) + ": null pointer");
  bool takeSrc = false, waitDst = false;
  if (cudaError_t e = checkCopy(call, dst, src, bytes, kind, &takeSrc, &waitDst)) return e;
  CUstream_st* s = streamOf(st);
  if (takeSrc) {
    auto held = std::make_shared<std::vector<char>>(static_cast<const char*>(src), static_cast<const char*>(src) + bytes);
    enqueue(s, [dst, held] { std::memcpy(dst, held->data(), held->size()); });
  } else {
    enqueue(s, [dst, src, bytes] { std::memmove(dst, src, bytes); });
  }
  if (blocking || waitDst) drain(s);
  return cudaSuccess;
}

const char* errorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError: return "cudaErrorInitializationError";
    case cudaErrorCudartUnloading: return "cudaErrorCudartUnloading";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorDevicesUnavailable: return "cudaErrorDevicesUnavailable";
    case cudaErrorNoKernelImageForDevice: return "cudaErrorNoKernelImageForDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchOutOfResources: return "cudaErrorLaunchOutOfResources";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorSystemDriverMismatch: return "cudaErrorSystemDriverMismatch";
    case cudaErrorInvalidDeviceFunction: return "cudaErrorInvalidDeviceFunction";
    default: return "cudaErrorUnknown";
  }
}

const char* errorText(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInitializationError: return "initialization error";
    case cudaErrorCudartUnloading: return "driver shutting down";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInsufficientDriver: return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorDevicesUnavailable: return "CUDA-capable device(s) is/are busy or unavailable";
    case cudaErrorNoKernelImageForDevice: return "no kernel image is available for execution on the device";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorInvalidDeviceFunction: return "invalid device function";
    default: return "unknown error";
  }
}

}  // namespace

void raiseAsync(cudaError_t code, const std::string& message) {
  {
    std::lock_guard<std::mutex> lock(gMutex);
    noteLocked(code, message);
  }
  int expected = cudaSuccess;
  gAsync.compare_exchange_strong(expected, code);  // the first fault wins until it is reported
}

void raiseLaunch(cudaError_t code, const std::string& message) {
  {
    std::lock_guard<std::mutex> lock(gMutex);
    noteLocked(code, message);
  }
  setLast(code);
}

void enqueue(cudaStream_t st, std::function<void()> work) {
  CUstream_st* s = streamOf(st);
  std::lock_guard<std::mutex> lock(s->queueMutex);
  s->work.push_back(std::move(work));
}

bool checkRedZones(std::string* out) {
  if (kAsan) return true;
  std::lock_guard<std::mutex> lock(gMutex);
  if (!gDevice) return true;
  bool ok = true;
  for (auto& [base, a] : *gDevice) {
    auto* z = reinterpret_cast<unsigned char*>(base + a.bytes);
    for (size_t i = 0; i < kRedZone; i++) {
      if (z[i] != kPoison) {
        if (!ok) *out += "; ";
        *out += "wrote past the end of a " + std::to_string(a.bytes) + "-byte device allocation (at byte " +
                std::to_string(a.bytes + i) + ")";
        std::memset(z, kPoison, kRedZone);
        ok = false;
        break;
      }
    }
  }
  return ok;
}

cudaError_t funcAttributes(cudaFuncAttributes* a) {
  if (!a) return setLast(cudaErrorInvalidValue);
  *a = cudaFuncAttributes{};
  a->maxThreadsPerBlock = kMaxThreadsPerBlock;
  a->numRegs = 32;
  a->ptxVersion = a->binaryVersion = kComputeMajor * 10 + kComputeMinor;
  a->maxDynamicSharedSizeBytes = int(kSharedPerBlock);
  return cudaSuccess;
}

void enqueueKernel(const LaunchSite& site, const LaunchConfig& cfg, KernelBody body) {
  auto reject = [&](cudaError_t code, const std::string& why) {
    body.destroy(body.closure);
    raiseLaunch(code, describeKernel(site) + ": " + why);
  };
  const dim3 b = cfg.block, g = cfg.grid;
  const uint64_t threads = uint64_t(b.x) * b.y * b.z;
  auto dims = [](dim3 d) { return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")"; };
  if (deviceCount() == 0) return reject(cudaErrorNoDevice, "no device");
  if (threads == 0 || g.x == 0 || g.y == 0 || g.z == 0)
    return reject(cudaErrorInvalidConfiguration, "grid " + dims(g) + " x block " + dims(b) + " has a zero dimension");
  if (threads > unsigned(kMaxThreadsPerBlock) || b.x > kMaxBlockDim[0] || b.y > kMaxBlockDim[1] || b.z > kMaxBlockDim[2])
    return reject(cudaErrorInvalidConfiguration, "block " + dims(b) + " exceeds the device's limits (1024 threads, (1024,1024,64))");
  if (g.x > kMaxGridDim[0] || g.y > kMaxGridDim[1] || g.z > kMaxGridDim[2])
    return reject(cudaErrorInvalidConfiguration, "grid " + dims(g) + " exceeds the device's limits (2^31-1, 65535, 65535)");
  const size_t staticBytes = knownStaticShared(site);
  if (cfg.sharedBytes + staticBytes > kSharedPerBlock)
    return reject(cudaErrorInvalidValue, std::to_string(cfg.sharedBytes) + " bytes of dynamic shared memory (+" +
                                             std::to_string(staticBytes) + " static) exceed the device's " +
                                             std::to_string(kSharedPerBlock) + " per block");
  auto kernel = std::make_shared<Kernel>(Kernel{site, cfg, body});
  enqueue(cfg.stream, [kernel] {
    runKernel(*kernel);
    kernel->body.destroy(kernel->body.closure);
  });
}

}  // namespace cuemu

using namespace cuemu;

// ---- errors and versions -------------------------------------------------------------------------
cudaError_t cudaGetLastError() {
  cudaError_t e = tLastError;
  tLastError = cudaSuccess;
  if (e == cudaSuccess) e = takeAsync();
  return e;
}
cudaError_t cudaPeekAtLastError() { return tLastError != cudaSuccess ? tLastError : cudaError_t(gAsync.load()); }
const char* cudaGetErrorName(cudaError_t e) { return errorName(e); }
const char* cudaGetErrorString(cudaError_t e) {
  // The emulator's diagnostic rides along with the faults it reports.
  thread_local std::string text;
  text = errorText(e);
  if (e != cudaSuccess) {
    std::lock_guard<std::mutex> lock(gMutex);
    if (gAsyncText && e == gTextCode) text += " (cuda-emu: " + *gAsyncText + ")";
  }
  return text.c_str();
}
cudaError_t cudaDriverGetVersion(int* v) {
  if (!v) return setLast(cudaErrorInvalidValue);
  *v = 13000;
  return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* v) {
  if (!v) return setLast(cudaErrorInvalidValue);
  *v = 13000;
  return cudaSuccess;
}

// ---- devices -------------------------------------------------------------------------------------
cudaError_t cudaGetDeviceCount(int* n) {
  if (!n) return setLast(cudaErrorInvalidValue);
  *n = deviceCount();
  return *n ? cudaSuccess : setLast(cudaErrorNoDevice);
}
cudaError_t cudaGetDevice(int* d) {
  if (!d) return setLast(cudaErrorInvalidValue);
  *d = tDevice;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int d) {
  if (d < 0 || d >= deviceCount()) return setLast(cudaErrorInvalidDevice);
  tDevice = d;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int d) {
  if (!p) return setLast(cudaErrorInvalidValue);
  if (d < 0 || d >= deviceCount()) return setLast(cudaErrorInvalidDevice);
  *p = cudaDeviceProp{};
  std::snprintf(p->name, sizeof p->name, "NVIDIA GeForce RTX 3090 (cuda-emu)");
  p->totalGlobalMem = memoryLimit();
  p->sharedMemPerBlock = kSharedPerBlock;
  p->sharedMemPerBlockOptin = 101376;
  p->sharedMemPerMultiprocessor = 102400;
  p->regsPerBlock = 65536;
  p->warpSize = 32;
  p->maxThreadsPerBlock = kMaxThreadsPerBlock;
  for (int i = 0; i < 3; i++) p->maxThreadsDim[i] = int(kMaxBlockDim[i]), p->maxGridSize[i] = int(kMaxGridDim[i]);
  p->maxThreadsPerMultiProcessor = 1536;
  p->major = kComputeMajor;
  p->minor = kComputeMinor;
  p->multiProcessorCount = 82;
  p->clockRate = 1695000;
  p->memoryBusWidth = 384;
  p->l2CacheSize = 6 << 20;
  p->totalConstMem = 65536;
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() {
  drainAll();
  return setLast(takeAsync());
}

// ---- memory --------------------------------------------------------------------------------------
cudaError_t cudaMalloc(void** p, size_t bytes) {
  if (!p) return setLast(cudaErrorInvalidValue);
  *p = nullptr;
  if (deviceCount() == 0) return setLast(cudaErrorNoDevice);
  const size_t rounded = (bytes + 255) / 256 * 256;  // cudaMalloc's 256-byte alignment
  std::lock_guard<std::mutex> lock(gMutex);
  if (rounded > memoryLimit() || gUsed[tDevice] > memoryLimit() - rounded) return setLast(cudaErrorMemoryAllocation);
  void* mem = nullptr;
  if (posix_memalign(&mem, 256, rounded + (kAsan ? 0 : kRedZone)) != 0 || !mem) return setLast(cudaErrorMemoryAllocation);
  std::memset(mem, kPoison, rounded + (kAsan ? 0 : kRedZone));
  if (!gDevice) gDevice = new std::map<uintptr_t, Allocation>();
  (*gDevice)[reinterpret_cast<uintptr_t>(mem)] = Allocation{rounded, tDevice};
  gUsed[tDevice] += rounded;
  *p = mem;
  return cudaSuccess;
}
cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  drainAll();  // cudaFree waits for the device, as CUDA's does
  std::lock_guard<std::mutex> lock(gMutex);
  if (!gDevice) return setLast(cudaErrorInvalidDevicePointer);
  auto it = gDevice->find(reinterpret_cast<uintptr_t>(p));
  if (it == gDevice->end()) return setLast(cudaErrorInvalidDevicePointer);
  gUsed[it->second.device] -= it->second.bytes;
  gDevice->erase(it);
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaHostAlloc(void** p, size_t bytes, unsigned) {
  if (!p) return setLast(cudaErrorInvalidValue);
  void* mem = nullptr;
  if (posix_memalign(&mem, 4096, bytes ? bytes : 1) != 0) return setLast(cudaErrorMemoryAllocation);
  std::lock_guard<std::mutex> lock(gMutex);
  if (!gPinned) gPinned = new std::map<uintptr_t, size_t>();
  (*gPinned)[reinterpret_cast<uintptr_t>(mem)] = bytes;
  *p = mem;
  return cudaSuccess;
}
cudaError_t cudaMallocHost(void** p, size_t bytes) { return cudaHostAlloc(p, bytes, cudaHostAllocDefault); }
cudaError_t cudaFreeHost(void* p) {
  if (!p) return cudaSuccess;
  drainAll();
  std::lock_guard<std::mutex> lock(gMutex);
  if (!gPinned || !gPinned->erase(reinterpret_cast<uintptr_t>(p))) return setLast(cudaErrorInvalidValue);
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* freeBytes, size_t* totalBytes) {
  if (!freeBytes || !totalBytes) return setLast(cudaErrorInvalidValue);
  std::lock_guard<std::mutex> lock(gMutex);
  *totalBytes = memoryLimit();
  *freeBytes = memoryLimit() - gUsed[tDevice];
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  return copy("cudaMemcpy", dst, src, bytes, kind, nullptr, true);
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t st) {
  return copy("cudaMemcpyAsync", dst, src, bytes, kind, st, false);
}
cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                              cudaMemcpyKind kind, cudaStream_t st) {
  if (width > dpitch || width > spitch) return setLast(cudaErrorInvalidValue);
  if (width == 0 || height == 0) return cudaSuccess;
  // Every row is checked where it lies; the rows run as one queued item.
  for (size_t r = 0; r < height; r++) {
    bool takeSrc = false, waitDst = false;
    if (cudaError_t e = checkCopy("cudaMemcpy2DAsync", static_cast<char*>(dst) + r * dpitch,
                                  static_cast<const char*>(src) + r * spitch, width, kind, &takeSrc, &waitDst))
      return e;
    if (takeSrc || waitDst) return badCopy("cudaMemcpy2DAsync: only device and pinned memory are supported by cuda-emu");
  }
  enqueue(st, [=] {
    for (size_t r = 0; r < height; r++)
      std::memmove(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch, width);
  });
  return cudaSuccess;
}
cudaError_t cudaMemset(void* p, int value, size_t bytes) {
  cudaError_t e = cudaMemsetAsync(p, value, bytes, nullptr);
  if (e == cudaSuccess) drain(streamOf(nullptr));
  return e;
}
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t st) {
  if (bytes == 0) return cudaSuccess;
  {
    std::lock_guard<std::mutex> lock(gMutex);
    if (!findDevice(p, bytes, nullptr)) {
      noteLocked(cudaErrorInvalidValue,
                 "cudaMemsetAsync: " + std::to_string(bytes) + " bytes at a pointer that is not inside one device allocation");
      return setLast(cudaErrorInvalidValue);
    }
  }
  enqueue(st, [p, value, bytes] { std::memset(p, value, bytes); });
  return cudaSuccess;
}

// ---- streams and events --------------------------------------------------------------------------
cudaError_t cudaStreamCreate(cudaStream_t* st) { return cudaStreamCreateWithFlags(st, cudaStreamDefault); }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* st, unsigned) {
  if (!st) return setLast(cudaErrorInvalidValue);
  auto* s = new CUstream_st();
  s->device = tDevice;
  std::lock_guard<std::mutex> lock(gMutex);
  if (!gStreams) gStreams = new std::vector<CUstream_st*>();
  gStreams->push_back(s);
  *st = s;
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t st) {
  if (!st) return setLast(cudaErrorInvalidResourceHandle);
  drain(st);
  std::lock_guard<std::mutex> lock(gMutex);
  gStreams->erase(std::remove(gStreams->begin(), gStreams->end(), st), gStreams->end());
  delete st;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t st) {
  drain(streamOf(st));
  return setLast(takeAsync());
}
cudaError_t cudaStreamQuery(cudaStream_t st) {
  drain(streamOf(st));
  return setLast(takeAsync());
}
cudaError_t cudaEventCreate(cudaEvent_t* e) { return cudaEventCreateWithFlags(e, cudaEventDefault); }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags) {
  if (!e) return setLast(cudaErrorInvalidValue);
  *e = new CUevent_st();
  (*e)->timing = !(flags & cudaEventDisableTiming);
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  if (!e) return setLast(cudaErrorInvalidResourceHandle);
  if (e->stream) drain(e->stream);  // queued records point at it
  delete e;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t st) {
  if (!e) return setLast(cudaErrorInvalidResourceHandle);
  CUstream_st* s = streamOf(st);
  e->stream = s;
  e->recorded = true;
  e->done = false;
  enqueue(s, [e] {
    e->ms = nowMs();
    e->done = true;
  });
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  if (!e) return setLast(cudaErrorInvalidResourceHandle);
  if (e->stream) drain(e->stream);  // a never-recorded event is complete, as in CUDA
  return setLast(takeAsync());
}
cudaError_t cudaEventQuery(cudaEvent_t e) { return cudaEventSynchronize(e); }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!ms || !start || !end) return setLast(cudaErrorInvalidResourceHandle);
  if (!start->timing || !end->timing) return setLast(cudaErrorInvalidResourceHandle);
  if (!start->done || !end->done) return setLast(cudaErrorNotReady);
  *ms = float(end->ms - start->ms);
  return cudaSuccess;
}

static int syncStreamAbi(void* stream) { return int(cudaStreamSynchronize(static_cast<cudaStream_t>(stream))); }
