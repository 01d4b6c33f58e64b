// Pooling kernels over NHWC activations: the CUDA twins of native/cpu/pool.cc (see ops.h).
// Max pooling and unpooling are written as gathers (one thread per output element), so nothing
// is accumulated with atomics and overlapping windows add up in the CPU's order.
#include "cuda/ops.h"
#include "cuda/reduce.cuh"
#include "math/pool.h"

namespace scse::cuda {
namespace {

using detail::checkLaunch;
using detail::flagLast;
using detail::gridFor;
using detail::kBlock;
using detail::resetFlags;
using detail::streamOf;

struct Geo {
  int64_t N, H, W, C;  // input
  int64_t OH, OW;      // output
  int64_t k, s;
};

// One thread per output element (n, oh, ow, c); the window is scanned row by row.
__global__ void maxPoolKernel(const float* x, Geo g, float* y, int32_t* idx) {
  const int64_t total = g.N * g.OH * g.OW * g.C;
  SCSE_GRID_LOOP(i, total) {
    const int64_t c = i % g.C, ow = (i / g.C) % g.OW, oh = (i / (g.C * g.OW)) % g.OH, n = i / (g.C * g.OW * g.OH);
    const int64_t h0 = oh * g.s, w0 = ow * g.s;
    const float* xn = x + n * g.H * g.W * g.C + c;
    float best = xn[(h0 * g.W + w0) * g.C];
    int64_t pos = h0 * g.W + w0;
    for (int64_t kh = 0; kh < g.k; kh++) {
      for (int64_t kw = 0; kw < g.k; kw++) {
        if (kh == 0 && kw == 0) continue;
        const int64_t p = (h0 + kh) * g.W + (w0 + kw);
        const float v = xn[p * g.C];
        if (math::maxPoolTakes(v, best)) {
          best = v;
          pos = p;
        }
      }
    }
    y[i] = best;
    idx[i] = int32_t(pos);
  }
}

// Index checks of the backward: the CPU's range check, and (for the gather) window membership.
__global__ void maxPoolIndexCheckKernel(const int32_t* idx, Geo g, int64_t* bad) {
  const int64_t total = g.N * g.OH * g.OW * g.C;
  SCSE_GRID_LOOP(i, total) {
    const int64_t v = idx[i];
    if (v < 0 || v >= g.H * g.W) {
      flagLast(bad, i);
      continue;
    }
    const int64_t ow = (i / g.C) % g.OW, oh = (i / (g.C * g.OW)) % g.OH;
    const int64_t h = v / g.W, w = v % g.W;
    if (h < oh * g.s || h >= oh * g.s + g.k || w < ow * g.s || w >= ow * g.s + g.k) flagLast(bad + 1, i);
  }
}

// One thread per input element (n, h, w, c): adds dy over the windows containing (h, w) whose
// index names it, in output scan order (oh, then ow, ascending) — the CPU scatter's order.
__global__ void maxPoolGradKernel(const float* dy, const int32_t* idx, Geo g, float* dx) {
  const int64_t total = g.N * g.H * g.W * g.C;
  SCSE_GRID_LOOP(i, total) {
    const int64_t c = i % g.C, w = (i / g.C) % g.W, h = (i / (g.C * g.W)) % g.H, n = i / (g.C * g.W * g.H);
    // windows oh with oh*s <= h < oh*s + k, clipped to [0, OH)
    const int64_t ohLo = h - g.k + 1 <= 0 ? 0 : (h - g.k + 1 + g.s - 1) / g.s, ohHi = h / g.s < g.OH - 1 ? h / g.s : g.OH - 1;
    const int64_t owLo = w - g.k + 1 <= 0 ? 0 : (w - g.k + 1 + g.s - 1) / g.s, owHi = w / g.s < g.OW - 1 ? w / g.s : g.OW - 1;
    const int32_t me = int32_t(h * g.W + w);
    float acc = 0.0f;
    for (int64_t oh = ohLo; oh <= ohHi; oh++) {
      for (int64_t ow = owLo; ow <= owHi; ow++) {
        const int64_t o = ((n * g.OH + oh) * g.OW + ow) * g.C + c;
        if (idx[o] == me) acc += dy[o];
      }
    }
    dx[i] = acc;
  }
}

// Unpooling, pass 1: for every output pixel, the last (largest) input position naming it.
__global__ void unpoolWinnerKernel(const int32_t* idx, int64_t N, int64_t P, int64_t C, int64_t plane, int32_t* winner,
                                   int64_t* bad) {
  const int64_t total = N * P * C;
  SCSE_GRID_LOOP(i, total) {
    const int64_t v = idx[i];
    if (v < 0 || v >= plane) {
      if (bad) flagLast(bad, i);
      continue;
    }
    const int64_t c = i % C, n = i / (P * C), p = (i / C) % P;
    atomicMax(winner + (n * plane + v) * C + c, int32_t(p));  // integer atomic: order-independent
  }
}

// Pass 2: y = x at the winning position, 0 where nothing points.
__global__ void unpoolGatherKernel(const float* x, const int32_t* winner, int64_t N, int64_t P, int64_t C, int64_t plane,
                                   float* y) {
  const int64_t total = N * plane * C;
  SCSE_GRID_LOOP(i, total) {
    const int32_t p = winner[i];
    const int64_t c = i % C, n = i / (plane * C);
    y[i] = p < 0 ? 0.0f : x[(n * P + p) * C + c];
  }
}

__global__ void unpoolGradKernel(const float* dy, const int32_t* idx, int64_t N, int64_t P, int64_t C, int64_t plane,
                                 float* dx, int64_t* bad) {
  const int64_t total = N * P * C;
  SCSE_GRID_LOOP(i, total) {
    const int64_t v = idx[i];
    if (v < 0 || v >= plane) {
      if (bad) flagLast(bad, i);
      dx[i] = 0.0f;
      continue;
    }
    const int64_t c = i % C, n = i / (P * C);
    dx[i] = dy[(n * plane + v) * C + c];
  }
}

struct PlaneSumTerms {  // rows = pixels p, cols = (n, c)
  const float* x;
  int64_t P, C;
  __device__ double operator()(int64_t p, int64_t col) const {
    const int64_t n = col / C, c = col % C;
    return x[(n * P + p) * C + c];
  }
};

__global__ void avgPoolGradKernel(const float* dy, int64_t N, int64_t P, int64_t C, float inv, float* dx) {
  const int64_t total = N * P * C;
  SCSE_GRID_LOOP(i, total) {
    const int64_t c = i % C, n = i / (P * C);
    dx[i] = dy[n * C + c] * inv;
  }
}

}  // namespace

void maxPool2dForward(int device, const float* x, int64_t N, int64_t H, int64_t W, int64_t C, int64_t k, int64_t s,
                      float* y, int32_t* indices) {
  cudaStream_t st = streamOf(device);
  const Geo g{N, H, W, C, math::poolOutSize(H, k, s), math::poolOutSize(W, k, s), k, s};
  maxPoolKernel<<<gridFor(N * g.OH * g.OW * C), kBlock, 0, st>>>(x, g, y, indices);
  checkLaunch("maxPool2d");
}

void maxPool2dBackward(int device, const float* dy, const int32_t* indices, int64_t N, int64_t H, int64_t W, int64_t C,
                       int64_t k, int64_t s, float* dx, int64_t* bad) {
  const char* op = "maxPool2dBackward";
  cudaStream_t st = streamOf(device);
  const Geo g{N, H, W, C, math::poolOutSize(H, k, s), math::poolOutSize(W, k, s), k, s};
  if (bad) {
    resetFlags(bad, 2, st, op);
    maxPoolIndexCheckKernel<<<gridFor(N * g.OH * g.OW * C), kBlock, 0, st>>>(indices, g, bad);
    checkLaunch(op);
  }
  maxPoolGradKernel<<<gridFor(N * H * W * C), kBlock, 0, st>>>(dy, indices, g, dx);
  checkLaunch(op);
}

void maxUnpool2dForward(int device, const float* x, const int32_t* indices, int64_t N, int64_t h, int64_t w, int64_t C,
                        int64_t H, int64_t W, float* y, int64_t* bad) {
  const char* op = "maxUnpool2d";
  cudaStream_t st = streamOf(device);
  const int64_t P = h * w, plane = H * W;
  if (bad) resetFlags(bad, 1, st, op);
  detail::Scratch<int32_t> winner(device, N * plane * C);
  detail::checkCall(cudaMemsetAsync(winner.get(), 0xFF, size_t(N * plane * C) * sizeof(int32_t), st), op,
                    "cudaMemsetAsync");  // -1: no input names the pixel
  unpoolWinnerKernel<<<gridFor(N * P * C), kBlock, 0, st>>>(indices, N, P, C, plane, winner.get(), bad);
  checkLaunch(op);
  unpoolGatherKernel<<<gridFor(N * plane * C), kBlock, 0, st>>>(x, winner.get(), N, P, C, plane, y);
  checkLaunch(op);
}

void maxUnpool2dBackward(int device, const float* dy, const int32_t* indices, int64_t N, int64_t h, int64_t w,
                         int64_t C, int64_t H, int64_t W, float* dx, int64_t* bad) {
  const char* op = "maxUnpool2dBackward";
  cudaStream_t st = streamOf(device);
  if (bad) resetFlags(bad, 1, st, op);
  unpoolGradKernel<<<gridFor(N * h * w * C), kBlock, 0, st>>>(dy, indices, N, h * w, C, H * W, dx, bad);
  checkLaunch(op);
}

void globalAvgPoolForward(int device, const float* x, int64_t N, int64_t P, int64_t C, float* y) {
  cudaStream_t st = streamOf(device);
  detail::reduceColumns(device, st, P, N * C, 256, PlaneSumTerms{x, P, C}, detail::StoreFloat{y, 1.0 / double(P)},
                        "globalAvgPool");
}

void globalAvgPoolBackward(int device, const float* dy, int64_t N, int64_t P, int64_t C, float* dx) {
  cudaStream_t st = streamOf(device);
  avgPoolGradKernel<<<gridFor(N * P * C), kBlock, 0, st>>>(dy, N, P, C, float(1.0 / double(P)), dx);
  checkLaunch("globalAvgPoolBackward");
}

}  // namespace scse::cuda
