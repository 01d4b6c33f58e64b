// cudnnAddTensor (C = alpha*A + beta*C, A broadcast along its dims of 1) and cudnnSetTensor.
#include <string>

#include "cuda/emu/cudnn/descriptors.h"
#include "cuda/emu/cudnn/emu.h"
#include "cuda/emu/cudnn/exports.h"
#include "cuda/emu/cudnn/walk.h"

using namespace scse::cudnn;
using namespace scse::cudnn_emu;

extern "C" {

cudnnStatus_t cudnnAddTensor(cudnnHandle_t handle, const void* alpha, cudnnTensorDescriptor_t aDesc, const void* A,
                             const void* beta, cudnnTensorDescriptor_t cDesc, void* C) {
  const char* fn = "cudnnAddTensor";
  Layout a, c;
  if (int s = beginWork(fn, handle)) return s;
  if (int s = checkPointer(fn, "alpha", alpha)) return s;
  if (int s = checkPointer(fn, "beta", beta)) return s;
  if (int s = checkTensor(fn, "aDesc", aDesc, &a)) return s;
  if (int s = checkTensor(fn, "cDesc", cDesc, &c)) return s;
  if (a.nb != c.nb) {
    return fail(kBadParam, fn,
                "aDesc: expected " + std::to_string(c.nb) + " dims like cDesc, got " + std::to_string(a.nb));
  }
  // cuDNN documents all formats up to 5 dims and nothing beyond.
  if (c.nb > 5) return fail(kNotSupported, fn, "cDesc: expected at most 5 dims, got " + std::to_string(c.nb));
  for (int i = 0; i < c.nb; i++) {
    if (a.dim[i] != c.dim[i] && a.dim[i] != 1) {
      return fail(kBadParam, fn,
                  "aDesc: each dim must equal cDesc's or be 1; dim " + std::to_string(i) + " is " +
                      std::to_string(a.dim[i]) + " (aDesc " + dimsText(a.nb, a.dim) + ", cDesc " +
                      dimsText(c.nb, c.dim) + ")");
    }
  }
  if (int s = checkPointer(fn, "A", A)) return s;
  if (int s = checkPointer(fn, "C", C)) return s;
  const float* src = static_cast<const float*>(A);
  float* dst = static_cast<float*>(C);
  const double al = scalar(alpha), be = scalar(beta);
  walk<2>(c, {&c, &a}, [&](const auto& o) { dst[o[0]] = blend(double(src[o[1]]), al, be, dst[o[0]]); });
  return kSuccess;
}

cudnnStatus_t cudnnSetTensor(cudnnHandle_t handle, cudnnTensorDescriptor_t yDesc, void* y, const void* valuePtr) {
  const char* fn = "cudnnSetTensor";
  Layout l;
  if (int s = beginWork(fn, handle)) return s;
  if (int s = checkTensor(fn, "yDesc", yDesc, &l)) return s;
  if (int s = checkPointer(fn, "y", y)) return s;
  if (int s = checkPointer(fn, "valuePtr", valuePtr)) return s;
  const float v = *static_cast<const float*>(valuePtr);  // host pointer of y's data type
  float* dst = static_cast<float*>(y);
  walk<1>(l, {&l}, [&](const auto& o) { dst[o[0]] = v; });
  return kSuccess;
}

}  // extern "C"
