// cuda-emu's own tests: small kernels, correct and deliberately broken, run on the emulator
// under every schedule. A broken kernel must be flagged, by a diagnostic naming the kernel or by
// a wrong result that the check below sees, under the schedule that exposes it; a correct one
// (including blocks whose warps make different numbers of shuffles) must give the exact answer
// under every schedule. The host side checks stream semantics, copies and launch limits.
// Built only by the SCSE_CUDA=EMU build (cuemu_selftest); prints one line per check and
// "N passed, M failed".
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "stream_abi.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

extern "C" void cuemuSetOrder(const char* order, unsigned long long seed);

namespace {

int gPassed = 0, gFailed = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  (ok ? gPassed : gFailed)++;
}

const char* const kOrders[] = {"forward", "reverse", "random", "warp"};

// Device buffer of n floats, filled from `init` (or left as cudaMalloc gives it).
struct Buf {
  float* p = nullptr;
  int n = 0;
  explicit Buf(int count, const std::vector<float>& init = {}) : n(count) {
    cudaMalloc(reinterpret_cast<void**>(&p), size_t(n) * 4);
    if (!init.empty()) cudaMemcpy(p, init.data(), size_t(n) * 4, cudaMemcpyHostToDevice);
  }
  ~Buf() { cudaFree(p); }
  std::vector<float> get() const {
    std::vector<float> v(static_cast<size_t>(n));
    cudaMemcpy(v.data(), p, size_t(n) * 4, cudaMemcpyDeviceToHost);
    return v;
  }
};

// The status of the launch plus everything it ran into, and the error text.
struct Outcome {
  cudaError_t launch, run;
  std::string text;
};
template <class F>
Outcome run(F launchIt) {
  cudaGetLastError();
  launchIt();
  Outcome o{cudaGetLastError(), cudaSuccess, ""};
  o.run = cudaDeviceSynchronize();
  const cudaError_t e = o.launch != cudaSuccess ? o.launch : o.run;
  o.text = cudaGetErrorString(e);
  return o;
}
bool mentions(const Outcome& o, const char* s) { return o.text.find(s) != std::string::npos; }

// ---- correct kernels ----------------------------------------------------------------------------
__device__ float warpSum(float v, unsigned mask) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(mask, v, o);
  return v;
}

// Rows of `cols` values, one warp per row, warps striding over rows: with rows not a multiple of
// the warp count, warps make different numbers of shuffles (the case that breaks emulators that
// treat a shuffle as a block barrier). Then a block-wide barrier and a shared-memory total.
__global__ void rowSums(const float* x, int rows, int cols, float* out, float* total) {
  __shared__ float perWarp[8];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  float mine = 0;
  for (int r = warp; r < rows; r += warps) {
    float s = 0;
    for (int c = lane; c < cols; c += 32) s += x[r * cols + c];
    s = warpSum(s, 0xffffffffu);
    if (lane == 0) out[r] = s;
    mine += s;
  }
  if (lane == 0) perWarp[warp] = mine;
  __syncthreads();
  if (threadIdx.x == 0) {
    float t = 0;
    for (int w = 0; w < warps; w++) t += perWarp[w];
    *total = t;
  }
}

// A partial last warp (blockDim 80: warps of 32, 32 and 16 lanes) shuffling with the mask of the
// lanes that exist, __ballot_sync / __any_sync / __all_sync, and __shfl_down/up/idx with widths.
__global__ void tailWarps(float* out) {
  const int lane = threadIdx.x % 32, warpBase = threadIdx.x / 32 * 32;
  const int here = min(32, int(blockDim.x) - warpBase);
  const unsigned mask = here == 32 ? 0xffffffffu : (1u << here) - 1;
  float v = float(threadIdx.x);
  float s = v;
  for (int o = 1; o < 32; o <<= 1) {
    const float u = __shfl_up_sync(mask, s, o);
    if (lane >= o) s += u;  // inclusive prefix sum within the warp
  }
  const unsigned odd = __ballot_sync(mask, threadIdx.x & 1);
  const int any = __any_sync(mask, threadIdx.x == 70);
  const int all = __all_sync(mask, threadIdx.x < 1000);
  const float fromFirst = __shfl_sync(mask, v, 0);
  const float down = __shfl_down_sync(mask, v, 1, 8);  // within groups of 8
  out[threadIdx.x * 6 + 0] = s;
  out[threadIdx.x * 6 + 1] = float(odd);
  out[threadIdx.x * 6 + 2] = float(any);
  out[threadIdx.x * 6 + 3] = float(all);
  out[threadIdx.x * 6 + 4] = fromFirst;
  out[threadIdx.x * 6 + 5] = down;
}

