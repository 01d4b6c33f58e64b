// A trivial kernel compiled into scse_cuda for every architecture of the build: querying and
// launching it tells whether this build carries code the current device can run.
#pragma once

namespace scse::cuda {

// cudaFuncGetAttributes on the probe kernel, on the current device: a cudaError_t value (0 = ok;
// 209 cudaErrorNoKernelImageForDevice / 98 cudaErrorInvalidDeviceFunction = no usable image).
int probeKernelAttributes();
// Launches the probe kernel (one thread) on the legacy default stream and waits: a cudaError_t value.
int probeKernelLaunch();

}  // namespace scse::cuda
