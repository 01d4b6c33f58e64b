// What the two batch-norm families (norm.cc on oneDNN, norm_act.cc fused with an activation)
// share: their eps / momentum arguments and the running-statistics update (PyTorch's rule).
#pragma once
#include <cmath>
#include <string>

#include "core/check.h"
#include "core/tensor.h"
#include "math/norm.h"

namespace scse {

inline float bnEpsArg(const Napi::CallbackInfo& info, size_t i, const char* op) {
  double e = numberArg(info, i, op, "eps");
  if (!(e > 0) || !std::isfinite(e)) fail(op, "argument 'eps' must be a finite number > 0, got " + std::to_string(e));
  return float(e);
}

inline double bnMomentumArg(const Napi::CallbackInfo& info, size_t i, const char* op) {
  double m = numberArg(info, i, op, "momentum");
  if (!(m >= 0 && m <= 1)) fail(op, "argument 'momentum' must be in [0, 1], got " + std::to_string(m));
  return m;
}

// running = (1 - m)·running + m·batch over C channels, the batch variance (biased, over `count`
// values per channel) made unbiased.
inline void bnUpdateRunning(NTensor* rm, NTensor* rv, const float* mean, const float* var, int64_t C, double momentum,
                            int64_t count) {
  const float m = float(momentum), unbias = float(double(count) / double(count - 1));
  float *rmp = rm->f32(), *rvp = rv->f32();
  for (int64_t c = 0; c < C; c++) math::bnRunningUpdate(rmp + c, rvp + c, mean[c], var[c], m, unbias);
}

}  // namespace scse
