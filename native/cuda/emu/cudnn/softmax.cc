// cudnnSoftmaxForward / Backward. A softmax group is every element of one image (INSTANCE mode:
// over C and the spatial dims, per N) or every channel of one pixel (CHANNEL mode: over C, per N
// and spatial position). FAST skips the max subtraction, ACCURATE subtracts it, LOG gives the
// log-softmax; backward takes y (the forward output) as cuDNN does.
#include <cmath>
#include <string>
#include <vector>

#include "cuda/emu/cudnn/descriptors.h"
#include "cuda/emu/cudnn/emu.h"
#include "cuda/emu/cudnn/exports.h"
#include "cuda/emu/cudnn/walk.h"

#pragma GCC visibility push(hidden)
namespace scse::cudnn_emu {
namespace {

int checkAlgoMode(const char* fn, int algo, int mode) {
  if (algo < CUDNN_SOFTMAX_FAST || algo > CUDNN_SOFTMAX_LOG) {
    return fail(kBadParam, fn,
                "algo: expected CUDNN_SOFTMAX_FAST (0), CUDNN_SOFTMAX_ACCURATE (1) or CUDNN_SOFTMAX_LOG (2), got " +
                    std::to_string(algo));
  }
  if (mode != CUDNN_SOFTMAX_MODE_INSTANCE && mode != CUDNN_SOFTMAX_MODE_CHANNEL) {
    return fail(kBadParam, fn,
                "mode: expected CUDNN_SOFTMAX_MODE_INSTANCE (0) or CUDNN_SOFTMAX_MODE_CHANNEL (1), got " +
                    std::to_string(mode));
  }
  return kSuccess;
}

// The layouts of "which group" (outer) and "which element of the group" (inner): `t` with the
// dims outside the group, resp. inside it, set to 1. Walking outer then inner visits each
// group's elements in a fixed order, the same for every tensor of the call.
void splitGroups(const Layout& t, int mode, Layout* outer, Layout* inner) {
  *outer = t, *inner = t;
  for (int i = 0; i < t.nb; i++) {
    const bool inGroup = mode == CUDNN_SOFTMAX_MODE_INSTANCE ? i >= 1 : i == 1;
    (inGroup ? outer : inner)->dim[i] = 1;
  }
}

// Runs body(groupOffsets, innerLayouts) once per group; M tensors share the shape of `ts[0]`.
template <size_t M, class F>
void forEachGroup(const std::array<const Layout*, M>& ts, int mode, F&& body) {
  std::array<Layout, M> outer, inner;
  for (size_t m = 0; m < M; m++) splitGroups(*ts[m], mode, &outer[m], &inner[m]);
  std::array<const Layout*, M> outerPtrs, innerPtrs;
  for (size_t m = 0; m < M; m++) outerPtrs[m] = &outer[m], innerPtrs[m] = &inner[m];
  walk<M>(outer[0], outerPtrs, [&](const auto& base) { body(base, innerPtrs); });
}

}  // namespace
}  // namespace scse::cudnn_emu
#pragma GCC visibility pop

using namespace scse::cudnn;
using namespace scse::cudnn_emu;

