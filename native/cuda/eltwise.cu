// Elementwise, broadcasting, reduction, last-axis concat/split and softmax kernels: the CUDA
// twins of native/cpu/eltwise.cc (see ops.h). One thread per output element (grid-stride), one
// per row for softmax; reductions go through reduce.cuh.
#include <algorithm>
#include <string>

#include "cuda/ops.h"
#include "cuda/reduce.cuh"
#include "math/common.h"
#include "math/eltwise.h"

namespace scse::cuda {
namespace {

using detail::checkCall;
using detail::checkLaunch;
using detail::gridFor;
using detail::kBlock;
using detail::streamOf;

std::string shapeText(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); i++) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

std::vector<int64_t> pad4(const std::vector<int64_t>& s) {
  std::vector<int64_t> r(4 - s.size(), 1);
  r.insert(r.end(), s.begin(), s.end());
  return r;
}

// Element strides of a padded shape; 0 for size-1 dims (broadcast).
void strides4(const std::vector<int64_t>& p, int64_t* st) {
  int64_t acc = 1;
  for (int d = 3; d >= 0; d--) {
    st[d] = p[d] == 1 ? 0 : acc;
    acc *= p[d];
  }
}

// ---- kernels ----------------------------------------------------------------------------------
template <typename F>
__global__ void mapKernel(const float* x, float* y, int64_t n, F f) {
  SCSE_GRID_LOOP(i, n) y[i] = f(x[i]);
}

template <typename F>
__global__ void map2Kernel(const float* a, const float* b, float* y, int64_t n, F f) {
  SCSE_GRID_LOOP(i, n) y[i] = f(a[i], b[i]);
}

template <typename T>
__global__ void fillKernel(T* y, T v, int64_t n) {
  SCSE_GRID_LOOP(i, n) y[i] = v;
}

struct Relu {
  __device__ float operator()(float x) const { return math::relu(x); }
};
struct ReluGrad {
  __device__ float operator()(float x, float g) const { return math::reluGrad(x, g); }
};
struct Sigmoid {
  __device__ float operator()(float x) const { return math::sigmoid(x); }
};
struct SigmoidGrad {
  __device__ float operator()(float y, float g) const { return math::sigmoidGradFromY(y, g); }
};
struct Affine {
  float a, b;
  __device__ float operator()(float x) const { return math::affine(x, a, b); }
};

__global__ void preluKernel(const float* x, const float* slope, bool shared, float* y, int64_t n, int64_t C) {
  SCSE_GRID_LOOP(i, n) y[i] = math::prelu(x[i], slope[shared ? 0 : i % C]);
}

__global__ void preluGradKernel(const float* x, const float* slope, bool shared, const float* dy, float* dx, int64_t n,
                                int64_t C) {
  SCSE_GRID_LOOP(i, n) dx[i] = math::preluGradX(x[i], slope[shared ? 0 : i % C], dy[i]);
}

// The slope gradient's terms as a [rows, cols] matrix: per channel (cols = C) or, for a shared
// slope, every element in one column (rows = numel).
struct PreluSlopeTerms {
  const float *x, *dy;
  int64_t cols;
  __device__ double operator()(int64_t r, int64_t c) const {
    const int64_t i = r * cols + c;
    return math::preluSlopeGradTerm(x[i], dy[i]);
  }
};

struct Bcast {
  int64_t out[4], sa[4], sb[4];
};

template <int K>
__global__ void binaryKernel(const float* a, const float* b, float* y, Bcast bc, int64_t n) {
  SCSE_GRID_LOOP(i, n) {
    int64_t r = i, oa = 0, ob = 0;
    for (int d = 3; d >= 0; d--) {
      const int64_t c = r % bc.out[d];
      r /= bc.out[d];
      oa += c * bc.sa[d];
      ob += c * bc.sb[d];
    }
    y[i] = math::binaryApply<K>(a[oa], b[ob]);
  }
}

// x element for output element o and reduced index j: each dim is either kept (its coordinate
// comes from o) or reduced (from j); the other source has size 1 there.
struct SumToTerms {
  const float* x;
  int64_t oDims[4], rDims[4], xStride[4];
  __device__ double operator()(int64_t j, int64_t o) const {
    int64_t off = 0;
    for (int d = 3; d >= 0; d--) {
      const int64_t oc = o % oDims[d], jc = j % rDims[d];
      o /= oDims[d];
      j /= rDims[d];
      off += (oc + jc) * xStride[d];
    }
    return x[off];
  }
};

__global__ void softmaxKernel(const float* x, float* y, int64_t rows, int64_t K) {
  SCSE_GRID_LOOP(r, rows) math::softmaxLastAxisRow(x + r * K, K, y + r * K);
}

__global__ void softmaxGradKernel(const float* y, const float* dy, float* dx, int64_t rows, int64_t K) {
  SCSE_GRID_LOOP(r, rows) math::softmaxBackwardRow(y + r * K, dy + r * K, K, dx + r * K);
}

template <typename F>
void launchMap(int device, const char* op, const float* x, float* y, int64_t n, F f) {
  cudaStream_t st = streamOf(device);
  mapKernel<<<gridFor(n), kBlock, 0, st>>>(x, y, n, f);
  checkLaunch(op);
}

template <typename F>
void launchMap2(int device, const char* op, const float* a, const float* b, float* y, int64_t n, F f) {
  cudaStream_t st = streamOf(device);
  map2Kernel<<<gridFor(n), kBlock, 0, st>>>(a, b, y, n, f);
  checkLaunch(op);
}

// Strided 2-D device copy: `rows` rows of `width` floats between pitches (in floats).
void copyColumns(cudaStream_t st, float* dst, int64_t dstPitch, const float* src, int64_t srcPitch, int64_t width,
                 int64_t rows, const char* op) {
  if (width == 0 || rows == 0) return;
  checkCall(cudaMemcpy2DAsync(dst, size_t(dstPitch) * 4, src, size_t(srcPitch) * 4, size_t(width) * 4, size_t(rows),
                              cudaMemcpyDeviceToDevice, st),
            op, "cudaMemcpy2DAsync");
}

}  // namespace

