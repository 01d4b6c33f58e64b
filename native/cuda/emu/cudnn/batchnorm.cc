// Batch normalization: cudnnDeriveBNTensorDescriptor, ForwardTraining, ForwardInference and
// Backward, for PER_ACTIVATION (statistics per (c, h, w) over N) and SPATIAL /
// SPATIAL_PERSISTENT (per c over N, H, W; PERSISTENT is a faster kernel choice in cuDNN with
// the same results).
//
// The parameter tensors (scale, bias, means, variances) are 1xCx1x1 or 1xCxHxW: walking x with
// the parameter tensor broadcast along its dims of 1 gives, for every element, the offset of its
// parameters, which is also the index of its statistics group. Sums are float64, two-pass.
#include <cmath>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "cuda/emu/cudnn/descriptors.h"
#include "cuda/emu/cudnn/emu.h"
#include "cuda/emu/cudnn/exports.h"
#include "cuda/emu/cudnn/walk.h"

#pragma GCC visibility push(hidden)
namespace scse::cudnn_emu {
namespace {

int checkMode(const char* fn, int mode) {
  if (mode >= CUDNN_BATCHNORM_PER_ACTIVATION && mode <= CUDNN_BATCHNORM_SPATIAL_PERSISTENT) return kSuccess;
  return fail(kBadParam, fn,
              "mode: expected CUDNN_BATCHNORM_PER_ACTIVATION (0), CUDNN_BATCHNORM_SPATIAL (1) or "
              "CUDNN_BATCHNORM_SPATIAL_PERSISTENT (2), got " +
                  std::to_string(mode));
}

// The parameter dims for x and mode: [1, C, 1, 1(, 1)] or [1, C, H, W(, D)].
void paramDims(const Layout& x, int mode, int64_t* dims) {
  for (int i = 0; i < x.nb; i++) dims[i] = i == 0 ? 1 : (mode == CUDNN_BATCHNORM_PER_ACTIVATION || i == 1 ? x.dim[i] : 1);
}

int checkEpsilon(const char* fn, double eps) {
  if (eps >= CUDNN_BN_MIN_EPSILON) return kSuccess;
  return fail(kBadParam, fn, "epsilon: expected >= CUDNN_BN_MIN_EPSILON (0), got " + std::to_string(eps));
}

// Two optional outputs that cuDNN allows to be NULL only together.
int checkPair(const char* fn, const char* a, const void* pa, const char* b, const void* pb) {
  if ((pa == nullptr) == (pb == nullptr)) return kSuccess;
  return fail(kBadParam, fn, std::string(a) + " and " + b + ": expected both NULL or both non-NULL, got " +
                                 (pa ? "only " + std::string(a) : "only " + std::string(b)) + " non-NULL");
}

// Shared checks: x, the same-dims tensors `others`, and the parameter descriptor.
int checkTensors(const char* fn, int mode, cudnnTensorDescriptor_t xDesc, Layout* x,
                 std::initializer_list<std::pair<const char*, std::pair<cudnnTensorDescriptor_t, Layout*>>> others,
                 const char* bnArg, cudnnTensorDescriptor_t bnDesc, Layout* bn) {
  if (int s = checkMode(fn, mode)) return s;
  if (int s = checkTensor(fn, "xDesc", xDesc, x)) return s;
  if (x->nb != 4 && x->nb != 5)
    return fail(kNotSupported, fn, "xDesc: expected a 4-d or 5-d tensor, got " + std::to_string(x->nb) + " dims");
  for (const auto& o : others) {
    if (int s = checkTensor(fn, o.first, o.second.first, o.second.second)) return s;
    if (int s = checkSameDims(fn, "xDesc", *x, o.first, *o.second.second)) return s;
  }
  if (int s = checkTensor(fn, bnArg, bnDesc, bn)) return s;
  int64_t want[kMaxDims];
  paramDims(*x, mode, want);
  bool ok = bn->nb == x->nb;
  for (int i = 0; ok && i < x->nb; i++) ok = bn->dim[i] == want[i];
  if (!ok) {
    return fail(kBadParam, fn,
                std::string(bnArg) + ": expected dims " + dimsText(x->nb, want) + " for this mode and xDesc " +
                    dimsText(x->nb, x->dim) + " (see cudnnDeriveBNTensorDescriptor), got " + dimsText(bn->nb, bn->dim));
  }
  return kSuccess;
}

// Per-group mean and biased variance of x, indexed by parameter offset.
struct Stats {
  std::vector<double> mean, var;
  double count = 0;  // elements per group
};

Stats batchStats(const Layout& x, const float* xp, const Layout& bn) {
  Stats s;
  s.mean.assign(size_t(bn.span()), 0.0);
  s.var.assign(size_t(bn.span()), 0.0);
  s.count = double(x.count()) / double(bn.count());
  walk<2>(x, {&x, &bn}, [&](const auto& o) { s.mean[size_t(o[1])] += xp[o[0]]; });
  for (double& m : s.mean) m /= s.count;
  walk<2>(x, {&x, &bn}, [&](const auto& o) {
    const double d = xp[o[0]] - s.mean[size_t(o[1])];
    s.var[size_t(o[1])] += d * d;
  });
  for (double& v : s.var) v /= s.count;
  return s;
}

}  // namespace
}  // namespace scse::cudnn_emu
#pragma GCC visibility pop

