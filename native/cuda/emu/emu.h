// cuda-emu internals shared by the runtime (runtime.cc: devices, memory, streams, events, errors)
// and the scheduler (scheduler.cc: kernels, blocks, fibers, barriers, warp operations).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <functional>
#include <string>

namespace cuemu {

// The one emulated device model: an RTX 3090 (sm_86, 82 SMs, 48 KiB of shared memory per block
// without opt-in), so that launch-configuration code takes the branches a real card makes it take.
constexpr int kMaxThreadsPerBlock = 1024;
constexpr unsigned kMaxBlockDim[3] = {1024, 1024, 64};
constexpr unsigned kMaxGridDim[3] = {2147483647u, 65535u, 65535u};
constexpr size_t kSharedPerBlock = 48 * 1024;
constexpr int kComputeMajor = 8, kComputeMinor = 6;

// Schedules of the threads of a block (and of the blocks of a grid): SCSE_CUEMU_ORDER.
enum class Order { kForward, kReverse, kRandom, kWarp };
struct Settings {
  Order order = Order::kForward;
  uint64_t seed = 1;          // SCSE_CUEMU_SEED, for kRandom
  size_t stackBytes = 0;      // SCSE_CUEMU_STACK_KB
};
Settings& settings();  // read from the environment once; tests may change it between launches
const char* orderName(Order o);

// A device fault found while a kernel ran (a diagnostic): reported by the next synchronizing call
// and by cudaGetLastError, with the text available through cudaGetErrorString.
void raiseAsync(cudaError_t code, const std::string& message);
// A launch-time error (bad configuration): the launch's own cudaGetLastError value.
void raiseLaunch(cudaError_t code, const std::string& message);

// Runs one kernel launch to completion on the calling thread; returns false after a fault
// (already raised with raiseAsync).
struct Kernel {
  LaunchSite site;
  LaunchConfig cfg;
  KernelBody body;
};
bool runKernel(const Kernel& k);
// The static shared memory a kernel was seen to use in an earlier launch (0 if never run), so a
// launch over the limit fails before running, as on a device.
size_t knownStaticShared(const LaunchSite& site);

// Queues work on a stream (nullptr: the device's default stream). Work runs, in order, when the
// stream is synchronized (or something waits on it): see runtime.cc.
void enqueue(cudaStream_t st, std::function<void()> work);

// Device allocations: checks that every red zone is intact; appends a description of each broken
// one to `out` and restores it. Called after each kernel.
bool checkRedZones(std::string* out);

std::string describeKernel(const LaunchSite& site);

}  // namespace cuemu

// Controls for the emulator's own tests (declared here, defined in scheduler.cc).
extern "C" void cuemuSetOrder(const char* order, unsigned long long seed);