// ---- public launchers -------------------------------------------------------------------------
void fillF32(int device, float* y, float value, int64_t n) {
  cudaStream_t st = streamOf(device);
  fillKernel<<<gridFor(n), kBlock, 0, st>>>(y, value, n);
  checkLaunch("fill");
}

void fillI32(int device, int32_t* y, int32_t value, int64_t n) {
  cudaStream_t st = streamOf(device);
  fillKernel<<<gridFor(n), kBlock, 0, st>>>(y, value, n);
  checkLaunch("fill");
}

void reluForward(int device, const float* x, float* y, int64_t n) { launchMap(device, "relu", x, y, n, Relu{}); }
void reluBackward(int device, const float* x, const float* dy, float* dx, int64_t n) {
  launchMap2(device, "reluBackward", x, dy, dx, n, ReluGrad{});
}
void sigmoidForward(int device, const float* x, float* y, int64_t n) { launchMap(device, "sigmoid", x, y, n, Sigmoid{}); }
void sigmoidBackward(int device, const float* y, const float* dy, float* dx, int64_t n) {
  launchMap2(device, "sigmoidBackward", y, dy, dx, n, SigmoidGrad{});
}
void affineForward(int device, const float* x, float a, float b, float* y, int64_t n) {
  launchMap(device, "affine", x, y, n, Affine{a, b});
}

void preluForward(int device, const float* x, const float* slope, int64_t slopeCount, float* y, int64_t rows, int64_t C) {
  cudaStream_t st = streamOf(device);
  const int64_t n = rows * C;
  preluKernel<<<gridFor(n), kBlock, 0, st>>>(x, slope, slopeCount == 1, y, n, C);
  checkLaunch("prelu");
}

void preluBackward(int device, const float* x, const float* slope, int64_t slopeCount, const float* dy, float* dx,
                   float* dslope, int64_t rows, int64_t C) {
  const char* op = "preluBackward";
  cudaStream_t st = streamOf(device);
  const int64_t n = rows * C;
  const bool shared = slopeCount == 1;
  preluGradKernel<<<gridFor(n), kBlock, 0, st>>>(x, slope, shared, dy, dx, n, C);
  checkLaunch(op);
  if (shared) {
    detail::reduceColumns(device, st, n, 1, 256, PreluSlopeTerms{x, dy, 1}, detail::StoreFloat{dslope, 1.0}, op);
  } else {
    detail::reduceColumns(device, st, rows, C, 256, PreluSlopeTerms{x, dy, C}, detail::StoreFloat{dslope, 1.0}, op);
  }
}

std::vector<int64_t> broadcastShape(const std::vector<int64_t>& a, const std::vector<int64_t>& b, const char* op) {
  if (a.size() > 4 || b.size() > 4) throw CudaError(std::string(op) + ": supports rank <= 4, got " + shapeText(a) + " and " + shapeText(b));
  const std::vector<int64_t> pa = pad4(a), pb = pad4(b);
  std::vector<int64_t> out(4);
  for (int d = 0; d < 4; d++) {
    if (pa[d] != pb[d] && pa[d] != 1 && pb[d] != 1) {
      throw CudaError(std::string(op) + ": arguments 'a' " + shapeText(a) + " and 'b' " + shapeText(b) + " cannot be broadcast together");
    }
    out[d] = (pa[d] == 0 || pb[d] == 0) ? 0 : std::max(pa[d], pb[d]);
  }
  const size_t rank = std::max(a.size(), b.size());
  return std::vector<int64_t>(out.end() - rank, out.end());
}

