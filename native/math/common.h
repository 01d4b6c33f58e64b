// Per-element math shared by the CPU (g++) and CUDA (nvcc) kernels.
#pragma once
#include <cmath>

#if defined(__CUDACC__)
#define SCSE_HD __host__ __device__ __forceinline__
#else
#define SCSE_HD inline
#endif

namespace scse::math {

SCSE_HD float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
SCSE_HD float sigmoidGradFromY(float y, float dy) { return dy * y * (1.0f - y); }
SCSE_HD float relu(float x) { return x > 0.0f ? x : 0.0f; }
SCSE_HD float reluGrad(float x, float dy) { return x > 0.0f ? dy : 0.0f; }
SCSE_HD float prelu(float x, float a) { return x > 0.0f ? x : a * x; }

// a*b + c rounded once. Written out where CPU and GPU results must agree bit for bit: compilers
// may or may not contract a*b + c into an FMA (g++ -ffp-contract=fast does on FMA hardware, nvcc
// does by default), and an explicit fmaf leaves them no choice.
SCSE_HD float fmadd(float a, float b, float c) { return fmaf(a, b, c); }

}  // namespace scse::math
