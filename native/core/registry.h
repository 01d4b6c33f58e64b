// Export helpers: each op family registers its functions through `exportOp`, which converts any
// C++ exception (argument errors, oneDNN statuses, bad_alloc) into a JS Error.
#pragma once
#include <napi.h>

#include <new>
#include <oneapi/dnnl/dnnl.hpp>

#include "core/check.h"

namespace scse {

using OpFn = Napi::Value (*)(const Napi::CallbackInfo&);

template <OpFn F>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const OpError& e) {
    throw Napi::Error::New(info.Env(), e.what());
  } catch (const dnnl::error& e) {
    throw Napi::Error::New(info.Env(), std::string("oneDNN error (status ") + std::to_string(int(e.status)) + "): " + e.what());
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), "out of host memory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

#define SCSE_EXPORT(exports, name, fn) \
  (exports).Set(name, Napi::Function::New((exports).Env(), ::scse::guarded<fn>, name))

// Each op family defines one of these (native/cpu/*.cc) and addon.cc calls them all.
void registerCore(Napi::Env env, Napi::Object exports);
void registerEltwise(Napi::Env env, Napi::Object exports);
void registerConv(Napi::Env env, Napi::Object exports);
void registerNorm(Napi::Env env, Napi::Object exports);
void registerNormAct(Napi::Env env, Napi::Object exports);
void registerNormActSe(Napi::Env env, Napi::Object exports);
void registerPool(Napi::Env env, Napi::Object exports);
void registerLoss(Napi::Env env, Napi::Object exports);
void registerRandom(Napi::Env env, Napi::Object exports);
void registerOptim(Napi::Env env, Napi::Object exports);
void registerLinear(Napi::Env env, Napi::Object exports);
void registerSe(Napi::Env env, Napi::Object exports);
void registerBandwidth(Napi::Env env, Napi::Object exports);
void registerCuda(Napi::Env env, Napi::Object exports);  // core/cuda_bridge.cc (stubs without CUDA)

}  // namespace scse
