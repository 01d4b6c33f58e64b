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
  // Forward only, may be null: one device int64 slot, reset by the launcher to -1 and set to the
  // first image whose channel mean or a pixel's projection w·u is NaN/Inf (the CPU's check).
  int64_t* bad = nullptr;
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
