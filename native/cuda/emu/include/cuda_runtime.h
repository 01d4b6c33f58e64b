// cuda-emu: the CUDA runtime as our kernels and host code see it in the SCSE_CUDA=EMU build.
//
// Same names, values and signatures as CUDA 13's cuda_runtime.h for the subset scse uses, so the
// unchanged native/cuda sources compile with g++ against it. Kernels run on the CPU: every CUDA
// thread is a fiber, the threads of one block run on one OS thread and switch at barriers and
// warp operations (scheduler.cc), device memory is host memory with red zones (runtime.cc).
// The build rewrites only launch syntax and __shared__ declarations (rewrite_cu.mjs); everything
// else here is ordinary C++. Never used by a release build.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

// ---- qualifiers: plain C++ on the host compiler ---------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
// __shared__ is deliberately not defined: rewrite_cu.mjs turns every declaration into a per-block
// allocation, so a declaration it missed fails to compile instead of becoming a global.

// ---- error codes (values of CUDA 13's driver_types.h) --------------------------------------------
enum cudaError_t : int {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorCudartUnloading = 4,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorDevicesUnavailable = 46,
  cudaErrorNoKernelImageForDevice = 209,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
  cudaErrorIllegalAddress = 700,
  cudaErrorLaunchOutOfResources = 701,
  cudaErrorLaunchFailure = 719,
  cudaErrorSystemDriverMismatch = 803,
  cudaErrorInvalidDeviceFunction = 98,
  cudaErrorUnknown = 999,
};

enum cudaMemcpyKind : int {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

constexpr unsigned cudaStreamDefault = 0x0, cudaStreamNonBlocking = 0x1;
constexpr unsigned cudaEventDefault = 0x0, cudaEventBlockingSync = 0x1, cudaEventDisableTiming = 0x2;
constexpr unsigned cudaHostAllocDefault = 0x0;

struct CUstream_st;
struct CUevent_st;
using cudaStream_t = CUstream_st*;
using cudaEvent_t = CUevent_st*;

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};

// The fields scse reads, plus the limits launch-configuration code may consult.
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  size_t sharedMemPerBlockOptin;
  size_t sharedMemPerMultiprocessor;
  int regsPerBlock;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int maxThreadsPerMultiProcessor;
  int major;
  int minor;
  int multiProcessorCount;
  int clockRate;
  int memoryBusWidth;
  int l2CacheSize;
  size_t totalConstMem;
};

struct cudaFuncAttributes {
  size_t sharedSizeBytes;
  size_t constSizeBytes;
  size_t localSizeBytes;
  int maxThreadsPerBlock;
  int numRegs;
  int ptxVersion;
  int binaryVersion;
  int cacheModeCA;
  int maxDynamicSharedSizeBytes;
};

// ---- host API ------------------------------------------------------------------------------------
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorName(cudaError_t e);
const char* cudaGetErrorString(cudaError_t e);
cudaError_t cudaDriverGetVersion(int* v);
cudaError_t cudaRuntimeGetVersion(int* v);
cudaError_t cudaGetDeviceCount(int* n);
cudaError_t cudaGetDevice(int* d);
cudaError_t cudaSetDevice(int d);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int d);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaMalloc(void** p, size_t bytes);
cudaError_t cudaFree(void* p);
cudaError_t cudaHostAlloc(void** p, size_t bytes, unsigned flags);
cudaError_t cudaMallocHost(void** p, size_t bytes);
cudaError_t cudaFreeHost(void* p);
cudaError_t cudaMemGetInfo(size_t* freeBytes, size_t* totalBytes);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t st = nullptr);
cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                              cudaMemcpyKind kind, cudaStream_t st = nullptr);
cudaError_t cudaMemset(void* p, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t st = nullptr);
cudaError_t cudaStreamCreate(cudaStream_t* st);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* st, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t st);
cudaError_t cudaStreamSynchronize(cudaStream_t st);
cudaError_t cudaStreamQuery(cudaStream_t st);
cudaError_t cudaEventCreate(cudaEvent_t* e);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t st = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventQuery(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);

