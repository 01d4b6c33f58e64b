// Module init only: each op family registers its own functions.
#include <napi.h>

#include "core/registry.h"
#include "core/tensor.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeTensor", scse::NTensor::Init(env));
  scse::registerCore(env, exports);
  scse::registerEltwise(env, exports);
  scse::registerConv(env, exports);
  scse::registerNorm(env, exports);
  scse::registerNormAct(env, exports);
  scse::registerNormActSe(env, exports);
  scse::registerPool(env, exports);
  scse::registerLoss(env, exports);
  scse::registerRandom(env, exports);
  scse::registerOptim(env, exports);
  scse::registerLinear(env, exports);
  scse::registerSe(env, exports);
  scse::registerBandwidth(env, exports);
  scse::registerCuda(env, exports);
  return exports;
}

NODE_API_MODULE(scse, Init)
