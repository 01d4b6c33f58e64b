// The convolution kernels of the stand-in (conv.h): direct loops on packed float64 buffers, in
// an order that reads both operands contiguously (channels innermost: NHWC activations, KRSC
// filters), with a fixed summation order so results are deterministic. Accumulating in double
// keeps them within rounding of an exact reference whatever the reduction length.
#include <vector>

#include "cuda/emu/cudnn/conv.h"
#include "cuda/emu/cudnn/walk.h"

#pragma GCC visibility push(hidden)
namespace scse::cudnn_emu {
namespace {

// Four independent partial sums: the adds of one chain would otherwise wait on each other.
inline double dot(const double* __restrict a, const double* __restrict b, int64_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; i++) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

inline void axpy(double* __restrict y, double a, const double* __restrict x, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

// Packed NHWC strides for dims [N, C, H, W].
Layout packedActivationLayout(const Layout& t) {
  Layout p = t;
  const int64_t C = t.dim[1], H = t.dim[2], W = t.dim[3];
  p.stride[0] = H * W * C, p.stride[1] = 1, p.stride[2] = W * C, p.stride[3] = C;
  return p;
}

// Packed KRSC strides for dims [K, Cg, R, S]; with g.flip, r and s run backwards from
// `*base` (the offset of element [0, 0, 0, 0]), which rotates the filter.
Layout packedFilterLayout(const ConvGeom& g, const Layout& f, int64_t* base) {
  Layout p = f;
  const int64_t Cg = g.Cg, R = g.R, S = g.S;
  p.stride[0] = R * S * Cg, p.stride[1] = 1, p.stride[2] = S * Cg, p.stride[3] = Cg;
  *base = 0;
  if (g.flip) {
    p.stride[2] = -S * Cg, p.stride[3] = -Cg;
    *base = (R - 1) * S * Cg + (S - 1) * Cg;
  }
  return p;
}

// The input row a tap reads, or -1 when it falls in the padding.
inline int64_t inputIndex(int64_t o, int64_t k, int64_t stride, int64_t pad, int64_t dilation, int64_t size) {
  const int64_t i = o * stride - pad + k * dilation;
  return i >= 0 && i < size ? i : -1;
}

}  // namespace

std::vector<double> packActivations(const Layout& t, const float* src) {
  const Layout p = packedActivationLayout(t);
  std::vector<double> out(size_t(t.count()));
  double* d = out.data();
  walk<2>(t, {&t, &p}, [&](const auto& o) { d[o[1]] = double(src[o[0]]); });
  return out;
}

std::vector<double> packFilter(const ConvGeom& g, const Layout& f, const float* src) {
  int64_t base = 0;
  const Layout p = packedFilterLayout(g, f, &base);
  std::vector<double> out(size_t(f.count()));
  double* d = out.data() + base;
  walk<2>(f, {&f, &p}, [&](const auto& o) { d[o[1]] = double(src[o[0]]); });
  return out;
}

void unpackActivations(const Layout& t, const double* packed, double alpha, double beta, float* dst) {
  const Layout p = packedActivationLayout(t);
  walk<2>(t, {&t, &p}, [&](const auto& o) { dst[o[0]] = blend(packed[o[1]], alpha, beta, dst[o[0]]); });
}

void unpackFilter(const ConvGeom& g, const Layout& f, const double* packed, double alpha, double beta, float* dst) {
  int64_t base = 0;
  const Layout p = packedFilterLayout(g, f, &base);
  const double* s = packed + base;
  walk<2>(f, {&f, &p}, [&](const auto& o) { dst[o[0]] = blend(s[o[1]], alpha, beta, dst[o[0]]); });
}

std::vector<double> convForwardPacked(const ConvGeom& g, const double* x, const double* w) {
  const int64_t Kg = g.K / g.groups, RSC = g.R * g.S * g.Cg;
  std::vector<double> y(size_t(g.N * g.OH * g.OW * g.K), 0.0);
  for (int64_t n = 0; n < g.N; n++) {
    for (int64_t oh = 0; oh < g.OH; oh++) {
      for (int64_t ow = 0; ow < g.OW; ow++) {
        double* yo = &y[size_t(((n * g.OH + oh) * g.OW + ow) * g.K)];
        for (int64_t r = 0; r < g.R; r++) {
          const int64_t ih = inputIndex(oh, r, g.strideH, g.padH, g.dilationH, g.H);
          if (ih < 0) continue;
          for (int64_t s = 0; s < g.S; s++) {
            const int64_t iw = inputIndex(ow, s, g.strideW, g.padW, g.dilationW, g.W);
            if (iw < 0) continue;
            const double* xr = x + ((n * g.H + ih) * g.W + iw) * g.C;
            const double* wt = w + (r * g.S + s) * g.Cg;
            for (int64_t k = 0; k < g.K; k++) yo[k] += dot(xr + (k / Kg) * g.Cg, wt + k * RSC, g.Cg);
          }
        }
      }
    }
  }
  return y;
}

std::vector<double> convBackwardDataPacked(const ConvGeom& g, const double* dy, const double* w) {
  const int64_t Kg = g.K / g.groups, RSC = g.R * g.S * g.Cg;
  std::vector<double> dx(size_t(g.N * g.H * g.W * g.C), 0.0);
  // Scatter each output gradient back through the taps that produced it (outputs outermost: the
  // few dx rows one output touches stay in cache; the filter is small enough to stay too).
  for (int64_t n = 0; n < g.N; n++) {
    for (int64_t oh = 0; oh < g.OH; oh++) {
      for (int64_t ow = 0; ow < g.OW; ow++) {
        const double* dyo = dy + ((n * g.OH + oh) * g.OW + ow) * g.K;
        for (int64_t r = 0; r < g.R; r++) {
          const int64_t ih = inputIndex(oh, r, g.strideH, g.padH, g.dilationH, g.H);
          if (ih < 0) continue;
          for (int64_t s = 0; s < g.S; s++) {
            const int64_t iw = inputIndex(ow, s, g.strideW, g.padW, g.dilationW, g.W);
            if (iw < 0) continue;
            double* dxr = &dx[size_t(((n * g.H + ih) * g.W + iw) * g.C)];
            const double* wt = w + (r * g.S + s) * g.Cg;
            for (int64_t k = 0; k < g.K; k++) axpy(dxr + (k / Kg) * g.Cg, dyo[k], wt + k * RSC, g.Cg);
          }
        }
      }
    }
  }
  return dx;
}

std::vector<double> convBackwardFilterPacked(const ConvGeom& g, const double* x, const double* dy) {
  const int64_t Kg = g.K / g.groups, RSC = g.R * g.S * g.Cg;
  std::vector<double> dw(size_t(g.K * RSC), 0.0);
  for (int64_t n = 0; n < g.N; n++) {
    for (int64_t oh = 0; oh < g.OH; oh++) {
      for (int64_t ow = 0; ow < g.OW; ow++) {
        const double* dyo = dy + ((n * g.OH + oh) * g.OW + ow) * g.K;
        for (int64_t r = 0; r < g.R; r++) {
          const int64_t ih = inputIndex(oh, r, g.strideH, g.padH, g.dilationH, g.H);
          if (ih < 0) continue;
          for (int64_t s = 0; s < g.S; s++) {
            const int64_t iw = inputIndex(ow, s, g.strideW, g.padW, g.dilationW, g.W);
            if (iw < 0) continue;
            const double* xr = x + ((n * g.H + ih) * g.W + iw) * g.C;
            double* dwt = &dw[size_t((r * g.S + s) * g.Cg)];
            for (int64_t k = 0; k < g.K; k++) axpy(dwt + k * RSC, dyo[k], xr + (k / Kg) * g.Cg, g.Cg);
          }
        }
      }
    }
  }
  return dw;
}

}  // namespace scse::cudnn_emu
#pragma GCC visibility pop
