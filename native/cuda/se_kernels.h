// Host-side launchers of the fused SE CUDA kernels (native/cuda/se.cu). Plain C++ types only, so
// the addon's C++ code can call them without nvcc. All pointers are device pointers; every launch
// is enqueued on `stream` and returns a cudaError_t value as int (0 = success).
#pragma once
#include <cstdint>

namespace scse::cuda {

struct SeDeviceArgs {
  int mode;                    // math::SeMode
  int64_t N, P, C, Cr;         // P = H*W
  const float* x;              // [N,P,C]
  const float *w1, *b1, *w2, *b2;  // channel MLP (b1/b2 may be null)
  const float *wsq, *bsq;          // spatial 1x1 conv
  float *z, *hpre, *s, *q;     // saved: [N,C], [N,Cr], [N,C], [N,P]
};

struct SeDeviceGrads {
  const float* dy;                       // [N,P,C]
  float* dx;                             // [N,P,C]
  float *dw1, *db1, *dw2, *db2, *dwsq, *dbsq;  // zero-initialised by the launcher
  float *ds, *dqpre;                     // scratch: [N,C], [N,P]
};

// y = block(x); fills z, hpre, s, q for the backward.
int seForwardLaunch(const SeDeviceArgs& a, float* y, void* stream);
// dx and parameter gradients from dy and the saved tensors.
int seBackwardLaunch(const SeDeviceArgs& a, const SeDeviceGrads& g, void* stream);

}  // namespace scse::cuda
