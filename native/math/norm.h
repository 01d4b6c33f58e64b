// Batch-norm bookkeeping shared by the CPU (oneDNN) and CUDA (cuDNN) backends: neither library's
// running-average convention is used; both backends apply this one formula (PyTorch's).
#pragma once
#include "math/common.h"

namespace scse::math {

// running = (1 - m) * running + m * batch, with the variance made unbiased:
// `var` is the biased batch variance and unbias = count / (count - 1).
SCSE_HD void bnRunningUpdate(float* runningMean, float* runningVar, float mean, float var, float m, float unbias) {
  *runningMean = (1 - m) * *runningMean + m * mean;
  *runningVar = (1 - m) * *runningVar + m * var * unbias;
}

}  // namespace scse::math