__global__ void atomicTotals(float* f, double* d, unsigned long long* mx, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    atomicAdd(f, 1.0f);
    atomicAdd(d, double(i));
    atomicMax(mx, static_cast<unsigned long long>(i));
  }
}

// ---- broken kernels -----------------------------------------------------------------------------
// Warp 1 writes what warp 0 reads, with or without the barrier between.
template <bool kBarrier>
__global__ void handOff(float* out) {
  __shared__ float sh[32];
  const int lane = threadIdx.x % 32;
  if (threadIdx.x >= 32) sh[lane] = float(lane + 1);
  if (kBarrier) __syncthreads();
  if (threadIdx.x < 32) out[lane] = sh[lane];
}

__global__ void divergentBarrier(float* out) {
  if (threadIdx.x < 16) __syncthreads();
  out[threadIdx.x] = 1.0f;
}

__global__ void divergentShuffle(float* out) {
  float v = float(threadIdx.x);
  if (threadIdx.x % 32 < 16) v = __shfl_xor_sync(0xffffffffu, v, 1);
  out[threadIdx.x] = v;
}

__global__ void laneOutsideMask(float* out) {
  float v = float(threadIdx.x);
  v = __shfl_xor_sync(0x0000ffffu, v, 1);  // lanes 16-31 call it too
  out[threadIdx.x] = v;
}

__global__ void deadlocked(float* out) {
  if (threadIdx.x == 0) __syncwarp(0x3u);  // waits for lane 1, which waits at the barrier
  else __syncthreads();
  out[threadIdx.x] = 1.0f;
}

#if !defined(__SANITIZE_ADDRESS__)
// Reads one element past the end of x (the sum picks up the poison behind the allocation).
__global__ void readPastEnd(const float* x, int n, float* out) {
  if (threadIdx.x == 0) {
    float s = 0;
    for (int i = 0; i <= n; i++) s += x[i];
    *out = s;
  }
}

__global__ void writePastEnd(float* x, int n) {
  if (threadIdx.x == 0) x[n] = 0.0f;
}

// Dynamic shared memory sized blockDim.x - 1 floats by the host: the last thread writes past it.
__global__ void sharedOneShort(float* out) {
  extern __shared__ float buf[];
  buf[threadIdx.x] = float(threadIdx.x);
  __syncthreads();
  out[threadIdx.x] = buf[(threadIdx.x + 1) % blockDim.x];
}
#else
// Under AddressSanitizer (scripts/emu-sanitize.sh) the emulator gives exact-size blocks and leaves
// out-of-bounds accesses to ASan, which reports them and aborts the program: the three deliberate
// out-of-bounds kernels (readPastEnd, writePastEnd, sharedOneShort) are not built then. Checked
// instead: the word each would touch is poisoned, i.e. ASan would report that access.
void skipUnderAsan(const char* what) {
  std::printf("skip %s: AddressSanitizer build, where ASan itself reports it and aborts; checking that ASan would\n", what);
}
bool poisoned(const void* p) { return __asan_address_is_poisoned(p) != 0; }
__global__ void sharedPastEndPoisoned(int n, float* out) {
  extern __shared__ float buf[];
  if (threadIdx.x == 0) *out = poisoned(&buf[n]) ? 1.0f : 0.0f;
}
#endif

// Two threads write one shared word in the same barrier interval: the winner depends on order.
__global__ void sharedRace(float* out) {
  __shared__ float word;
  if (threadIdx.x == 3) word = 3.0f;
  if (threadIdx.x == 40) word = 40.0f;
  __syncthreads();
  if (threadIdx.x == 0) *out = word;
}

__global__ void usesShared(float* out) {
  extern __shared__ float buf[];
  buf[threadIdx.x] = 1.0f;
  out[threadIdx.x] = buf[threadIdx.x];
}

__global__ void noop() {}

