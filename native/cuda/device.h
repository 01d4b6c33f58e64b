// CUDA device detection: is there a driver, is it new enough, are there devices, does this build
// carry code for them, is cuDNN there. Every answer is a precise, human-readable reason; no CUDA
// error ever aborts. Plain C++ header (no CUDA/napi types) so the addon can include it.
#pragma once
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace scse::cuda {

// Thrown by the CUDA layer; the addon turns it into a JS Error with the same message.
struct CudaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct DeviceInfo {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;  // compute capability
  size_t totalMemory = 0;
  int multiProcessors = 0;
  bool usable = false;  // this build has a kernel image for it (probed) and the context works
  std::string reason;   // why not, empty when usable
};

struct RuntimeStatus {
  bool usable = false;      // a driver and at least one usable device (cuDNN not considered)
  std::string reason;       // why not, empty when usable
  int driverVersion = 0;    // cudaDriverGetVersion: the newest CUDA the driver supports (13000 = 13.0), 0 = none
  int runtimeVersion = 0;   // cudaRuntimeGetVersion of the linked (static) runtime
  std::vector<DeviceInfo> devices;
};

// Driver, devices and kernel images, probed once and cached. Probing a device that this build can
// run on creates its primary context (as the first use would): restrict with CUDA_VISIBLE_DEVICES.
const RuntimeStatus& runtimeStatus();

// Runtime status plus cuDNN: usable only when both are. `reason` names the first problem.
struct BackendStatus {
  bool usable = false;
  std::string reason;
};
BackendStatus backendStatus();

// Makes `device` current on the calling thread (CUDA's current device is per thread) after
// checking it is usable; throws CudaError("cuda:N: not usable: <reason>") otherwise.
void useDevice(int device);

// "cudaErrorMemoryAllocation: out of memory" (cudaGetErrorName + cudaGetErrorString).
std::string errorText(int code);
// Throws CudaError("<what>: <errorText>") when code != 0, after clearing CUDA's last error.
void check(int code, const char* what);

// --- pure helpers (no CUDA calls besides error names), exposed for tests -------------------
// The reason for a failed or empty cudaGetDeviceCount, from its status and the driver version.
std::string describeInitFailure(int countStatus, int driverVersion, int runtimeVersion);
// "13.0" from 13000.
std::string cudaVersionString(int v);
// The SCSE_CUDA_ARCHS this build was compiled with, comma-separated ("75-real,...,120-virtual").
std::string buildArchs();
// "75,80,86,89,90 + PTX 120"
std::string describeArchs(const std::string& archs);
// Whether code built for `archs` can run on compute capability major.minor: 1 yes, 0 no,
// -1 unknown (e.g. "native"/"all" entries). SASS sm_XY runs on X.y for y >= Y (not on other
// majors; "XYa" only on X.Y exactly); PTX compute_XY is JIT-compiled for any X.Y or newer.
int archSupports(const std::string& archs, int major, int minor);
// The reason for a device this build has no code for; `probeError` (may be empty) is the failed
// call and its error name.
std::string describeNoKernelImage(const std::string& archs, int major, int minor, const std::string& name,
                                  const std::string& probeError);

}  // namespace scse::cuda
