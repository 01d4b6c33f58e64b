// Pooling descriptors, the 2-d forward output size, cudnnPoolingForward / Backward (max, and
// average counting or excluding the padding) on strided 4-d tensors.
//
// Max backward sends each output gradient to the first maximum of its window (row-major scan of
// x), which is what CUDNN_POOLING_MAX_DETERMINISTIC promises; CUDNN_POOLING_MAX is computed the
// same way (its documented non-determinism concerns ties, where any maximum is a valid choice).
#include <cmath>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "cuda/emu/cudnn/descriptors.h"
#include "cuda/emu/cudnn/emu.h"
#include "cuda/emu/cudnn/exports.h"

#pragma GCC visibility push(hidden)
namespace scse::cudnn_emu {
namespace {

struct PoolGeom {
  int64_t N, C, H, W, OH, OW;
};

// cuDNN's output size: 1 + (in + 2*pad - window) / stride, per spatial dim.
int poolGeometry(const char* fn, const char* xArg, const cudnnPoolingStruct& p, const Layout& x, PoolGeom* g) {
  if (x.nb != 4) {
    return fail(kBadParam, fn,
                std::string(xArg) + ": expected a 4-d tensor for 2-d pooling, got " + std::to_string(x.nb) + " dims");
  }
  const int64_t spanH = x.dim[2] + 2 * p.padH - p.windowH, spanW = x.dim[3] + 2 * p.padW - p.windowW;
  if (spanH < 0 || spanW < 0) {
    *g = {x.dim[0], x.dim[1], x.dim[2], x.dim[3], 0, 0};  // cuDNN still reports n and c (and 0 x 0)
    return fail(kBadParam, fn,
                "the window (" + std::to_string(p.windowH) + " x " + std::to_string(p.windowW) +
                    ") is larger than the padded input (" + std::to_string(x.dim[2] + 2 * p.padH) + " x " +
                    std::to_string(x.dim[3] + 2 * p.padW) + ")");
  }
  *g = {x.dim[0], x.dim[1], x.dim[2], x.dim[3], 1 + spanH / p.strideH, 1 + spanW / p.strideW};
  return kSuccess;
}

int checkPoolOutput(const char* fn, const char* yArg, const PoolGeom& g, const Layout& y) {
  const int64_t want[4] = {g.N, g.C, g.OH, g.OW};
  bool ok = y.nb == 4;
  for (int i = 0; ok && i < 4; i++) ok = y.dim[i] == want[i];
  if (ok) return kSuccess;
  return fail(kBadParam, fn,
              std::string(yArg) + ": expected the pooling output dims " + dimsText(4, want) + ", got " +
                  dimsText(y.nb, y.dim));
}

inline int64_t at(const Layout& l, int64_t n, int64_t c, int64_t h, int64_t w) {
  return n * l.stride[0] + c * l.stride[1] + h * l.stride[2] + w * l.stride[3];
}

// The window of output (oh, ow) clipped to the input: rows [h0, h1), columns [w0, w1).
struct Window {
  int64_t h0, h1, w0, w1;
  int64_t valid() const { return (h1 - h0) * (w1 - w0); }
};

Window windowAt(const cudnnPoolingStruct& p, const PoolGeom& g, int64_t oh, int64_t ow) {
  Window w;
  const int64_t hs = oh * p.strideH - p.padH, ws = ow * p.strideW - p.padW;
  w.h0 = hs < 0 ? 0 : hs, w.h1 = hs + p.windowH < g.H ? hs + p.windowH : g.H;
  w.w0 = ws < 0 ? 0 : ws, w.w1 = ws + p.windowW < g.W ? ws + p.windowW : g.W;
  if (w.h1 < w.h0) w.h1 = w.h0;
  if (w.w1 < w.w0) w.w1 = w.w0;
  return w;
}

bool isMax(const cudnnPoolingStruct& p) { return p.mode == CUDNN_POOLING_MAX || p.mode == CUDNN_POOLING_MAX_DETERMINISTIC; }

// The divisor of an average: the whole window, or only its part inside the input.
double divisor(const cudnnPoolingStruct& p, const Window& w) {
  if (p.mode == CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING) return double(p.windowH) * p.windowW;
  return double(w.valid());
}

// Offset (in x) of the first maximum of the window, -1 if the window is empty. With
// CUDNN_PROPAGATE_NAN a NaN is the maximum; otherwise NaNs are skipped.
int64_t argmax(const cudnnPoolingStruct& p, const Layout& x, const float* xp, int64_t n, int64_t c, const Window& w) {
  int64_t best = -1;
  double bestV = 0;
  for (int64_t h = w.h0; h < w.h1; h++) {
    for (int64_t q = w.w0; q < w.w1; q++) {
      const int64_t o = at(x, n, c, h, q);
      const double v = xp[o];
      if (std::isnan(v)) {
        if (p.nanOpt == CUDNN_PROPAGATE_NAN) return o;
        continue;
      }
      if (best < 0 || v > bestV) best = o, bestV = v;
    }
  }
  return best;
}

}  // namespace
}  // namespace scse::cudnn_emu
#pragma GCC visibility pop

