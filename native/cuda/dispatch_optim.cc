// CUDA twins of native/cpu/optim.cc: in-place steps with the shared update of math/optim.h.
#include "cuda/dispatch.h"
#include "cuda/dispatch_util.h"
#include "cuda/ops.h"

namespace scse::cudaops {

using detail::dev;

Napi::Value sgdStep(Napi::Env env, NTensor* param, NTensor* grad, NTensor* momentumBuf, const math::SgdHyper& h) {
  cuda::sgdStep(dev(param), param->devF32(), grad->devF32(), momentumBuf ? momentumBuf->devF32() : nullptr, param->numel(), h);
  return env.Undefined();
}

Napi::Value adamStep(Napi::Env env, NTensor* param, NTensor* grad, NTensor* m, NTensor* v, double lr, double beta1,
                     double beta2, double eps, double weightDecay, int64_t step, bool decoupled) {
  cuda::adamStep(dev(param), param->devF32(), grad->devF32(), m->devF32(), v->devF32(), param->numel(), lr, beta1, beta2, eps,
                 weightDecay, step, decoupled);
  return env.Undefined();
}

}  // namespace scse::cudaops