using namespace scse::cudnn;
using namespace scse::cudnn_emu;

extern "C" {

cudnnStatus_t cudnnDeriveBNTensorDescriptor(cudnnTensorDescriptor_t derivedBnDesc, cudnnTensorDescriptor_t xDesc,
                                            int mode) {
  const char* fn = "cudnnDeriveBNTensorDescriptor";
  Layout x;
  if (!isTensor(derivedBnDesc)) return checkTensor(fn, "derivedBnDesc", derivedBnDesc, nullptr);
  if (int s = checkTensor(fn, "xDesc", xDesc, &x, false)) return s;
  if (int s = checkMode(fn, mode)) return s;
  int64_t dims[kMaxDims];  // any nbDims, as cuDNN derives them (the ops then need 4 or 5)
  paramDims(x, mode, dims);
  // Parameters are float for half, bfloat16 and float data, double for double data.
  derivedBnDesc->dataType = xDesc->dataType == CUDNN_DATA_DOUBLE ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
  derivedBnDesc->nbDims = x.nb;
  int64_t stride = 1;  // packed, NCHW order
  for (int i = x.nb - 1; i >= 0; i--) {
    derivedBnDesc->dim[i] = int(dims[i]);
    derivedBnDesc->stride[i] = int(stride);
    stride *= dims[i];
  }
  for (int i = x.nb; i < CUDNN_DIM_MAX; i++) derivedBnDesc->dim[i] = derivedBnDesc->stride[i] = 0;
  return kSuccess;
}

cudnnStatus_t cudnnBatchNormalizationForwardTraining(cudnnHandle_t handle, int mode, const void* alpha, const void* beta,
                                                     cudnnTensorDescriptor_t xDesc, const void* x,
                                                     cudnnTensorDescriptor_t yDesc, void* y,
                                                     cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc, const void* bnScale,
                                                     const void* bnBias, double exponentialAverageFactor,
                                                     void* resultRunningMean, void* resultRunningVariance,
                                                     double epsilon, void* resultSaveMean,
                                                     void* resultSaveInvVariance) {
  const char* fn = "cudnnBatchNormalizationForwardTraining";
  Layout xl, yl, bn;
  if (int s = beginWork(fn, handle)) return s;
  if (int s = checkPointer(fn, "alpha", alpha)) return s;
  if (int s = checkPointer(fn, "beta", beta)) return s;
  if (int s = checkTensors(fn, mode, xDesc, &xl, {{"yDesc", {yDesc, &yl}}}, "bnScaleBiasMeanVarDesc",
                           bnScaleBiasMeanVarDesc, &bn))
    return s;
  if (int s = checkEpsilon(fn, epsilon)) return s;
  if (int s = checkPointer(fn, "x", x)) return s;
  if (int s = checkPointer(fn, "y", y)) return s;
  if (int s = checkPointer(fn, "bnScale", bnScale)) return s;
  if (int s = checkPointer(fn, "bnBias", bnBias)) return s;
  if (int s = checkPair(fn, "resultRunningMean", resultRunningMean, "resultRunningVariance", resultRunningVariance))
    return s;
  if (int s = checkPair(fn, "resultSaveMean", resultSaveMean, "resultSaveInvVariance", resultSaveInvVariance)) return s;
  const float *xp = static_cast<const float*>(x), *scale = static_cast<const float*>(bnScale),
              *bias = static_cast<const float*>(bnBias);
  float* yp = static_cast<float*>(y);
  const double al = scalar(alpha), be = scalar(beta);
  return guarded(fn, [&] {
    const Stats st = batchStats(xl, xp, bn);
    std::vector<double> inv(st.var.size());
    for (size_t i = 0; i < inv.size(); i++) inv[i] = 1.0 / std::sqrt(st.var[i] + epsilon);
    walk<3>(xl, {&xl, &yl, &bn}, [&](const auto& o) {
      const size_t p = size_t(o[2]);
      const double v = double(scale[p]) * (double(xp[o[0]]) - st.mean[p]) * inv[p] + double(bias[p]);
      yp[o[1]] = blend(v, al, be, yp[o[1]]);
    });
    // Running averages take the unbiased variance (cuDNN's documented m/(m-1) correction); a
    // group of one element has none, and keeps the biased value 0.
    const double f = exponentialAverageFactor;
    const double unbias = st.count > 1 ? st.count / (st.count - 1) : 1.0;
    float* rm = static_cast<float*>(resultRunningMean);
    float* rv = static_cast<float*>(resultRunningVariance);
    float* sm = static_cast<float*>(resultSaveMean);
    float* si = static_cast<float*>(resultSaveInvVariance);
    walk<1>(bn, {&bn}, [&](const auto& o) {
      const size_t p = size_t(o[0]);
      if (rm) {
        rm[p] = float((1.0 - f) * double(rm[p]) + f * st.mean[p]);
        rv[p] = float((1.0 - f) * double(rv[p]) + f * st.var[p] * unbias);
      }
      if (sm) sm[p] = float(st.mean[p]), si[p] = float(inv[p]);
    });
  });
}

cudnnStatus_t cudnnBatchNormalizationForwardInference(cudnnHandle_t handle, int mode, const void* alpha,
                                                      const void* beta, cudnnTensorDescriptor_t xDesc, const void* x,
                                                      cudnnTensorDescriptor_t yDesc, void* y,
                                                      cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc,
                                                      const void* bnScale, const void* bnBias,
                                                      const void* estimatedMean, const void* estimatedVariance,
                                                      double epsilon) {
  const char* fn = "cudnnBatchNormalizationForwardInference";
  Layout xl, yl, bn;
  if (int s = beginWork(fn, handle)) return s;
  if (int s = checkPointer(fn, "alpha", alpha)) return s;
  if (int s = checkPointer(fn, "beta", beta)) return s;
  if (int s = checkTensors(fn, mode, xDesc, &xl, {{"yDesc", {yDesc, &yl}}}, "bnScaleBiasMeanVarDesc",
                           bnScaleBiasMeanVarDesc, &bn))
    return s;
  if (int s = checkEpsilon(fn, epsilon)) return s;
  const void* ptrs[] = {x, y, bnScale, bnBias, estimatedMean, estimatedVariance};
  const char* names[] = {"x", "y", "bnScale", "bnBias", "estimatedMean", "estimatedVariance"};
  for (int i = 0; i < 6; i++)
    if (int s = checkPointer(fn, names[i], ptrs[i])) return s;
  const float *xp = static_cast<const float*>(x), *scale = static_cast<const float*>(bnScale),
              *bias = static_cast<const float*>(bnBias), *mean = static_cast<const float*>(estimatedMean),
              *var = static_cast<const float*>(estimatedVariance);
  float* yp = static_cast<float*>(y);
  const double al = scalar(alpha), be = scalar(beta);
  walk<3>(xl, {&xl, &yl, &bn}, [&](const auto& o) {
    const size_t p = size_t(o[2]);
    const double v =
        double(scale[p]) * (double(xp[o[0]]) - double(mean[p])) / std::sqrt(double(var[p]) + epsilon) + double(bias[p]);
    yp[o[1]] = blend(v, al, be, yp[o[1]]);
  });
  return kSuccess;
}

cudnnStatus_t cudnnBatchNormalizationBackward(cudnnHandle_t handle, int mode, const void* alphaDataDiff,
                                              const void* betaDataDiff, const void* alphaParamDiff,
                                              const void* betaParamDiff, cudnnTensorDescriptor_t xDesc, const void* x,
                                              cudnnTensorDescriptor_t dyDesc, const void* dy,
                                              cudnnTensorDescriptor_t dxDesc, void* dx,
                                              cudnnTensorDescriptor_t dBnScaleBiasDesc, const void* bnScale,
                                              void* dBnScaleResult, void* dBnBiasResult, double epsilon,
                                              const void* savedMean, const void* savedInvVariance) {
  const char* fn = "cudnnBatchNormalizationBackward";
  Layout xl, dyl, dxl, bn;
  if (int s = beginWork(fn, handle)) return s;
  const void* scalars[] = {alphaDataDiff, betaDataDiff, alphaParamDiff, betaParamDiff};
  const char* scalarNames[] = {"alphaDataDiff", "betaDataDiff", "alphaParamDiff", "betaParamDiff"};
  for (int i = 0; i < 4; i++)
    if (int s = checkPointer(fn, scalarNames[i], scalars[i])) return s;
  if (int s = checkTensors(fn, mode, xDesc, &xl, {{"dyDesc", {dyDesc, &dyl}}, {"dxDesc", {dxDesc, &dxl}}},
                           "dBnScaleBiasDesc", dBnScaleBiasDesc, &bn))
    return s;
  if (int s = checkEpsilon(fn, epsilon)) return s;
  const void* ptrs[] = {x, dy, dx, bnScale, dBnScaleResult, dBnBiasResult};
  const char* names[] = {"x", "dy", "dx", "bnScale", "dBnScaleResult", "dBnBiasResult"};
  for (int i = 0; i < 6; i++)
    if (int s = checkPointer(fn, names[i], ptrs[i])) return s;
  if (int s = checkPair(fn, "savedMean", savedMean, "savedInvVariance", savedInvVariance)) return s;
  const float *xp = static_cast<const float*>(x), *dyp = static_cast<const float*>(dy),
              *scale = static_cast<const float*>(bnScale);
  float* dxp = static_cast<float*>(dx);
  float* dScale = static_cast<float*>(dBnScaleResult);
  float* dBias = static_cast<float*>(dBnBiasResult);
  return guarded(fn, [&] {
    // The forward's statistics: as saved by ForwardTraining, or recomputed from x with epsilon.
    const size_t n = size_t(bn.span());
    std::vector<double> mean(n), inv(n);
    const double m = double(xl.count()) / double(bn.count());
    if (savedMean) {
      const float *sm = static_cast<const float*>(savedMean), *si = static_cast<const float*>(savedInvVariance);
      walk<1>(bn, {&bn}, [&](const auto& o) { mean[size_t(o[0])] = sm[o[0]], inv[size_t(o[0])] = si[o[0]]; });
    } else {
      const Stats st = batchStats(xl, xp, bn);
      mean = st.mean;
      for (size_t i = 0; i < n; i++) inv[i] = 1.0 / std::sqrt(st.var[i] + epsilon);
    }
    // dbias = sum(dy), dscale = sum(dy * xhat) with xhat = (x - mean) * inv
    std::vector<double> sumDy(n, 0.0), sumDyXhat(n, 0.0);
    walk<3>(xl, {&xl, &dyl, &bn}, [&](const auto& o) {
      const size_t p = size_t(o[2]);
      const double d = dyp[o[1]];
      sumDy[p] += d;
      sumDyXhat[p] += d * (double(xp[o[0]]) - mean[p]) * inv[p];
    });
    // dx = scale * inv * (dy - mean(dy) - xhat * mean(dy * xhat))
    const double ad = scalar(alphaDataDiff), bd = scalar(betaDataDiff);
    walk<4>(xl, {&xl, &dyl, &dxl, &bn}, [&](const auto& o) {
      const size_t p = size_t(o[3]);
      const double xhat = (double(xp[o[0]]) - mean[p]) * inv[p];
      const double g = double(scale[p]) * inv[p] * (double(dyp[o[1]]) - sumDy[p] / m - xhat * sumDyXhat[p] / m);
      dxp[o[2]] = blend(g, ad, bd, dxp[o[2]]);
    });
    const double ap = scalar(alphaParamDiff), bp = scalar(betaParamDiff);
    walk<1>(bn, {&bn}, [&](const auto& o) {
      const size_t p = size_t(o[0]);
      dScale[p] = blend(sumDyXhat[p], ap, bp, dScale[p]);
      dBias[p] = blend(sumDy[p], ap, bp, dBias[p]);
    });
  });
}

}  // extern "C"