extern "C" {

cudnnStatus_t cudnnSoftmaxForward(cudnnHandle_t handle, int algo, int mode, const void* alpha,
                                  cudnnTensorDescriptor_t xDesc, const void* x, const void* beta,
                                  cudnnTensorDescriptor_t yDesc, void* y) {
  const char* fn = "cudnnSoftmaxForward";
  Layout xl, yl;
  if (int s = beginWork(fn, handle)) return s;
  if (int s = checkAlgoMode(fn, algo, mode)) return s;
  if (int s = checkPointer(fn, "alpha", alpha)) return s;
  if (int s = checkPointer(fn, "beta", beta)) return s;
  if (int s = checkTensor(fn, "xDesc", xDesc, &xl)) return s;
  if (int s = checkTensor(fn, "yDesc", yDesc, &yl)) return s;
  if (int s = checkSameDims(fn, "xDesc", xl, "yDesc", yl)) return s;
  if (int s = checkPointer(fn, "x", x)) return s;
  if (int s = checkPointer(fn, "y", y)) return s;
  const float* xp = static_cast<const float*>(x);
  float* yp = static_cast<float*>(y);
  const double al = scalar(alpha), be = scalar(beta);
  return guarded(fn, [&] {
    std::vector<double> v;
    forEachGroup<2>({&xl, &yl}, mode, [&](const auto& base, const auto& inner) {
      v.clear();
      walk<2>(*inner[0], inner, [&](const auto& o) { v.push_back(double(xp[base[0] + o[0]])); });
      double shift = 0;
      if (algo != CUDNN_SOFTMAX_FAST) {
        shift = v[0];
        for (double e : v) shift = e > shift ? e : shift;
      }
      double sum = 0;
      for (double e : v) sum += std::exp(e - shift);
      const double logSum = std::log(sum);
      size_t i = 0;
      walk<2>(*inner[0], inner, [&](const auto& o) {
        const double e = v[i++] - shift;
        const double r = algo == CUDNN_SOFTMAX_LOG ? e - logSum : std::exp(e) / sum;
        float& out = yp[base[1] + o[1]];
        out = blend(r, al, be, out);
      });
    });
  });
}

cudnnStatus_t cudnnSoftmaxBackward(cudnnHandle_t handle, int algo, int mode, const void* alpha,
                                   cudnnTensorDescriptor_t yDesc, const void* y, cudnnTensorDescriptor_t dyDesc,
                                   const void* dy, const void* beta, cudnnTensorDescriptor_t dxDesc, void* dx) {
  const char* fn = "cudnnSoftmaxBackward";
  Layout yl, dyl, dxl;
  if (int s = beginWork(fn, handle)) return s;
  if (int s = checkAlgoMode(fn, algo, mode)) return s;
  if (int s = checkPointer(fn, "alpha", alpha)) return s;
  if (int s = checkPointer(fn, "beta", beta)) return s;
  if (int s = checkTensor(fn, "yDesc", yDesc, &yl)) return s;
  if (int s = checkTensor(fn, "dyDesc", dyDesc, &dyl)) return s;
  if (int s = checkTensor(fn, "dxDesc", dxDesc, &dxl)) return s;
  if (int s = checkSameDims(fn, "yDesc", yl, "dyDesc", dyl)) return s;
  if (int s = checkSameDims(fn, "yDesc", yl, "dxDesc", dxl)) return s;
  if (int s = checkPointer(fn, "y", y)) return s;
  if (int s = checkPointer(fn, "dy", dy)) return s;
  if (int s = checkPointer(fn, "dx", dx)) return s;
  const float *yp = static_cast<const float*>(y), *dyp = static_cast<const float*>(dy);
  float* dxp = static_cast<float*>(dx);
  const double al = scalar(alpha), be = scalar(beta);
  return guarded(fn, [&] {
    std::vector<double> yv, dyv;
    forEachGroup<3>({&yl, &dyl, &dxl}, mode, [&](const auto& base, const auto& inner) {
      yv.clear(), dyv.clear();
      walk<3>(*inner[0], inner, [&](const auto& o) {
        yv.push_back(double(yp[base[0] + o[0]]));
        dyv.push_back(double(dyp[base[1] + o[1]]));
      });
      // softmax: dx = y * (dy - sum(dy * y)); log-softmax: dx = dy - exp(y) * sum(dy)
      double sum = 0;
      for (size_t i = 0; i < yv.size(); i++) sum += algo == CUDNN_SOFTMAX_LOG ? dyv[i] : dyv[i] * yv[i];
      size_t i = 0;
      walk<3>(*inner[0], inner, [&](const auto& o) {
        const double r = algo == CUDNN_SOFTMAX_LOG ? dyv[i] - std::exp(yv[i]) * sum : yv[i] * (dyv[i] - sum);
        i++;
        float& out = dxp[base[2] + o[2]];
        out = blend(r, al, be, out);
      });
    });
  });
}

}  // extern "C"
