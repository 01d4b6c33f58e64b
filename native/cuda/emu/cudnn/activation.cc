// Activation descriptors and cudnnActivationForward / Backward, elementwise on strided tensors.
//
// Backward derivatives: sigmoid and tanh from y (the forward output, as cuDNN takes it), the
// others from x. Swish uses beta = 1 (cudnnSetActivationDescriptorSwishBeta's default; that
// setter is not part of the subset). CUDNN_ACTIVATION_IDENTITY computes the identity here,
// although cuDNN's documentation reserves it for cudnnConvolutionBiasActivationForward.
#include <cmath>
#include <new>
#include <string>

#include "cuda/emu/cudnn/descriptors.h"
#include "cuda/emu/cudnn/emu.h"
#include "cuda/emu/cudnn/exports.h"
#include "cuda/emu/cudnn/walk.h"

#pragma GCC visibility push(hidden)
namespace scse::cudnn_emu {
namespace {

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

double activate(const cudnnActivationStruct& a, double x) {
  const bool nan = std::isnan(x);
  switch (a.mode) {
    case CUDNN_ACTIVATION_SIGMOID:
      return sigmoid(x);
    case CUDNN_ACTIVATION_RELU:
      if (nan) return a.nanOpt == CUDNN_PROPAGATE_NAN ? x : 0.0;
      return x > 0 ? x : 0.0;
    case CUDNN_ACTIVATION_TANH:
      return std::tanh(x);
    case CUDNN_ACTIVATION_CLIPPED_RELU:
      if (nan) return a.nanOpt == CUDNN_PROPAGATE_NAN ? x : 0.0;
      return x <= 0 ? 0.0 : (x < a.coef ? x : a.coef);
    case CUDNN_ACTIVATION_ELU:
      return x > 0 ? x : a.coef * std::expm1(x);
    case CUDNN_ACTIVATION_SWISH:
      return x * sigmoid(x);
    default:  // CUDNN_ACTIVATION_IDENTITY
      return x;
  }
}

double derivative(const cudnnActivationStruct& a, double x, double y) {
  switch (a.mode) {
    case CUDNN_ACTIVATION_SIGMOID:
      return y * (1.0 - y);
    case CUDNN_ACTIVATION_RELU:
      return x > 0 ? 1.0 : 0.0;
    case CUDNN_ACTIVATION_TANH:
      return 1.0 - y * y;
    case CUDNN_ACTIVATION_CLIPPED_RELU:
      return x > 0 && x < a.coef ? 1.0 : 0.0;
    case CUDNN_ACTIVATION_ELU:
      return x > 0 ? 1.0 : a.coef * std::exp(x);
    case CUDNN_ACTIVATION_SWISH: {
      const double s = sigmoid(x);
      return s + x * s * (1.0 - s);
    }
    default:
      return 1.0;
  }
}

}  // namespace
}  // namespace scse::cudnn_emu
#pragma GCC visibility pop

using namespace scse::cudnn;
using namespace scse::cudnn_emu;