// ---- tests --------------------------------------------------------------------------------------
void correctKernels() {
  for (const char* order : kOrders) {
    cuemuSetOrder(order, 7);
    const std::string tag = std::string(" [") + order + "]";
    for (int rows : {1, 7, 9, 20}) {
      const int cols = 45;
      std::vector<float> x(size_t(rows * cols));
      for (size_t i = 0; i < x.size(); i++) x[i] = float(i % 13) - 6.0f;
      Buf dx(rows * cols, x), out(rows), total(1);
      const Outcome o = run([&] { rowSums<<<1, 256>>>(dx.p, rows, cols, out.p, total.p); });
      std::vector<float> got = out.get();
      bool ok = o.launch == cudaSuccess && o.run == cudaSuccess;
      double all = 0;
      for (int r = 0; r < rows; r++) {
        double want = 0;
        for (int c = 0; c < cols; c++) want += x[size_t(r * cols + c)];
        ok = ok && got[size_t(r)] == float(want);
        all += want;
      }
      ok = ok && total.get()[0] == float(all);
      check(ok, "rowSums: " + std::to_string(rows) + " rows over 8 warps (uneven shuffle counts)" + tag);
    }
    {
      Buf out(80 * 6);
      const Outcome o = run([&] { tailWarps<<<1, 80>>>(out.p); });
      std::vector<float> g = out.get();
      bool ok = o.launch == cudaSuccess && o.run == cudaSuccess;
      for (int t = 0; t < 80 && ok; t++) {
        const int base = t / 32 * 32, here = std::min(32, 80 - base), lane = t % 32;
        double prefix = 0;
        for (int j = base; j <= t; j++) prefix += j;
        unsigned odd = 0;
        for (int l = 0; l < here; l++)
          if ((base + l) & 1) odd |= 1u << l;
        const bool any = t / 32 == 70 / 32;
        const int groupEnd = (lane / 8 + 1) * 8;
        const float down = lane + 1 < groupEnd ? float(t + 1) : float(t);
        ok = g[size_t(t * 6)] == float(prefix) && g[size_t(t * 6 + 1)] == float(odd) && g[size_t(t * 6 + 2)] == float(any) &&
             g[size_t(t * 6 + 3)] == 1.0f && g[size_t(t * 6 + 4)] == float(base) && g[size_t(t * 6 + 5)] == down;
        if (!ok) std::printf("     thread %d: %g %g %g %g %g %g\n", t, g[size_t(t * 6)], g[size_t(t * 6 + 1)], g[size_t(t * 6 + 2)],
                             g[size_t(t * 6 + 3)], g[size_t(t * 6 + 4)], g[size_t(t * 6 + 5)]);
      }
      check(ok, "tailWarps: partial last warp, up/idx/down shuffles with widths, ballot/any/all" + tag);
    }
    {
      float* f = nullptr;
      double* d = nullptr;
      unsigned long long* mx = nullptr;
      cudaMalloc(reinterpret_cast<void**>(&f), 4);
      cudaMalloc(reinterpret_cast<void**>(&d), 8);
      cudaMalloc(reinterpret_cast<void**>(&mx), 8);
      cudaMemset(f, 0, 4), cudaMemset(d, 0, 8), cudaMemset(mx, 0, 8);
      const int n = 3000;
      const Outcome o = run([&] { atomicTotals<<<5, 128>>>(f, d, mx, n); });
      float hf = 0;
      double hd = 0;
      unsigned long long hm = 0;
      cudaMemcpy(&hf, f, 4, cudaMemcpyDeviceToHost), cudaMemcpy(&hd, d, 8, cudaMemcpyDeviceToHost);
      cudaMemcpy(&hm, mx, 8, cudaMemcpyDeviceToHost);
      check(o.run == cudaSuccess && hf == float(n) && hd == double(n) * (n - 1) / 2 && hm == unsigned(n - 1),
            "atomicAdd float/double through compare-and-swap, atomicMax u64" + tag);
      cudaFree(f), cudaFree(d), cudaFree(mx);
    }
    {
      Buf out(32);
      const Outcome o = run([&] { handOff<true><<<1, 64>>>(out.p); });
      std::vector<float> g = out.get();
      bool ok = o.run == cudaSuccess;
      for (int l = 0; l < 32; l++) ok = ok && g[size_t(l)] == float(l + 1);
      check(ok, "handOff with __syncthreads: warp 1 -> warp 0 through shared memory" + tag);
    }
  }
}

