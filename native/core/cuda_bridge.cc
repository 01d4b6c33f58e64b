// N-API glue for the CUDA layer: status (driver, devices, cuDNN), device memory stats and a
// host -> device -> host round trip. It calls the plain C++ API of native/cuda/ (built into the
// static library scse_cuda when nvcc was found); without it, the same functions report why
// there is no CUDA backend, so JS never has to check whether they exist.
#include <string>

#include "core/dispatch.h"
#include "core/registry.h"

#ifdef SCSE_HAVE_CUDA
#include "cuda/bandwidth.h"
#include "cuda/context.h"
#include "cuda/cudnn_loader.h"
#include "cuda/device.h"
#endif

namespace scse {

std::string noCudaReason() {
  return std::string(SCSE_CUDA_SETTING) == "OFF"
             ? "this build has no CUDA backend (built with SCSE_CUDA=OFF)"
             : "this build has no CUDA backend (nvcc was not found at build time; rebuild with the CUDA toolkit on PATH)";
}
#ifdef SCSE_HAVE_CUDA
void registerCudaTestHooks(Napi::Env env, Napi::Object exports);  // core/cuda_test_hooks.cc
#endif

namespace {

#ifdef SCSE_HAVE_CUDA

Napi::Object cudnnObject(Napi::Env env) {
  const cudnn::LoadResult& r = cudnn::cudnnLoad();
  Napi::Object o = Napi::Object::New(env);
  o.Set("loaded", r.loaded);
  o.Set("version", r.rawVersion ? Napi::Value(Napi::String::New(env, cudnn::versionString(r.version))) : env.Null());
  o.Set("rawVersion", double(r.rawVersion));
  o.Set("cudartVersion", double(r.cudartVersion));
  o.Set("path", r.path.empty() ? env.Null() : Napi::Value(Napi::String::New(env, r.path)));
  o.Set("reason", r.reason);
  return o;
}

// cudaStatus() -> { compiled, usable, reason, driverVersion, runtimeVersion, archs, devices, cudnn }
Napi::Value CudaStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const cuda::RuntimeStatus& rt = cuda::runtimeStatus();
  const cuda::BackendStatus b = cuda::backendStatus();
  Napi::Object o = Napi::Object::New(env);
  o.Set("compiled", true);
#ifdef SCSE_CUDA_EMU
  o.Set("backend", "cuda-emu");  // native/cuda on the CPU emulator (SCSE_CUDA=EMU build)
#else
  o.Set("backend", "cuda");
#endif
  o.Set("usable", b.usable);
  o.Set("reason", b.reason);
  o.Set("runtimeUsable", rt.usable);
  o.Set("driverVersion", rt.driverVersion);
  o.Set("runtimeVersion", rt.runtimeVersion);
  o.Set("archs", cuda::describeArchs(cuda::buildArchs()));
  Napi::Array devices = Napi::Array::New(env, rt.devices.size());
  for (size_t i = 0; i < rt.devices.size(); i++) {
    const cuda::DeviceInfo& d = rt.devices[i];
    Napi::Object dev = Napi::Object::New(env);
    dev.Set("index", d.index);
    dev.Set("name", d.name);
    dev.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
    dev.Set("totalMemory", double(d.totalMemory));
    dev.Set("multiProcessors", d.multiProcessors);
    dev.Set("usable", d.usable);
    dev.Set("reason", d.reason);
    devices.Set(uint32_t(i), dev);
  }
  o.Set("devices", devices);
  o.Set("cudnn", cudnnObject(env));
  return o;
}

Napi::Value CudnnStatus(const Napi::CallbackInfo& info) { return cudnnObject(info.Env()); }

int deviceIndexArg(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || info[i].IsUndefined()) return 0;
  int64_t d = intArg(info, i, op, "device");
  if (d < 0) fail(op, "argument 'device' must be >= 0, got " + std::to_string(d));
  return int(d);
}

// cudaMemory(device) -> { bytesInUse, bytesReserved, bytesCached, backendAllocations }
Napi::Value CudaMemory(const Napi::CallbackInfo& info) {
  cuda::DeviceMemoryStats s = cuda::deviceMemoryStats(deviceIndexArg(info, 0, "cudaMemory"));
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("bytesInUse", double(s.bytesInUse));
  o.Set("bytesReserved", double(s.bytesReserved));
  o.Set("bytesCached", double(s.bytesCached));
  o.Set("backendAllocations", double(s.backendAllocations));
  return o;
}