void binary(int device, int kind, const float* a, const std::vector<int64_t>& aShape, const float* b,
            const std::vector<int64_t>& bShape, float* y) {
  static const char* names[] = {"add", "sub", "mul", "div", "max", "min", "maxShare"};
  if (kind < 0 || kind > math::kBinMaxShare) throw CudaError("binary: unknown kind " + std::to_string(kind));
  const char* op = names[kind];
  const std::vector<int64_t> out = pad4(broadcastShape(aShape, bShape, op));
  Bcast bc;
  strides4(pad4(aShape), bc.sa);
  strides4(pad4(bShape), bc.sb);
  int64_t n = 1;
  for (int d = 0; d < 4; d++) {
    bc.out[d] = out[d] < 1 ? 1 : out[d];  // n == 0 below when a dim is 0: no element is visited
    n *= out[d];
  }
  cudaStream_t st = streamOf(device);
  const unsigned g = gridFor(n);
  switch (kind) {
    case math::kBinAdd: binaryKernel<math::kBinAdd><<<g, kBlock, 0, st>>>(a, b, y, bc, n); break;
    case math::kBinSub: binaryKernel<math::kBinSub><<<g, kBlock, 0, st>>>(a, b, y, bc, n); break;
    case math::kBinMul: binaryKernel<math::kBinMul><<<g, kBlock, 0, st>>>(a, b, y, bc, n); break;
    case math::kBinDiv: binaryKernel<math::kBinDiv><<<g, kBlock, 0, st>>>(a, b, y, bc, n); break;
    case math::kBinMax: binaryKernel<math::kBinMax><<<g, kBlock, 0, st>>>(a, b, y, bc, n); break;
    case math::kBinMin: binaryKernel<math::kBinMin><<<g, kBlock, 0, st>>>(a, b, y, bc, n); break;
    default: binaryKernel<math::kBinMaxShare><<<g, kBlock, 0, st>>>(a, b, y, bc, n); break;
  }
  checkLaunch(op);
}

void sumTo(int device, const float* x, const std::vector<int64_t>& xShape, float* y, const std::vector<int64_t>& yShape) {
  const char* op = "sumTo";
  if (xShape.size() > 4 || yShape.size() > xShape.size()) {
    throw CudaError(std::string(op) + ": cannot reduce " + shapeText(xShape) + " to " + shapeText(yShape));
  }
  const std::vector<int64_t> px = pad4(xShape), pt = pad4(yShape);
  SumToTerms t;
  t.x = x;
  int64_t acc = 1, on = 1, m = 1;
  for (int d = 3; d >= 0; d--) {
    if (pt[d] != 1 && pt[d] != px[d]) {
      throw CudaError(std::string(op) + ": cannot reduce " + shapeText(xShape) + " to " + shapeText(yShape));
    }
    const bool reduced = pt[d] == 1 && px[d] != 1;
    t.xStride[d] = acc;
    acc *= px[d];
    t.oDims[d] = reduced ? 1 : px[d];
    t.rDims[d] = reduced ? px[d] : 1;
    on *= t.oDims[d];
    m *= t.rDims[d];
  }
  if (on == 0) return;
  for (int d = 0; d < 4; d++) {
    if (t.rDims[d] == 0) t.rDims[d] = 1;  // m == 0 then: no term is read, every sum is 0
  }
  cudaStream_t st = streamOf(device);
  detail::reduceColumns(device, st, m, on, 256, t, detail::StoreFloat{y, 1.0}, op);
}

void concatLast(int device, const float* const* hostXs, const int64_t* hostWidths, int count, int64_t rows, float* y) {
  cudaStream_t st = streamOf(device);
  int64_t total = 0;
  for (int k = 0; k < count; k++) total += hostWidths[k];
  int64_t off = 0;
  for (int k = 0; k < count; k++) {
    copyColumns(st, y + off, total, hostXs[k], hostWidths[k], hostWidths[k], rows, "concat");
    off += hostWidths[k];
  }
}

void splitLast(int device, const float* x, int64_t rows, const int64_t* hostWidths, int count, float* const* hostYs) {
  cudaStream_t st = streamOf(device);
  int64_t total = 0;
  for (int k = 0; k < count; k++) total += hostWidths[k];
  int64_t off = 0;
  for (int k = 0; k < count; k++) {
    copyColumns(st, hostYs[k], hostWidths[k], x + off, total, hostWidths[k], rows, "split");
    off += hostWidths[k];
  }
}

void softmaxForward(int device, const float* x, float* y, int64_t rows, int64_t K) {
  cudaStream_t st = streamOf(device);
  if (K < 1) return;
  softmaxKernel<<<gridFor(rows), kBlock, 0, st>>>(x, y, rows, K);
  checkLaunch("softmax");
}

void softmaxBackward(int device, const float* y, const float* dy, float* dx, int64_t rows, int64_t K) {
  cudaStream_t st = streamOf(device);
  if (K < 1) return;
  softmaxGradKernel<<<gridFor(rows), kBlock, 0, st>>>(y, dy, dx, rows, K);
  checkLaunch("softmaxBackward");
}

}  // namespace scse::cuda
