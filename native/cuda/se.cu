// Fused SE kernels on CUDA, the same two-pass structure as native/cpu/se.cc and the same
// per-element math (math/se.h). NHWC: a warp walks pixel rows, its lanes stride over channels
// (coalesced), reducing per-pixel quantities with shuffles and per-channel ones in shared memory.
#include <cuda_runtime.h>

#include "cuda/kernels.cuh"
#include "cuda/se_kernels.h"
#include "math/se.h"

namespace scse::cuda {
namespace {

using namespace scse::math;

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kRowsPerBlock = 64;  // pixel rows handled by one block

__device__ __forceinline__ float warpSum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Pass 1 of the forward: per-channel sums (cSE squeeze) and per-pixel q = σ(w·u + b) (sSE squeeze).
// grid = (ceil(P / kRowsPerBlock), N); dynamic shared memory = kWarps * C floats.
template <int M>
__global__ void squeezeKernel(SeDeviceArgs a) {
  extern __shared__ float part[];  // [kWarps][C]
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t n = blockIdx.y, C = a.C;
  float* mine = part + warp * C;
  for (int64_t c = lane; c < C; c += 32) mine[c] = 0.0f;
  const int64_t p0 = int64_t(blockIdx.x) * kRowsPerBlock;
  const int64_t p1 = min(p0 + kRowsPerBlock, a.P);
  for (int64_t p = p0 + warp; p < p1; p += kWarps) {
    const float* u = a.x + (n * a.P + p) * C;
    float d = 0.0f;
    for (int64_t c = lane; c < C; c += 32) {
      float v = u[c];
      if (seUsesChannel(M)) mine[c] += v;
      if (seUsesSpatial(M)) d += a.wsq[c] * v;
    }
    if (seUsesSpatial(M)) {
      d = warpSum(d);
      if (lane == 0) {
        if (a.bad && !isfinite(d)) detail::flagFirst(a.bad, n);
        a.q[n * a.P + p] = sigmoid(d + a.bsq[0]);
      }
    }
  }
  if (!seUsesChannel(M)) return;
  __syncthreads();
  for (int64_t c = threadIdx.x; c < C; c += kThreads) {
    float t = 0.0f;
    for (int w = 0; w < kWarps; w++) t += part[w * C + c];
    atomicAdd(a.z + n * C + c, t);
  }
}

// Channel MLP for one image per block: z (sums) -> mean -> hpre -> s.
__global__ void mlpKernel(SeDeviceArgs a) {
  extern __shared__ float sh[];  // z [C], h [Cr]
  const int64_t n = blockIdx.x, C = a.C, Cr = a.Cr;
  float* z = sh;
  float* h = sh + C;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    float m = a.z[n * C + c] / float(a.P);
    if (a.bad && !isfinite(m)) detail::flagFirst(a.bad, n);
    a.z[n * C + c] = m;
    z[c] = m;
  }
  __syncthreads();
  for (int64_t j = threadIdx.x; j < Cr; j += blockDim.x) {
    float acc = a.b1 ? a.b1[j] : 0.0f;
    for (int64_t c = 0; c < C; c++) acc += a.w1[j * C + c] * z[c];
    a.hpre[n * Cr + j] = acc;
    h[j] = seHiddenRelu(acc);
  }
  __syncthreads();
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    float acc = a.b2 ? a.b2[c] : 0.0f;
    for (int64_t j = 0; j < Cr; j++) acc += a.w2[c * Cr + j] * h[j];
    a.s[n * C + c] = sigmoid(acc);
  }
}

// Pass 2 of the forward: y = seOut(u, s[n,c], q[n,p]).
template <int M>
__global__ void exciteKernel(SeDeviceArgs a, float* y) {
  const int64_t total = a.N * a.P * a.C;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = i % a.C, np = i / a.C, n = np / a.P;
    const float s = seUsesChannel(M) ? a.s[n * a.C + c] : 0.0f;
    const float q = seUsesSpatial(M) ? a.q[np] : 0.0f;
    y[i] = seOut<M>(a.x[i], s, q);
  }
}

