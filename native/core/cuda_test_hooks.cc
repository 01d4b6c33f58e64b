// `cudaTestHooks`: the pure parts of the CUDA layer (version decoding, status names, reason
// texts, architecture coverage, size classes) and the caching allocator over a fake backend,
// exposed so they are tested on machines without a GPU. Not part of the public API.
#ifdef SCSE_HAVE_CUDA
#include <map>
#include <memory>
#include <string>

#include "core/registry.h"
#include "cuda/allocator.h"
#include "cuda/cudnn_loader.h"
#include "cuda/device.h"

namespace scse {
void registerCudaOpHooks(Napi::Env env, Napi::Object hooks);  // core/cuda_op_hooks.cc
void registerCudnnConformanceHooks(Napi::Env env, Napi::Object hooks);  // core/cudnn_conformance_hooks.cc

namespace {

constexpr const char* kOp = "cudaTestHooks";

// Device memory that is only a counter: hands out increasing fake addresses up to `capacity`,
// and can be told to fail the next n allocations with out-of-memory.
class FakeBackend final : public cuda::DeviceMemoryBackend {
 public:
  explicit FakeBackend(size_t capacity) : capacity_(capacity) {}
  int allocate(void** ptr, size_t bytes) override {
    calls++;
    if (failNext > 0) {
      failNext--;
      return kOutOfMemory;
    }
    if (used_ + bytes > capacity_) return kOutOfMemory;
    *ptr = reinterpret_cast<void*>(next_);
    next_ += bytes;
    used_ += bytes;
    sizes_[*ptr] = bytes;
    return 0;
  }
  int release(void* ptr) override {
    auto it = sizes_.find(ptr);
    if (it == sizes_.end()) return 1;  // would be cudaErrorInvalidValue
    used_ -= it->second;
    sizes_.erase(it);
    return 0;
  }
  void memoryInfo(size_t* freeBytes, size_t* totalBytes) override {
    *freeBytes = capacity_ - used_;
    *totalBytes = capacity_;
  }
  std::string errorText(int code) override { return "fakeError " + std::to_string(code); }

  size_t used() const { return used_; }
  int failNext = 0;
  size_t calls = 0;

 private:
  size_t capacity_;
  size_t used_ = 0;
  uintptr_t next_ = 0x10000;
  std::map<void*, size_t> sizes_;
};

struct FakeDevice {
  FakeDevice(size_t capacity, int device) : backend(capacity), allocator(backend, device) {}
  FakeBackend backend;
  cuda::CachingAllocator allocator;
};

// Runs `f`, turning C++ exceptions into JS errors (lambdas do not go through guarded<>).
template <typename F>
Napi::Value safely(const Napi::CallbackInfo& info, F&& f) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

// createFakeAllocator(capacityBytes, device = 0) -> { alloc, free, emptyCache, stats, failNext }
Napi::Value CreateFakeAllocator(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t capacity = intArg(info, 0, kOp, "capacityBytes");
  const int64_t device = info.Length() > 1 ? intArg(info, 1, kOp, "device") : 0;
  auto dev = std::make_shared<FakeDevice>(size_t(capacity), int(device));
  Napi::Object o = Napi::Object::New(env);
  o.Set("alloc", Napi::Function::New(env, [dev](const Napi::CallbackInfo& i) {
          return safely(i, [&] {
            void* p = dev->allocator.allocate(size_t(intArg(i, 0, kOp, "bytes")));
            return Napi::Number::New(i.Env(), double(reinterpret_cast<uintptr_t>(p)));
          });
        }));
  o.Set("free", Napi::Function::New(env, [dev](const Napi::CallbackInfo& i) {
          return safely(i, [&] {
            dev->allocator.release(reinterpret_cast<void*>(uintptr_t(intArg(i, 0, kOp, "ptr"))));
            return i.Env().Undefined();
          });
        }));
  o.Set("emptyCache", Napi::Function::New(env, [dev](const Napi::CallbackInfo& i) {
          dev->allocator.emptyCache();
          return i.Env().Undefined();
        }));
  o.Set("failNext", Napi::Function::New(env, [dev](const Napi::CallbackInfo& i) {
          return safely(i, [&] {
            dev->backend.failNext = int(intArg(i, 0, kOp, "n"));
            return i.Env().Undefined();
          });
        }));
  o.Set("stats", Napi::Function::New(env, [dev](const Napi::CallbackInfo& i) {
          cuda::DeviceMemoryStats s = dev->allocator.stats();
          Napi::Object r = Napi::Object::New(i.Env());
          r.Set("bytesInUse", double(s.bytesInUse));
          r.Set("bytesReserved", double(s.bytesReserved));
          r.Set("bytesCached", double(s.bytesCached));
          r.Set("backendAllocations", double(s.backendAllocations));
          r.Set("backendReleases", double(s.backendReleases));
          r.Set("cacheFlushes", double(s.cacheFlushes));
          r.Set("backendCalls", double(dev->backend.calls));
          r.Set("backendUsed", double(dev->backend.used()));
          return r;
        }));
  return o;
}

Napi::Value DecodeCudnnVersion(const Napi::CallbackInfo& info) {
  cudnn::Version v = cudnn::decodeVersion(size_t(intArg(info, 0, kOp, "version")));
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("major", v.major);
  o.Set("minor", v.minor);
  o.Set("patch", v.patch);
  o.Set("string", cudnn::versionString(v));
  return o;
}

Napi::Value CudnnStatusName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), cudnn::cudnnStatusName(int(intArg(info, 0, kOp, "code")),
                                                              int(intArg(info, 1, kOp, "major"))));
}