extern "C" {

cudnnStatus_t cudnnCreateActivationDescriptor(cudnnActivationDescriptor_t* d) {
  return createDescriptor("cudnnCreateActivationDescriptor", "activationDesc", d);
}

cudnnStatus_t cudnnDestroyActivationDescriptor(cudnnActivationDescriptor_t d) {
  return destroyDescriptor("cudnnDestroyActivationDescriptor", "activationDesc", d, isActivation, "an activation descriptor");
}

cudnnStatus_t cudnnSetActivationDescriptor(cudnnActivationDescriptor_t d, int mode, int reluNanOpt, double coef) {
  const char* fn = "cudnnSetActivationDescriptor";
  if (!isActivation(d)) return checkActivation(fn, "activationDesc", d, false);
  if (mode < CUDNN_ACTIVATION_SIGMOID || mode > CUDNN_ACTIVATION_SWISH) {
    return fail(kBadParam, fn,
                "mode: expected a cudnnActivationMode_t from CUDNN_ACTIVATION_SIGMOID (0) to CUDNN_ACTIVATION_SWISH "
                "(6), got " +
                    std::to_string(mode));
  }
  if (reluNanOpt != CUDNN_NOT_PROPAGATE_NAN && reluNanOpt != CUDNN_PROPAGATE_NAN) {
    return fail(kBadParam, fn,
                "reluNanOpt: expected CUDNN_NOT_PROPAGATE_NAN (0) or CUDNN_PROPAGATE_NAN (1), got " +
                    std::to_string(reluNanOpt));
  }
  d->mode = mode, d->nanOpt = reluNanOpt, d->coef = coef, d->set = true;
  return kSuccess;
}

cudnnStatus_t cudnnGetActivationDescriptor(const cudnnActivationDescriptor_t d, int* mode, int* reluNanOpt, double* coef) {
  const char* fn = "cudnnGetActivationDescriptor";
  if (int s = checkActivation(fn, "activationDesc", d, false)) return s;  // unset: sigmoid, 0, 0
  if (int s = checkPointer(fn, "mode", mode)) return s;
  if (int s = checkPointer(fn, "reluNanOpt", reluNanOpt)) return s;
  if (int s = checkPointer(fn, "coef", coef)) return s;
  *mode = d->mode, *reluNanOpt = d->nanOpt, *coef = d->coef;
  return kSuccess;
}

cudnnStatus_t cudnnActivationForward(cudnnHandle_t handle, cudnnActivationDescriptor_t activationDesc, const void* alpha,
                                     cudnnTensorDescriptor_t xDesc, const void* x, const void* beta,
                                     cudnnTensorDescriptor_t yDesc, void* y) {
  const char* fn = "cudnnActivationForward";
  Layout xl, yl;
  if (int s = beginWork(fn, handle)) return s;
  if (int s = checkActivation(fn, "activationDesc", activationDesc)) return s;
  if (int s = checkPointer(fn, "alpha", alpha)) return s;
  if (int s = checkPointer(fn, "beta", beta)) return s;
  if (int s = checkTensor(fn, "xDesc", xDesc, &xl)) return s;
  if (int s = checkTensor(fn, "yDesc", yDesc, &yl)) return s;
  if (int s = checkSameDims(fn, "xDesc", xl, "yDesc", yl)) return s;
  if (int s = checkPointer(fn, "x", x)) return s;
  if (int s = checkPointer(fn, "y", y)) return s;
  const cudnnActivationStruct& a = *activationDesc;
  const float* src = static_cast<const float*>(x);
  float* dst = static_cast<float*>(y);
  const double al = scalar(alpha), be = scalar(beta);
  walk<2>(xl, {&xl, &yl}, [&](const auto& o) { dst[o[1]] = blend(activate(a, double(src[o[0]])), al, be, dst[o[1]]); });
  return kSuccess;
}

cudnnStatus_t cudnnActivationBackward(cudnnHandle_t handle, cudnnActivationDescriptor_t activationDesc,
                                      const void* alpha, cudnnTensorDescriptor_t yDesc, const void* y,
                                      cudnnTensorDescriptor_t dyDesc, const void* dy, cudnnTensorDescriptor_t xDesc,
                                      const void* x, const void* beta, cudnnTensorDescriptor_t dxDesc, void* dx) {
  const char* fn = "cudnnActivationBackward";
  Layout yl, dyl, xl, dxl;
  if (int s = beginWork(fn, handle)) return s;
  if (int s = checkActivation(fn, "activationDesc", activationDesc)) return s;
  if (int s = checkPointer(fn, "alpha", alpha)) return s;
  if (int s = checkPointer(fn, "beta", beta)) return s;
  if (int s = checkTensor(fn, "yDesc", yDesc, &yl)) return s;
  if (int s = checkTensor(fn, "dyDesc", dyDesc, &dyl)) return s;
  if (int s = checkTensor(fn, "xDesc", xDesc, &xl)) return s;
  if (int s = checkTensor(fn, "dxDesc", dxDesc, &dxl)) return s;
  if (int s = checkSameDims(fn, "yDesc", yl, "dyDesc", dyl)) return s;
  if (int s = checkSameDims(fn, "yDesc", yl, "xDesc", xl)) return s;
  if (int s = checkSameDims(fn, "yDesc", yl, "dxDesc", dxl)) return s;
  if (int s = checkPointer(fn, "y", y)) return s;
  if (int s = checkPointer(fn, "dy", dy)) return s;
  if (int s = checkPointer(fn, "x", x)) return s;
  if (int s = checkPointer(fn, "dx", dx)) return s;
  const cudnnActivationStruct& a = *activationDesc;
  const float *yp = static_cast<const float*>(y), *dyp = static_cast<const float*>(dy), *xp = static_cast<const float*>(x);
  float* dxp = static_cast<float*>(dx);
  const double al = scalar(alpha), be = scalar(beta);
  walk<4>(dxl, {&dxl, &yl, &dyl, &xl}, [&](const auto& o) {
    const double d = derivative(a, double(xp[o[3]]), double(yp[o[1]]));
    dxp[o[0]] = blend(double(dyp[o[2]]) * d, al, be, dxp[o[0]]);
  });
  return kSuccess;
}

}  // extern "C"
