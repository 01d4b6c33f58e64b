// Batch-norm helper kernels (norm_kernels.h): the variance and running-statistics bookkeeping
// around cuDNN's batch norm, and the backward with fixed statistics, which cuDNN lacks.
#include "cuda/norm_kernels.h"
#include "cuda/reduce.cuh"
#include "math/norm.h"

namespace scse::cuda::detail {
namespace {

__global__ void finishKernel(int64_t C, float unbias, float eps, float m, const float* mean, const float* invStd,
                             float* var, float* rm, float* rv) {
  SCSE_GRID_LOOP(c, C) {
    const double inv = invStd[c];
    const double v = 1.0 / (inv * inv) - double(eps);
    var[c] = float(v > 0.0 ? v : 0.0);
    if (rm) math::bnRunningUpdate(rm + c, rv + c, mean[c], var[c], m, unbias);
  }
}

__global__ void invStdKernel(int64_t C, const float* var, float eps, float* invStd) {
  SCSE_GRID_LOOP(c, C) invStd[c] = 1.0f / sqrtf(var[c] + eps);
}

__global__ void globalDxKernel(int64_t n, int64_t C, const float* gamma, const float* invStd, const float* dy, float* dx) {
  SCSE_GRID_LOOP(i, n) {
    const int64_t c = i % C;
    dx[i] = dy[i] * gamma[c] * invStd[c];
  }
}

// Columns [0, C): dy * (x - mean) * invStd; [C, 2C): dy.
struct GlobalGradTerms {
  const float *x, *dy, *mean, *invStd;
  int64_t C;
  __device__ double operator()(int64_t r, int64_t col) const {
    const int64_t c = col < C ? col : col - C, i = r * C + c;
    if (col >= C) return dy[i];
    return double(dy[i]) * double(x[i] - mean[c]) * double(invStd[c]);
  }
};

struct StoreGammaBeta {
  float *dgamma, *dbeta;
  int64_t C;
  __device__ void operator()(int64_t col, double s) const {
    if (col < C) dgamma[col] = float(s);
    else dbeta[col - C] = float(s);
  }
};

}  // namespace

void bnFinishTraining(int device, int64_t C, int64_t count, float eps, float momentum, const float* mean,
                      const float* invStd, float* var, float* runningMean, float* runningVar) {
  cudaStream_t st = streamOf(device);
  const float unbias = float(double(count) / double(count - 1));  // as native/cpu/norm.cc
  finishKernel<<<gridFor(C), kBlock, 0, st>>>(C, unbias, eps, momentum, mean, invStd, var, runningMean, runningVar);
  checkLaunch("batchNorm");
}

void bnInvStd(int device, int64_t C, const float* var, float eps, float* invStd) {
  cudaStream_t st = streamOf(device);
  invStdKernel<<<gridFor(C), kBlock, 0, st>>>(C, var, eps, invStd);
  checkLaunch("batchNormBackward");
}

void bnGlobalBackward(int device, int64_t rows, int64_t C, const float* x, const float* mean, const float* invStd,
                      const float* gamma, const float* dy, float* dx, float* dgamma, float* dbeta) {
  const char* op = "batchNormBackward";
  cudaStream_t st = streamOf(device);
  globalDxKernel<<<gridFor(rows * C), kBlock, 0, st>>>(rows * C, C, gamma, invStd, dy, dx);
  checkLaunch(op);
  reduceColumns(device, st, rows, 2 * C, 256, GlobalGradTerms{x, dy, mean, invStd, C}, StoreGammaBeta{dgamma, dbeta, C}, op);
}

}  // namespace scse::cuda::detail