void brokenKernels() {
  // A missing barrier: warp 0 reads before warp 1 has written under some schedule; what it reads
  // then is the poison (NaN) every block's shared memory starts with.
  int exposedBy = 0;
  std::string which;
  for (const char* order : kOrders) {
    cuemuSetOrder(order, 7);
    Buf out(32);
    run([&] { handOff<false><<<1, 64>>>(out.p); });
    std::vector<float> g = out.get();
    bool right = true;
    for (int l = 0; l < 32; l++) right = right && g[size_t(l)] == float(l + 1);
    if (!right) exposedBy++, which += std::string(" ") + order;
  }
  check(exposedBy > 0, "missing __syncthreads: wrong (poisoned) result under" + (which.empty() ? std::string(" no schedule") : which));

  cuemuSetOrder("forward", 7);
  {
    Buf out(64);
    const Outcome o = run([&] { divergentBarrier<<<1, 64>>>(out.p); });
    check(o.run == cudaErrorLaunchFailure && mentions(o, "divergent __syncthreads") && mentions(o, "divergentBarrier"),
          "divergent barrier diagnosed: " + o.text);
  }
  {
    Buf out(64);
    const Outcome o = run([&] { divergentShuffle<<<1, 64>>>(out.p); });
    check(o.run == cudaErrorLaunchFailure && mentions(o, "__shfl_xor_sync") && mentions(o, "exited") && mentions(o, "divergentShuffle"),
          "divergent shuffle (a lane of the mask exits) diagnosed: " + o.text);
  }
  {
    Buf out(32);
    const Outcome o = run([&] { laneOutsideMask<<<1, 32>>>(out.p); });
    check(o.run == cudaErrorLaunchFailure && mentions(o, "not in its own mask"), "lane outside its mask diagnosed: " + o.text);
  }
  {
    Buf out(64);
    const Outcome o = run([&] { deadlocked<<<1, 64>>>(out.p); });
    check(o.run == cudaErrorLaunchFailure && mentions(o, "deadlock") && mentions(o, "deadlocked"), "deadlock diagnosed: " + o.text);
  }
#if defined(__SANITIZE_ADDRESS__)
  {
    Buf x(64);
    skipUnderAsan("out-of-bounds read (readPastEnd)");
    check(poisoned(x.p + 64), "ASan: the float past a 64-float cudaMalloc block is poisoned");
    skipUnderAsan("out-of-bounds write (writePastEnd)");
    check(poisoned(x.p + 64) && !poisoned(x.p + 63), "ASan: x[64] poisoned, x[63] not");
    skipUnderAsan("dynamic shared memory one float short (sharedOneShort)");
    Buf out(1);
    const Outcome o = run([&] { sharedPastEndPoisoned<<<1, 64, 63 * sizeof(float)>>>(63, out.p); });
    check(o.run == cudaSuccess && out.get()[0] == 1.0f, "ASan: the float past 63 floats of dynamic shared memory is poisoned");
  }
#else
  {
    const int n = 64;
    std::vector<float> ones(size_t(n), 1.0f);
    Buf x(n, ones), out(1);
    const Outcome o = run([&] { readPastEnd<<<1, 32>>>(x.p, n, out.p); });
    const float got = out.get()[0];
    check(o.run == cudaSuccess && std::isnan(got), "out-of-bounds read gives the red zone's poison (sum " + std::to_string(got) + ")");
  }
  {
    Buf x(64);
    const Outcome o = run([&] { writePastEnd<<<1, 32>>>(x.p, 64); });
    check(o.run == cudaErrorIllegalAddress && mentions(o, "wrote past the end") && mentions(o, "writePastEnd"),
          "out-of-bounds write diagnosed: " + o.text);
  }
  {
    Buf out(64);
    const Outcome o = run([&] { sharedOneShort<<<1, 64, 63 * sizeof(float)>>>(out.p); });
    check(o.run == cudaErrorIllegalAddress && mentions(o, "dynamic shared memory"), "dynamic shared memory one float short diagnosed: " + o.text);
  }
#endif
  {
    std::vector<float> results;
    for (const char* order : kOrders) {
      cuemuSetOrder(order, 7);
      Buf out(1);
      run([&] { sharedRace<<<1, 64>>>(out.p); });
      results.push_back(out.get()[0]);
    }
    bool differ = false;
    for (float r : results) differ = differ || r != results[0];
    check(differ, "shared-memory race: schedules disagree (" + std::to_string(results[0]) + " vs " + std::to_string(results[1]) + ")");
    cuemuSetOrder("forward", 7);
  }
}