// Pass 1 of the backward: ds[n,c] = Σ_p ∂y/∂s·dy, dqpre[n,p] = (Σ_c ∂y/∂q·dy)·q(1-q), and the sSE
// parameter gradients dwsq[c] = Σ dqpre·u, dbsq = Σ dqpre. Dynamic shared memory = 2·kWarps·C floats.
template <int M>
__global__ void gradReduceKernel(SeDeviceArgs a, SeDeviceGrads g) {
  extern __shared__ float part[];  // ds [kWarps][C], dwsq [kWarps][C]
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t n = blockIdx.y, C = a.C;
  float* dsMine = part + warp * C;
  float* wMine = part + (kWarps + warp) * C;
  for (int64_t c = lane; c < C; c += 32) dsMine[c] = 0.0f, wMine[c] = 0.0f;
  float bsqAcc = 0.0f;
  const int64_t p0 = int64_t(blockIdx.x) * kRowsPerBlock;
  const int64_t p1 = min(p0 + kRowsPerBlock, a.P);
  for (int64_t p = p0 + warp; p < p1; p += kWarps) {
    const int64_t row = (n * a.P + p) * C;
    const float q = seUsesSpatial(M) ? a.q[n * a.P + p] : 0.0f;
    float dq = 0.0f;
    for (int64_t c = lane; c < C; c += 32) {
      const float s = seUsesChannel(M) ? a.s[n * C + c] : 0.0f;
      SeGrad e = seGrad<M>(a.x[row + c], s, q, g.dy[row + c]);
      if (seUsesChannel(M)) dsMine[c] += e.ds;
      dq += e.dq;
    }
    if (seUsesSpatial(M)) {
      const float dpre = warpSum(dq) * q * (1.0f - q);
      if (lane == 0) g.dqpre[n * a.P + p] = dpre, bsqAcc += dpre;
      for (int64_t c = lane; c < C; c += 32) wMine[c] += dpre * a.x[row + c];
    }
  }
  __syncthreads();
  for (int64_t c = threadIdx.x; c < C; c += kThreads) {
    float ds = 0.0f, dw = 0.0f;
    for (int w = 0; w < kWarps; w++) ds += part[w * C + c], dw += part[(kWarps + w) * C + c];
    if (seUsesChannel(M)) atomicAdd(g.ds + n * C + c, ds);
    if (seUsesSpatial(M)) atomicAdd(g.dwsq + c, dw);
  }
  if (seUsesSpatial(M) && lane == 0) atomicAdd(g.dbsq, bsqAcc);
}

// MLP backward in one block, looping over images so parameter gradients need no atomics.
// On exit g.ds holds dz / P (the gradient reaching every pixel through the mean).
__global__ void mlpBackwardKernel(SeDeviceArgs a, SeDeviceGrads g) {
  extern __shared__ float sh[];  // dpre [C], dh [Cr]
  const int64_t C = a.C, Cr = a.Cr;
  float* dpre = sh;
  float* dh = sh + C;
  for (int64_t n = 0; n < a.N; n++) {
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
      const float s = a.s[n * C + c];
      dpre[c] = g.ds[n * C + c] * s * (1.0f - s);
    }
    __syncthreads();
    for (int64_t j = threadIdx.x; j < Cr; j += blockDim.x) {
      const float hp = a.hpre[n * Cr + j];
      float acc = 0.0f;
      for (int64_t c = 0; c < C; c++) {
        acc += a.w2[c * Cr + j] * dpre[c];
        g.dw2[c * Cr + j] += dpre[c] * seHiddenRelu(hp);
      }
      dh[j] = seHiddenReluGrad(hp, acc);
      if (g.db1) g.db1[j] += dh[j];
    }
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
      if (g.db2) g.db2[c] += dpre[c];
    __syncthreads();
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
      float dz = 0.0f;
      for (int64_t j = 0; j < Cr; j++) {
        dz += a.w1[j * C + c] * dh[j];
        g.dw1[j * C + c] += dh[j] * a.z[n * C + c];
      }
      g.ds[n * C + c] = dz / float(a.P);
    }
    __syncthreads();
  }
}