Napi::Value CudnnSymbols(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto toArray = [&](const std::vector<std::string>& v) {
    Napi::Array a = Napi::Array::New(env, v.size());
    for (size_t i = 0; i < v.size(); i++) a.Set(uint32_t(i), v[i]);
    return a;
  };
  Napi::Object o = Napi::Object::New(env);
  o.Set("required", toArray(cudnn::requiredSymbols()));
  o.Set("optional", toArray(cudnn::optionalSymbols()));
  return o;
}

// tryLoadCudnn(path) -> { loaded, version, path, reason, hasLastErrorString }: one uncached load
// attempt as if SCSE_CUDNN_PATH were `path` ('' = unset); the library is closed again.
Napi::Value TryLoadCudnn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  cudnn::LoadResult r = cudnn::tryLoadCudnn(stringArg(info, 0, kOp, "path"));
  Napi::Object o = Napi::Object::New(env);
  o.Set("loaded", r.loaded);
  o.Set("version", r.rawVersion ? Napi::Value(Napi::String::New(env, cudnn::versionString(r.version))) : env.Null());
  o.Set("path", r.path.empty() ? env.Null() : Napi::Value(Napi::String::New(env, r.path)));
  o.Set("reason", r.reason);
  o.Set("hasLastErrorString", r.api.cudnnGetLastErrorString != nullptr);
  cudnn::closeLoad(r);
  return o;
}

Napi::Value DescribeInitFailure(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), cuda::describeInitFailure(int(intArg(info, 0, kOp, "status")),
                                                                 int(intArg(info, 1, kOp, "driverVersion")),
                                                                 int(intArg(info, 2, kOp, "runtimeVersion"))));
}

Napi::Value ArchSupports(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), cuda::archSupports(stringArg(info, 0, kOp, "archs"),
                                                          int(intArg(info, 1, kOp, "major")),
                                                          int(intArg(info, 2, kOp, "minor"))));
}

Napi::Value DescribeArchs(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), cuda::describeArchs(stringArg(info, 0, kOp, "archs")));
}

Napi::Value DescribeNoKernelImage(const Napi::CallbackInfo& info) {
  return Napi::String::New(
      info.Env(), cuda::describeNoKernelImage(stringArg(info, 0, kOp, "archs"), int(intArg(info, 1, kOp, "major")),
                                              int(intArg(info, 2, kOp, "minor")), stringArg(info, 3, kOp, "name"),
                                              stringArg(info, 4, kOp, "probeError")));
}

Napi::Value BuildArchs(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), cuda::buildArchs()); }

Napi::Value RoundDeviceSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(cuda::roundDeviceSize(size_t(intArg(info, 0, kOp, "bytes")))));
}

Napi::Value ErrorText(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), cuda::errorText(int(intArg(info, 0, kOp, "code"))));
}

}  // namespace

void registerCudaTestHooks(Napi::Env env, Napi::Object exports) {
  Napi::Object h = Napi::Object::New(env);
  SCSE_EXPORT(h, "createFakeAllocator", CreateFakeAllocator);
  SCSE_EXPORT(h, "decodeCudnnVersion", DecodeCudnnVersion);
  SCSE_EXPORT(h, "cudnnStatusName", CudnnStatusName);
  SCSE_EXPORT(h, "cudnnSymbols", CudnnSymbols);
  SCSE_EXPORT(h, "tryLoadCudnn", TryLoadCudnn);
  SCSE_EXPORT(h, "describeInitFailure", DescribeInitFailure);
  SCSE_EXPORT(h, "archSupports", ArchSupports);
  SCSE_EXPORT(h, "describeArchs", DescribeArchs);
  SCSE_EXPORT(h, "describeNoKernelImage", DescribeNoKernelImage);
  SCSE_EXPORT(h, "buildArchs", BuildArchs);
  SCSE_EXPORT(h, "roundDeviceSize", RoundDeviceSize);
  SCSE_EXPORT(h, "errorText", ErrorText);
  registerCudaOpHooks(env, h);
  registerCudnnConformanceHooks(env, h);
  exports.Set("cudaTestHooks", h);
}

}  // namespace scse
#endif  // SCSE_HAVE_CUDA
