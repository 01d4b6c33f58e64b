// placeholder until this op family lands
#include "core/registry.h"
namespace scse {
void registerLoss(Napi::Env, Napi::Object) {}
}  // namespace scse
