// Random fills and dropout masks from Philox4x32-10: the CUDA twins of native/cpu/random.cc (see
// ops.h). One thread per 4-element Philox block; element i of a draw depends only on (seed,
// stream, i), so the tensors are those of the CPU, bit for bit (normal fills up to libm's
// logf/sinf/cosf rounding).
#include "cuda/ops.h"
#include "cuda/kernels.cuh"
#include "math/philox.h"

namespace scse::cuda {
namespace {

using detail::checkLaunch;
using detail::gridFor;
using detail::kBlock;
using detail::streamOf;

enum Kind { kUniform, kNormal, kDropout };

struct Draw {
  int kind;
  float a, b;  // uniform: lo, hi; normal: mean, sd; dropout: p, keepScale
};

__global__ void philoxKernel(float* y, int64_t n, uint32_t seed, uint32_t stream, Draw d) {
  const int64_t blocks = (n + 3) / 4;
  SCSE_GRID_LOOP(blk, blocks) {
    const math::Philox4 r = math::philoxBlock(seed, stream, uint64_t(blk));
    const int64_t first = blk * 4, count = n - first < 4 ? n - first : 4;
    if (d.kind == kNormal) {
      float z[4];
      math::boxMuller(r.v[0], r.v[1], &z[0], &z[1]);
      math::boxMuller(r.v[2], r.v[3], &z[2], &z[3]);
      for (int64_t j = 0; j < count; j++) y[first + j] = math::scaledNormal(z[j], d.a, d.b);
    } else if (d.kind == kUniform) {
      for (int64_t j = 0; j < count; j++) y[first + j] = math::uniformInRange(r.v[j], d.a, d.b);
    } else {
      for (int64_t j = 0; j < count; j++) y[first + j] = math::dropoutMaskValue(r.v[j], d.a, d.b);
    }
  }
}

void launch(int device, const char* op, float* y, int64_t n, uint32_t seed, uint32_t stream, Draw d) {
  cudaStream_t st = streamOf(device);
  philoxKernel<<<gridFor((n + 3) / 4), kBlock, 0, st>>>(y, n, seed, stream, d);
  checkLaunch(op);
}

}  // namespace

void uniformFill(int device, float* y, int64_t n, float lo, float hi, uint32_t seed, uint32_t stream) {
  launch(device, "uniform_", y, n, seed, stream, Draw{kUniform, lo, hi});
}

void normalFill(int device, float* y, int64_t n, float mean, float sd, uint32_t seed, uint32_t stream) {
  launch(device, "normal_", y, n, seed, stream, Draw{kNormal, mean, sd});
}

void dropoutMask(int device, float* y, int64_t n, double p, uint32_t seed, uint32_t stream) {
  // the scalars exactly as native/cpu/random.cc derives them
  const float keepScale = p < 1 ? float(1.0 / (1.0 - p)) : 0.0f;
  launch(device, "dropoutMask", y, n, seed, stream, Draw{kDropout, float(p), keepScale});
}

}  // namespace scse::cuda