using namespace scse::cudnn;
using namespace scse::cudnn_emu;

extern "C" {

cudnnStatus_t cudnnCreatePoolingDescriptor(cudnnPoolingDescriptor_t* d) {
  return createDescriptor("cudnnCreatePoolingDescriptor", "poolingDesc", d);
}

cudnnStatus_t cudnnDestroyPoolingDescriptor(cudnnPoolingDescriptor_t d) {
  return destroyDescriptor("cudnnDestroyPoolingDescriptor", "poolingDesc", d, isPooling, "a pooling descriptor");
}

cudnnStatus_t cudnnSetPooling2dDescriptor(cudnnPoolingDescriptor_t d, int mode, int maxpoolingNanOpt, int windowHeight,
                                          int windowWidth, int verticalPadding, int horizontalPadding,
                                          int verticalStride, int horizontalStride) {
  const char* fn = "cudnnSetPooling2dDescriptor";
  if (!isPooling(d)) return checkPooling(fn, "poolingDesc", d, false);
  if (mode < CUDNN_POOLING_MAX || mode > CUDNN_POOLING_MAX_DETERMINISTIC) {
    return fail(kBadParam, fn, "mode: expected a cudnnPoolingMode_t (0 to 3), got " + std::to_string(mode));
  }
  if (maxpoolingNanOpt != CUDNN_NOT_PROPAGATE_NAN && maxpoolingNanOpt != CUDNN_PROPAGATE_NAN) {
    return fail(kBadParam, fn,
                "maxpoolingNanOpt: expected CUDNN_NOT_PROPAGATE_NAN (0) or CUDNN_PROPAGATE_NAN (1), got " +
                    std::to_string(maxpoolingNanOpt));
  }
  const struct {
    const char* name;
    int value, min;
  } args[] = {{"windowHeight", windowHeight, 1},
              {"windowWidth", windowWidth, 1},
              {"verticalStride", verticalStride, 1},
              {"horizontalStride", horizontalStride, 1}};  // any padding: cuDNN 9.24 accepts negative ones
  for (const auto& a : args) {
    if (a.value < a.min)
      return fail(kBadParam, fn, std::string(a.name) + ": expected >= " + std::to_string(a.min) + ", got " + std::to_string(a.value));
  }
  d->mode = mode, d->nanOpt = maxpoolingNanOpt, d->windowH = windowHeight, d->windowW = windowWidth;
  d->padH = verticalPadding, d->padW = horizontalPadding, d->strideH = verticalStride, d->strideW = horizontalStride;
  d->set = true;
  return kSuccess;
}

cudnnStatus_t cudnnGetPooling2dDescriptor(const cudnnPoolingDescriptor_t d, int* mode, int* maxpoolingNanOpt,
                                          int* windowHeight, int* windowWidth, int* verticalPadding,
                                          int* horizontalPadding, int* verticalStride, int* horizontalStride) {
  const char* fn = "cudnnGetPooling2dDescriptor";
  if (int s = checkPooling(fn, "poolingDesc", d, false)) return s;  // an unset one reads zeros, as in cuDNN
  int* outs[8] = {mode, maxpoolingNanOpt, windowHeight, windowWidth, verticalPadding, horizontalPadding, verticalStride,
                  horizontalStride};
  for (int* p : outs)
    if (int s = checkPointer(fn, "output", p)) return s;
  *mode = d->mode, *maxpoolingNanOpt = d->nanOpt, *windowHeight = d->windowH, *windowWidth = d->windowW;
  *verticalPadding = d->padH, *horizontalPadding = d->padW, *verticalStride = d->strideH, *horizontalStride = d->strideW;
  return kSuccess;
}

cudnnStatus_t cudnnGetPooling2dForwardOutputDim(cudnnPoolingDescriptor_t poolingDesc, cudnnTensorDescriptor_t inputDesc,
                                                int* n, int* c, int* h, int* w) {
  const char* fn = "cudnnGetPooling2dForwardOutputDim";
  Layout x;
  PoolGeom g{};
  if (int s = checkPooling(fn, "poolingDesc", poolingDesc)) return s;
  if (int s = checkTensor(fn, "inputTensorDesc", inputDesc, &x, false)) return s;
  int* outs[4] = {n, c, h, w};
  for (int* p : outs)
    if (int s = checkPointer(fn, "output", p)) return s;
  const int s = poolGeometry(fn, "inputTensorDesc", *poolingDesc, x, &g);
  if (s == kSuccess || g.N > 0) *n = int(g.N), *c = int(g.C), *h = int(g.OH), *w = int(g.OW);
  return s;
}

cudnnStatus_t cudnnPoolingForward(cudnnHandle_t handle, cudnnPoolingDescriptor_t poolingDesc, const void* alpha,
                                  cudnnTensorDescriptor_t xDesc, const void* x, const void* beta,
                                  cudnnTensorDescriptor_t yDesc, void* y) {
  const char* fn = "cudnnPoolingForward";
  Layout xl, yl;
  PoolGeom g;
  if (int s = beginWork(fn, handle)) return s;
  if (int s = checkPooling(fn, "poolingDesc", poolingDesc)) return s;
  if (int s = checkPointer(fn, "alpha", alpha)) return s;
  if (int s = checkPointer(fn, "beta", beta)) return s;
  if (int s = checkTensor(fn, "xDesc", xDesc, &xl)) return s;
  if (int s = checkTensor(fn, "yDesc", yDesc, &yl)) return s;
  if (int s = poolGeometry(fn, "xDesc", *poolingDesc, xl, &g)) return s;
  if (int s = checkPoolOutput(fn, "yDesc", g, yl)) return s;
  if (int s = checkPointer(fn, "x", x)) return s;
  if (int s = checkPointer(fn, "y", y)) return s;
  const cudnnPoolingStruct& p = *poolingDesc;
  const float* xp = static_cast<const float*>(x);
  float* yp = static_cast<float*>(y);
  const double al = scalar(alpha), be = scalar(beta);
  for (int64_t n = 0; n < g.N; n++) {
    for (int64_t c = 0; c < g.C; c++) {
      for (int64_t oh = 0; oh < g.OH; oh++) {
        for (int64_t ow = 0; ow < g.OW; ow++) {
          const Window w = windowAt(p, g, oh, ow);
          double v;
          if (isMax(p)) {
            const int64_t o = argmax(p, xl, xp, n, c, w);
            v = o < 0 ? -std::numeric_limits<double>::infinity() : double(xp[o]);
          } else {
            double sum = 0;
            for (int64_t h = w.h0; h < w.h1; h++)
              for (int64_t q = w.w0; q < w.w1; q++) sum += xp[at(xl, n, c, h, q)];
            const double d = divisor(p, w);
            v = d > 0 ? sum / d : 0.0;
          }
          const int64_t yo = at(yl, n, c, oh, ow);
          yp[yo] = blend(v, al, be, yp[yo]);
        }
      }
    }
  }
  return kSuccess;
}

cudnnStatus_t cudnnPoolingBackward(cudnnHandle_t handle, cudnnPoolingDescriptor_t poolingDesc, const void* alpha,
                                   cudnnTensorDescriptor_t yDesc, const void* y, cudnnTensorDescriptor_t dyDesc,
                                   const void* dy, cudnnTensorDescriptor_t xDesc, const void* x, const void* beta,
                                   cudnnTensorDescriptor_t dxDesc, void* dx) {
  const char* fn = "cudnnPoolingBackward";
  Layout yl, dyl, xl, dxl;
  PoolGeom g;
  if (int s = beginWork(fn, handle)) return s;
  if (int s = checkPooling(fn, "poolingDesc", poolingDesc)) return s;
  if (int s = checkPointer(fn, "alpha", alpha)) return s;
  if (int s = checkPointer(fn, "beta", beta)) return s;
  if (int s = checkTensor(fn, "yDesc", yDesc, &yl)) return s;
  if (int s = checkTensor(fn, "dyDesc", dyDesc, &dyl)) return s;
  if (int s = checkTensor(fn, "xDesc", xDesc, &xl)) return s;
  if (int s = checkTensor(fn, "dxDesc", dxDesc, &dxl)) return s;
  if (int s = poolGeometry(fn, "xDesc", *poolingDesc, xl, &g)) return s;
  if (int s = checkPoolOutput(fn, "yDesc", g, yl)) return s;
  if (int s = checkSameDims(fn, "yDesc", yl, "dyDesc", dyl)) return s;
  if (int s = checkSameDims(fn, "xDesc", xl, "dxDesc", dxl)) return s;
  if (int s = checkPointer(fn, "y", y)) return s;
  if (int s = checkPointer(fn, "dy", dy)) return s;
  if (int s = checkPointer(fn, "x", x)) return s;
  if (int s = checkPointer(fn, "dx", dx)) return s;
  const cudnnPoolingStruct& p = *poolingDesc;
  const float *xp = static_cast<const float*>(x), *dyp = static_cast<const float*>(dy);
  float* dxp = static_cast<float*>(dx);
  const double al = scalar(alpha), be = scalar(beta);
  return guarded(fn, [&] {
    // Gradients accumulate in a buffer indexed like x (windows overlap when stride < window).
    std::vector<double> grad(size_t(xl.span()), 0.0);
    for (int64_t n = 0; n < g.N; n++) {
      for (int64_t c = 0; c < g.C; c++) {
        for (int64_t oh = 0; oh < g.OH; oh++) {
          for (int64_t ow = 0; ow < g.OW; ow++) {
            const Window w = windowAt(p, g, oh, ow);
            const double d = dyp[at(dyl, n, c, oh, ow)];
            if (isMax(p)) {
              const int64_t o = argmax(p, xl, xp, n, c, w);
              if (o >= 0) grad[size_t(o)] += d;
            } else {
              const double div = divisor(p, w);
              if (div <= 0) continue;
              for (int64_t h = w.h0; h < w.h1; h++)
                for (int64_t q = w.w0; q < w.w1; q++) grad[size_t(at(xl, n, c, h, q))] += d / div;
            }
          }
        }
      }
    }
    for (int64_t n = 0; n < g.N; n++)
      for (int64_t c = 0; c < g.C; c++)
        for (int64_t h = 0; h < g.H; h++)
          for (int64_t q = 0; q < g.W; q++) {
            const int64_t o = at(dxl, n, c, h, q);
            dxp[o] = blend(grad[size_t(at(xl, n, c, h, q))], al, be, dxp[o]);
          }
  });
}

}  // extern "C"