void launchLimits() {
  Buf out(1024);
  Outcome o = run([&] { usesShared<<<1, 32, 48 * 1024 + 4>>>(out.p); });
  check(o.launch == cudaErrorInvalidValue && mentions(o, "49152"), "dynamic shared memory over 48 KiB refused at launch: " + o.text);
  o = run([&] { usesShared<<<1, 32, 48 * 1024>>>(out.p); });
  check(o.launch == cudaSuccess && o.run == cudaSuccess, "exactly 48 KiB of dynamic shared memory launches");
  o = run([&] { noop<<<1, 1025>>>(); });
  check(o.launch == cudaErrorInvalidConfiguration, "1025 threads per block refused");
  o = run([&] { noop<<<dim3(1, 65536), 32>>>(); });
  check(o.launch == cudaErrorInvalidConfiguration, "grid y of 65536 refused");
  o = run([&] { noop<<<dim3(1, 1, 1), dim3(1, 1, 65)>>>(); });
  check(o.launch == cudaErrorInvalidConfiguration, "block z of 65 refused");
  o = run([&] { noop<<<0, 32>>>(); });
  check(o.launch == cudaErrorInvalidConfiguration, "an empty grid refused");
  o = run([&] { noop<<<dim3(3, 2, 2), dim3(32, 4, 2)>>>(); });
  check(o.launch == cudaSuccess && o.run == cudaSuccess, "3-D grid and block launch");
  cudaDeviceProp p{};
  cudaGetDeviceProperties(&p, 0);
  check(p.major == 8 && p.minor == 6 && p.multiProcessorCount == 82 && p.sharedMemPerBlock == 49152 && p.maxThreadsPerBlock == 1024,
        std::string("device properties of an RTX 3090: ") + p.name);
}

void streams() {
  cudaStream_t st = nullptr;
  cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking);
  float* pinned = nullptr;
  cudaHostAlloc(reinterpret_cast<void**>(&pinned), 64 * 4, cudaHostAllocDefault);
  for (int i = 0; i < 64; i++) pinned[i] = -1.0f;
  std::vector<float> src(64, 2.5f);
  Buf d(64);
  cudaMemcpyAsync(d.p, src.data(), 64 * 4, cudaMemcpyHostToDevice, st);
  src.assign(64, 9.0f);  // pageable source: taken at the call, as CUDA stages it
  cudaMemcpyAsync(pinned, d.p, 64 * 4, cudaMemcpyDeviceToHost, st);
  const bool stale = pinned[0] == -1.0f;  // queued, not yet run
  cudaEvent_t e = nullptr;
  cudaEventCreate(&e);
  cudaEventRecord(e, st);
  cudaEventSynchronize(e);
  check(stale && pinned[0] == 2.5f && pinned[63] == 2.5f, "async copy to pinned memory lands only after the wait");
  std::vector<float> host(64, 0.0f);
  cudaMemsetAsync(d.p, 0, 64 * 4, st);
  cudaMemcpyAsync(host.data(), d.p, 64 * 4, cudaMemcpyDeviceToHost, st);  // pageable: waits
  check(host[5] == 0.0f, "copy to pageable memory waits for the stream");
  std::vector<float> fresh(8, 0.0f);
  Buf u(8);
  cudaMemcpy(fresh.data(), u.p, 32, cudaMemcpyDeviceToHost);
  check(std::isnan(fresh[0]), "fresh cudaMalloc memory is poisoned (NaN), not zero");
  cudaGetLastError();
  cudaError_t k = cudaMemcpy(host.data(), src.data(), 32, cudaMemcpyDeviceToHost);
  check(k == cudaErrorInvalidValue, "a host pointer given as the source of a device-to-host copy is refused");
  k = cudaMemcpy(d.p + 60, src.data(), 32, cudaMemcpyHostToDevice);
  check(k == cudaErrorInvalidValue, "a copy running past the end of an allocation is refused");
  cudaGetLastError();
  check(cudaFree(src.data()) == cudaErrorInvalidDevicePointer, "cudaFree of a host pointer is refused");
  cudaGetLastError();
  for (int i = 0; i < 64; i++) pinned[i] = -1.0f;
  cudaMemsetAsync(d.p, 0, 64 * 4, st);
  cudaMemcpyAsync(pinned, d.p, 64 * 4, cudaMemcpyDeviceToHost, st);
  const bool queued = pinned[0] == -1.0f;
  const int drained = cuemuDrainStream(st);  // what the cuDNN stand-in does before it computes
  check(queued && drained == 0 && pinned[0] == 0.0f, "stream_abi.h: the stand-in's drain runs the stream's queued work");
  cudaEventDestroy(e);
  cudaFreeHost(pinned);
  cudaStreamDestroy(st);
}

}  // namespace

int main() {
  correctKernels();
  brokenKernels();
  launchLimits();
  streams();
  std::printf("%d passed, %d failed\n", gPassed, gFailed);
  return gFailed == 0 ? 0 : 1;
}
