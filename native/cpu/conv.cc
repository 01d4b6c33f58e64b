// placeholder until this op family lands
#include "core/registry.h"
namespace scse {
void registerConv(Napi::Env, Napi::Object) {}
}  // namespace scse
