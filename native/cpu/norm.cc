// placeholder until this op family lands
#include "core/registry.h"
namespace scse {
void registerNorm(Napi::Env, Napi::Object) {}
}  // namespace scse
