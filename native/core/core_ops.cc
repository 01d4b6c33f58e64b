// Tensor factories and process-wide queries: empty, fromArray-style creation, clone, memory stats,
// thread count, version info.
#include <omp.h>

#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>

#include "core/allocator.h"
#include "core/dispatch.h"
#include "core/registry.h"

namespace scse {
namespace {

DType dtypeArg(const Napi::CallbackInfo& info, size_t i, const char* op) {
  std::string s = stringArg(info, i, op, "dtype");
  if (s == "float32") return DType::F32;
  if (s == "int32") return DType::I32;
  fail(op, "argument 'dtype' must be 'float32' or 'int32', got '" + s + "'");
}

// empty(shape, dtype, device = 'cpu') -> uninitialised tensor
Napi::Value Empty(const Napi::CallbackInfo& info) {
  Shape s = shapeArg(info, 0, "empty", "shape");
  DType dt = dtypeArg(info, 1, "empty");
  return NTensor::New(info.Env(), s, dt, deviceArg(info, 2, "empty"), "empty");
}

// clone(t) -> a copy with its own storage, on t's device
Napi::Value Clone(const Napi::CallbackInfo& info) {
  NTensor* t = anyTensorArg(info, 0, "clone", "x");
  SCSE_ON_CUDA(deviceOf("clone", {{"x", t}}), cudaops::clone(info.Env(), t));
  Napi::Object out = NTensor::New(info.Env(), t->shape(), t->dtype());
  std::memcpy(NTensor::Unwrap(out)->raw(), t->raw(), size_t(t->numel()) * 4);
  return out;
}

// fill(t, value): sets every element (float32 or int32) in place
Napi::Value Fill(const Napi::CallbackInfo& info) {
  NTensor* t = anyTensorArg(info, 0, "fill", "x");
  double v = numberArg(info, 1, "fill", "value");
  SCSE_ON_CUDA(deviceOf("fill", {{"x", t}}), cudaops::fill(info.Env(), t, v));
  int64_t n = t->numel();
  if (t->dtype() == DType::F32) {
    float* p = t->f32();
    float fv = float(v);
#pragma omp parallel for simd if (n > (1 << 16))
    for (int64_t i = 0; i < n; i++) p[i] = fv;
  } else {
    int32_t* p = t->i32();
    int32_t iv = int32_t(v);
#pragma omp parallel for simd if (n > (1 << 16))
    for (int64_t i = 0; i < n; i++) p[i] = iv;
  }
  return info.Env().Undefined();
}

// toDevice(t, device) -> a copy of t on `device` ('cpu' | 'cuda' | 'cuda:N'); a copy even when
// t is already there.
Napi::Value ToDevice(const Napi::CallbackInfo& info) {
  NTensor* t = anyTensorArg(info, 0, "toDevice", "x");
  if (info.Length() < 2 || !info[1].IsString()) fail("toDevice", "argument 'device' must be a string");
  [[maybe_unused]] Device to = deviceArg(info, 1, "toDevice");  // always the CPU without CUDA
#ifdef SCSE_HAVE_CUDA
  if (to.isCuda() || t->device().isCuda()) return cudaops::toDevice(info.Env(), t, to);
#endif
  Napi::Object out = NTensor::New(info.Env(), t->shape(), t->dtype());
  std::memcpy(NTensor::Unwrap(out)->raw(), t->raw(), t->bytes());
  return out;
}

Napi::Value Memory(const Napi::CallbackInfo& info) {
  MemoryStats s = cpuMemoryStats();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("tensors", double(NTensor::liveCount()));
  o.Set("bytesInUse", double(s.bytesInUse));
  o.Set("bytesReserved", double(s.bytesReserved));
  o.Set("osAllocations", double(s.allocations));
  return o;
}

Napi::Value EmptyCache(const Napi::CallbackInfo& info) {
  cpuEmptyCache();
  return info.Env().Undefined();
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  int64_t n = intArg(info, 0, "setNumThreads", "n");
  if (n < 1) fail("setNumThreads", "argument 'n' must be >= 1, got " + std::to_string(n));
  omp_set_num_threads(int(n));
  return info.Env().Undefined();
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  const dnnl_version_t* v = dnnl_version();
  o.Set("onednn", std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
  o.Set("threads", omp_get_max_threads());
#ifdef SCSE_HAVE_CUDA
  o.Set("cudaCompiled", true);
#else
  o.Set("cudaCompiled", false);
#endif
  return o;
}

}  // namespace

void registerCore(Napi::Env, Napi::Object exports) {
  SCSE_EXPORT(exports, "empty", Empty);
  SCSE_EXPORT(exports, "clone", Clone);
  SCSE_EXPORT(exports, "fill", Fill);
  SCSE_EXPORT(exports, "toDevice", ToDevice);
  SCSE_EXPORT(exports, "memory", Memory);
  SCSE_EXPORT(exports, "emptyCache", EmptyCache);
  SCSE_EXPORT(exports, "setNumThreads", SetNumThreads);
  SCSE_EXPORT(exports, "info", Info);
}

}  // namespace scse
