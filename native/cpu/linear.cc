// placeholder until this op family lands
#include "core/registry.h"
namespace scse {
void registerLinear(Napi::Env, Napi::Object) {}
}  // namespace scse
