// In-place SGD and Adam steps: the CUDA twins of native/cpu/optim.cc (see ops.h), one thread per
// element running the shared update of math/optim.h (explicit fmadd: same bits as the CPU).
#include "cuda/ops.h"
#include "cuda/kernels.cuh"
#include "math/optim.h"

namespace scse::cuda {
namespace {

using detail::checkLaunch;
using detail::gridFor;
using detail::kBlock;
using detail::streamOf;

__global__ void sgdKernel(float* p, const float* g, float* buf, int64_t n, math::SgdHyper h) {
  SCSE_GRID_LOOP(i, n) math::sgdUpdate(p + i, g[i], buf ? buf + i : nullptr, h);
}

__global__ void adamKernel(float* p, const float* g, float* m, float* v, int64_t n, math::AdamHyper h) {
  SCSE_GRID_LOOP(i, n) math::adamUpdate(p + i, g[i], m + i, v + i, h);
}

}  // namespace

void sgdStep(int device, float* param, const float* grad, float* momentumBuf, int64_t n, const math::SgdHyper& h) {
  cudaStream_t st = streamOf(device);
  sgdKernel<<<gridFor(n), kBlock, 0, st>>>(param, grad, momentumBuf, n, h);
  checkLaunch("sgdStep");
}

void adamStep(int device, float* param, const float* grad, float* m, float* v, int64_t n, double lr, double beta1,
              double beta2, double eps, double weightDecay, int64_t step, bool decoupled) {
  // the hyperparameters exactly as native/cpu/optim.cc builds them
  math::AdamHyper h;
  h.lr = float(lr);
  h.beta1 = float(beta1);
  h.beta2 = float(beta2);
  h.eps = float(eps);
  h.weightDecay = float(weightDecay);
  h.decoupled = decoupled;
  math::adamStepScalars(lr, beta1, beta2, step, &h);
  cudaStream_t st = streamOf(device);
  adamKernel<<<gridFor(n), kBlock, 0, st>>>(param, grad, m, v, n, h);
  checkLaunch("adamStep");
}

}  // namespace scse::cuda