// Pass 2 of the backward: dx = ∂y/∂u·dy + dqpre·wsq[c] + dz[c]/P.
template <int M>
__global__ void dxKernel(SeDeviceArgs a, SeDeviceGrads g) {
  const int64_t total = a.N * a.P * a.C;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = i % a.C, np = i / a.C, n = np / a.P;
    const float s = seUsesChannel(M) ? a.s[n * a.C + c] : 0.0f;
    const float q = seUsesSpatial(M) ? a.q[np] : 0.0f;
    float v = seGrad<M>(a.x[i], s, q, g.dy[i]).du;
    if (seUsesSpatial(M)) v += g.dqpre[np] * a.wsq[c];
    if (seUsesChannel(M)) v += g.ds[n * a.C + c];
    g.dx[i] = v;
  }
}

int gridFor(int64_t total) {
  const int64_t blocks = (total + kThreads - 1) / kThreads;
  return int(blocks < 65535 * 4 ? blocks : 65535 * 4);  // grid-stride loops cover the rest
}

template <int M>
int forwardImpl(const SeDeviceArgs& a, float* y, cudaStream_t st) {
  const dim3 grid(unsigned((a.P + kRowsPerBlock - 1) / kRowsPerBlock), unsigned(a.N));
  if (seUsesChannel(M)) cudaMemsetAsync(a.z, 0, size_t(a.N * a.C) * sizeof(float), st);
  if (a.bad) cudaMemsetAsync(a.bad, 0xFF, sizeof(int64_t), st);  // -1: fine
  squeezeKernel<M><<<grid, kThreads, size_t(kWarps * a.C) * sizeof(float), st>>>(a);
  if (seUsesChannel(M)) mlpKernel<<<unsigned(a.N), kThreads, size_t(a.C + a.Cr) * sizeof(float), st>>>(a);
  exciteKernel<M><<<gridFor(a.N * a.P * a.C), kThreads, 0, st>>>(a, y);
  return int(cudaGetLastError());
}

template <int M>
int backwardImpl(const SeDeviceArgs& a, const SeDeviceGrads& g, cudaStream_t st) {
  auto zero = [&](float* p, int64_t n) {
    if (p) cudaMemsetAsync(p, 0, size_t(n) * sizeof(float), st);
  };
  zero(g.dw1, a.Cr * a.C), zero(g.db1, a.Cr), zero(g.dw2, a.C * a.Cr), zero(g.db2, a.C);
  zero(g.dwsq, a.C), zero(g.dbsq, 1), zero(g.ds, a.N * a.C);
  const dim3 grid(unsigned((a.P + kRowsPerBlock - 1) / kRowsPerBlock), unsigned(a.N));
  gradReduceKernel<M><<<grid, kThreads, size_t(2 * kWarps * a.C) * sizeof(float), st>>>(a, g);
  if (seUsesChannel(M)) mlpBackwardKernel<<<1, kThreads, size_t(a.C + a.Cr) * sizeof(float), st>>>(a, g);
  dxKernel<M><<<gridFor(a.N * a.P * a.C), kThreads, 0, st>>>(a, g);
  return int(cudaGetLastError());
}

template <typename F>
int dispatch(int mode, F&& f) {
  switch (mode) {
    case kSeCse: return f(std::integral_constant<int, kSeCse>{});
    case kSeSse: return f(std::integral_constant<int, kSeSse>{});
    case kSeAdd: return f(std::integral_constant<int, kSeAdd>{});
    case kSeMax: return f(std::integral_constant<int, kSeMax>{});
    default: return f(std::integral_constant<int, kSeMul>{});
  }
}

}  // namespace

int seForwardLaunch(const SeDeviceArgs& a, float* y, void* stream) {
  auto st = static_cast<cudaStream_t>(stream);
  return dispatch(a.mode, [&](auto m) { return forwardImpl<decltype(m)::value>(a, y, st); });
}

int seBackwardLaunch(const SeDeviceArgs& a, const SeDeviceGrads& g, void* stream) {
  auto st = static_cast<cudaStream_t>(stream);
  return dispatch(a.mode, [&](auto m) { return backwardImpl<decltype(m)::value>(a, g, st); });
}

}  // namespace scse::cuda