Napi::Value CudaEmptyCache(const Napi::CallbackInfo& info) {
  cuda::deviceEmptyCache(deviceIndexArg(info, 0, "cudaEmptyCache"));
  return info.Env().Undefined();
}

// cudaRoundTrip(Float32Array, device = 0) -> Float32Array: copies to a device block from the
// caching allocator and back (the smallest end-to-end check of allocator + transfers).
Napi::Value CudaRoundTrip(const Napi::CallbackInfo& info) {
  const char* op = "cudaRoundTrip";
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    fail(op, "argument 'data' must be a Float32Array");
  Napi::Float32Array in = info[0].As<Napi::Float32Array>();
  const int device = deviceIndexArg(info, 1, op);
  const size_t bytes = in.ElementLength() * sizeof(float);
  try {
    cuda::DeviceBuffer buf(device, bytes);
    Napi::Float32Array out = Napi::Float32Array::New(info.Env(), in.ElementLength());
    cuda::copyToDevice(device, buf.get(), in.Data(), bytes);
    cuda::copyToHost(device, out.Data(), buf.get(), bytes);
    return out;
  } catch (const cuda::CudaError& e) {
    fail(op, e.what());
  }
}

// cudaSynchronize(device = 0): waits for the device's queued work (benchmarks time with it).
Napi::Value CudaSynchronize(const Napi::CallbackInfo& info) {
  cuda::synchronize(deviceIndexArg(info, 0, "cudaSynchronize"));
  return info.Env().Undefined();
}

// cudaBandwidth(bytesPerArray, reps, device = 0) -> { triad, copy } in GB/s (best of reps).
Napi::Value CudaBandwidth(const Napi::CallbackInfo& info) {
  const char* op = "cudaBandwidth";
  const int64_t bytes = intArg(info, 0, op, "bytesPerArray");
  const int64_t reps = intArg(info, 1, op, "reps");
  if (bytes < 4096 || reps < 1) fail(op, "arguments must be bytesPerArray >= 4096 and reps >= 1");
  const int device = deviceIndexArg(info, 2, op);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("triad", cuda::deviceTriad(device, size_t(bytes), int(reps)));
  o.Set("copy", cuda::deviceCopy(device, size_t(bytes), int(reps)));
  return o;
}

#else  // no CUDA backend in this build

std::string notCompiledReason() { return noCudaReason(); }

Napi::Value CudnnStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("loaded", false);
  o.Set("version", env.Null());
  o.Set("rawVersion", 0);
  o.Set("cudartVersion", 0);
  o.Set("path", env.Null());
  o.Set("reason", notCompiledReason());
  return o;
}

Napi::Value CudaStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("compiled", false);
  o.Set("usable", false);
  o.Set("reason", notCompiledReason());
  o.Set("runtimeUsable", false);
  o.Set("driverVersion", 0);
  o.Set("runtimeVersion", 0);
  o.Set("archs", "");
  o.Set("devices", Napi::Array::New(env));
  o.Set("cudnn", CudnnStatus(info));
  return o;
}

Napi::Value CudaMemory(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  for (const char* k : {"bytesInUse", "bytesReserved", "bytesCached", "backendAllocations"}) o.Set(k, 0);
  return o;
}

Napi::Value CudaEmptyCache(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }

Napi::Value CudaRoundTrip(const Napi::CallbackInfo&) { fail("cudaRoundTrip", notCompiledReason()); }
Napi::Value CudaSynchronize(const Napi::CallbackInfo&) { fail("cudaSynchronize", notCompiledReason()); }
Napi::Value CudaBandwidth(const Napi::CallbackInfo&) { fail("cudaBandwidth", notCompiledReason()); }

#endif

}  // namespace

void registerCuda(Napi::Env env, Napi::Object exports) {
  SCSE_EXPORT(exports, "cudaStatus", CudaStatus);
  SCSE_EXPORT(exports, "cudnnStatus", CudnnStatus);
  SCSE_EXPORT(exports, "cudaMemory", CudaMemory);
  SCSE_EXPORT(exports, "cudaEmptyCache", CudaEmptyCache);
  SCSE_EXPORT(exports, "cudaRoundTrip", CudaRoundTrip);
  SCSE_EXPORT(exports, "cudaSynchronize", CudaSynchronize);
  SCSE_EXPORT(exports, "cudaBandwidth", CudaBandwidth);
#ifdef SCSE_HAVE_CUDA
  registerCudaTestHooks(env, exports);
#endif
}

}  // namespace scse
