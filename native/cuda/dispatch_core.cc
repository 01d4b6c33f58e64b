// CUDA twins of the core ops (core/core_ops.cc): clone, fill, and copies between devices.
#include <cstring>

#include "cuda/dispatch.h"
#include "cuda/dispatch_util.h"
#include "cuda/ops.h"

namespace scse::cudaops {

using detail::dev;
using detail::Out;

Napi::Value clone(Napi::Env env, NTensor* t) {
  Out y(t->device(), t->shape(), t->dtype());
  cuda::copyDeviceToDevice(dev(t), y.f32(), t->devRaw(), t->bytes());
  return y.handle(env);
}

Napi::Value fill(Napi::Env env, NTensor* t, double value) {
  if (t->dtype() == DType::F32) cuda::fillF32(dev(t), t->devF32(), float(value), t->numel());
  else cuda::fillI32(dev(t), t->devI32(), int32_t(value), t->numel());
  return env.Undefined();
}

Napi::Value toDevice(Napi::Env env, NTensor* t, Device to) {
  const Device from = t->device();
  const size_t bytes = t->bytes();
  Out y(to, t->shape(), t->dtype());
  if (!from.isCuda()) {
    cuda::copyToDevice(to.index, y.f32(), t->raw(), bytes);  // returns once staged
  } else if (!to.isCuda()) {
    cuda::copyToHost(from.index, y.f32(), t->devRaw(), bytes);  // waits for the source's queued work
  } else if (from == to) {
    cuda::copyDeviceToDevice(to.index, y.f32(), t->devRaw(), bytes);
  } else {
    // Between two GPUs through host memory: rare (one process per GPU is the plan), and it
    // needs no peer access.
    std::vector<char> host(bytes);
    cuda::copyToHost(from.index, host.data(), t->devRaw(), bytes);
    cuda::copyToDevice(to.index, y.f32(), host.data(), bytes);
  }
  return y.handle(env);
}

}  // namespace scse::cudaops
