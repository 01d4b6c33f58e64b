// See probe.h.
#include <cuda_runtime.h>

#include "cuda/probe.h"

namespace scse::cuda {
namespace {

__global__ void probeKernel(int* flag) {
  if (flag) *flag = 1;
}

}  // namespace

int probeKernelAttributes() {
  cudaFuncAttributes attr{};
  return int(cudaFuncGetAttributes(&attr, probeKernel));
}

int probeKernelLaunch() {
  probeKernel<<<1, 1>>>(nullptr);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return int(e);
  return int(cudaDeviceSynchronize());
}

}  // namespace scse::cuda