namespace cuemu {
// Attributes of a kernel: every kernel "has an image" for the emulated sm_86.
cudaError_t funcAttributes(cudaFuncAttributes* a);
}  // namespace cuemu
template <class F>
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* a, F* /*kernel*/) {
  return cuemu::funcAttributes(a);
}

// ---- device side: indices, barriers, warp operations (scheduler.cc) ------------------------------
namespace cuemu {
struct ThreadIndex {
  uint3 thread, block;
  dim3 blockSize, gridSize;
};
// The running CUDA thread's indices; the scheduler sets them before it switches to a fiber.
extern __thread ThreadIndex tls;

void syncthreads(const char* file, int line);
// One warp-collective operation: every lane of `mask` deposits `value` and `param`; returns this
// lane's result once all of them have arrived (see scheduler.cc for the rules it enforces).
enum WarpOpKind : int { kShflIdx, kShflUp, kShflDown, kShflXor, kBallot, kAny, kAll, kSyncWarp };
uint64_t warpOp(WarpOpKind kind, unsigned mask, uint64_t value, int param, int width, const char* file, int line);
unsigned activeMask();

// Per-block shared memory: the dynamic buffer of this launch, and one static declaration's storage
// (`key` identifies the declaration; same storage for every thread of the block).
void* dynamicShared();
void* staticShared(const void* key, size_t bytes, size_t align, const char* name, const char* file, int line);
}  // namespace cuemu

#define threadIdx (::cuemu::tls.thread)
#define blockIdx (::cuemu::tls.block)
#define blockDim (::cuemu::tls.blockSize)
#define gridDim (::cuemu::tls.gridSize)
constexpr int warpSize = 32;

#define __syncthreads() ::cuemu::syncthreads(__FILE__, __LINE__)
#define __syncwarp(...) ::cuemu::syncwarpAt(__FILE__, __LINE__, ##__VA_ARGS__)
#define __shfl_sync(...) ::cuemu::shfl(::cuemu::kShflIdx, __FILE__, __LINE__, __VA_ARGS__)
#define __shfl_up_sync(...) ::cuemu::shfl(::cuemu::kShflUp, __FILE__, __LINE__, __VA_ARGS__)
#define __shfl_down_sync(...) ::cuemu::shfl(::cuemu::kShflDown, __FILE__, __LINE__, __VA_ARGS__)
#define __shfl_xor_sync(...) ::cuemu::shfl(::cuemu::kShflXor, __FILE__, __LINE__, __VA_ARGS__)
#define __ballot_sync(mask, pred) unsigned(::cuemu::warpOp(::cuemu::kBallot, (mask), (pred) ? 1 : 0, 0, 32, __FILE__, __LINE__))
#define __any_sync(mask, pred) int(::cuemu::warpOp(::cuemu::kAny, (mask), (pred) ? 1 : 0, 0, 32, __FILE__, __LINE__))
#define __all_sync(mask, pred) int(::cuemu::warpOp(::cuemu::kAll, (mask), (pred) ? 1 : 0, 0, 32, __FILE__, __LINE__))
#define __activemask() ::cuemu::activeMask()

namespace cuemu {
inline void syncwarpAt(const char* file, int line, unsigned mask = 0xffffffffu) {
  warpOp(kSyncWarp, mask, 0, 0, 32, file, line);
}
template <class T>
T shfl(WarpOpKind kind, const char* file, int line, unsigned mask, T var, int param, int width = 32) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "cuda-emu: shuffles move at most 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &var, sizeof(T));
  bits = warpOp(kind, mask, bits, param, width, file, line);
  T out;
  std::memcpy(&out, &bits, sizeof(T));
  return out;
}
}  // namespace cuemu

// ---- atomics: read-modify-write with the GCC builtins (floats through compare-and-swap) ----------
namespace cuemu {
template <class T, class F>
T atomicUpdate(T* p, F f) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "cuda-emu: 32- and 64-bit atomics only");
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  auto* word = reinterpret_cast<Bits*>(p);
  Bits seen = __atomic_load_n(word, __ATOMIC_RELAXED);
  for (;;) {
    T old;
    std::memcpy(&old, &seen, sizeof(T));
    const T next = f(old);
    Bits want;
    std::memcpy(&want, &next, sizeof(T));
    if (__atomic_compare_exchange_n(word, &seen, want, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) return old;
  }
}
}  // namespace cuemu
template <class T>
T atomicAdd(T* p, T v) {
  return cuemu::atomicUpdate(p, [v](T o) { return T(o + v); });
}
template <class T>
T atomicSub(T* p, T v) {
  return cuemu::atomicUpdate(p, [v](T o) { return T(o - v); });
}
template <class T>
T atomicMax(T* p, T v) {
  return cuemu::atomicUpdate(p, [v](T o) { return o < v ? v : o; });
}
template <class T>
T atomicMin(T* p, T v) {
  return cuemu::atomicUpdate(p, [v](T o) { return v < o ? v : o; });
}
template <class T>
T atomicExch(T* p, T v) {
  return cuemu::atomicUpdate(p, [v](T) { return v; });
}
template <class T>
T atomicCAS(T* p, T compare, T v) {
  return cuemu::atomicUpdate(p, [compare, v](T o) { return o == compare ? v : o; });
}

// ---- device math the kernels call without std:: (CUDA declares them globally) ------------------
template <class A, class B>
inline auto min(A a, B b) -> std::common_type_t<A, B> {
  return b < a ? b : a;
}
template <class A, class B>
inline auto max(A a, B b) -> std::common_type_t<A, B> {
  return a < b ? b : a;
}
using std::isfinite;
using std::isinf;
using std::isnan;
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x; }
inline int __float_as_int(float f) {
  int i;
  std::memcpy(&i, &f, 4);
  return i;
}
inline float __int_as_float(int i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __ffs(int v) { return __builtin_ffs(v); }
inline int __clz(int v) { return v == 0 ? 32 : __builtin_clz(unsigned(v)); }

// ---- kernel launches -----------------------------------------------------------------------------
// rewrite_cu.mjs turns `k<<<g, b, s, st>>>(args)` into
//   ::cuemu::launch({"k", __FILE__, __LINE__, __PRETTY_FUNCTION__}, {g, b, s, st},
//                   [](auto&&... a) { k(a...); }, args)
// The arguments are copied once at the launch (CUDA's by-value parameters); every thread calls the
// kernel with its own copy of them.
namespace cuemu {
struct LaunchSite {
  const char* kernel;  // the launch expression's kernel text, e.g. "squeezeKernel<M>"
  const char* file;
  int line;
  const char* caller;  // __PRETTY_FUNCTION__ of the launching function (shows template arguments)
};
struct LaunchConfig {
  dim3 grid, block;
  size_t sharedBytes = 0;
  cudaStream_t stream = nullptr;
  LaunchConfig(dim3 g, dim3 b, size_t s = 0, cudaStream_t st = nullptr) : grid(g), block(b), sharedBytes(s), stream(st) {}
};
// Type-erased kernel body: runs one CUDA thread. `closure` outlives the launch's execution.
struct KernelBody {
  void (*run)(void* closure);
  void (*destroy)(void* closure);
  void* closure;
};
// Checks the configuration (errors go to cudaGetLastError, as a real launch), then queues the
// kernel on the stream. Takes ownership of body.closure.
void enqueueKernel(const LaunchSite& site, const LaunchConfig& cfg, KernelBody body);

template <class Fn, class... Args>
void launch(const LaunchSite& site, const LaunchConfig& cfg, Fn fn, Args&&... args) {
  using Closure = std::pair<Fn, std::tuple<std::decay_t<Args>...>>;
  auto* c = new Closure(std::move(fn), std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...));
  KernelBody body{
      [](void* p) {
        auto* cl = static_cast<Closure*>(p);
        std::tuple<std::decay_t<Args>...> mine = cl->second;  // this thread's parameter copy
        std::apply(cl->first, mine);
      },
      [](void* p) { delete static_cast<Closure*>(p); }, c};
  enqueueKernel(site, cfg, body);
}
}  // namespace cuemu
