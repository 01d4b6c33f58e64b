// See dispatch.h.
#include "core/dispatch.h"

#include <cstring>
#include <regex>

#ifdef SCSE_HAVE_CUDA
#include "cuda/context.h"
#endif

namespace scse {
namespace {

[[noreturn]] void mismatch(const char* op, const std::vector<std::pair<std::string, Device>>& seen) {
  std::string msg = "arguments must be on one device:";
  for (size_t i = 0; i < seen.size(); i++) msg += (i ? ", '" : " '") + seen[i].first + "' is on " + seen[i].second.name();
  fail(op, msg);
}

}  // namespace

Device deviceOf(const char* op, std::initializer_list<NamedTensor> args) {
  std::vector<std::pair<std::string, Device>> seen;
  bool differ = false;
  for (const auto& [name, t] : args) {
    if (!t) continue;
    Device d = t->device();
    if (!seen.empty() && d != seen.front().second) differ = true;
    seen.emplace_back(name, d);
  }
  if (differ) mismatch(op, seen);
  return seen.empty() ? Device{} : seen.front().second;
}

Device deviceOf(const char* op, const char* listName, const std::vector<NTensor*>& xs) {
  std::vector<std::pair<std::string, Device>> seen;
  bool differ = false;
  for (size_t k = 0; k < xs.size(); k++) {
    Device d = xs[k]->device();
    if (!seen.empty() && d != seen.front().second) differ = true;
    seen.emplace_back(std::string(listName) + "[" + std::to_string(k) + "]", d);
  }
  if (differ) mismatch(op, seen);
  return seen.empty() ? Device{} : seen.front().second;
}

Device deviceArg(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || info[i].IsUndefined() || info[i].IsNull()) return Device{};
  const std::string s = stringArg(info, i, op, "device");
  if (s == "cpu") return Device{};
  static const std::regex cudaRe("^cuda(?::([0-9]{1,6}))?$");
  std::smatch m;
  if (!std::regex_match(s, m, cudaRe)) {
    fail(op, "argument 'device' must be 'cpu', 'cuda' or 'cuda:N', got '" + s + "'");
  }
  Device d = Device::cuda(m[1].matched ? std::stoi(m[1].str()) : 0);
#ifndef SCSE_HAVE_CUDA
  fail(op, "argument 'device' is " + d.name() + ", but " + noCudaReason());
#endif
  return d;
}

namespace {
void readElement(const NTensor* t, int64_t i, void* out) {
  if (!t->device().isCuda()) {
    std::memcpy(out, static_cast<const char*>(t->raw()) + i * 4, 4);
    return;
  }
#ifdef SCSE_HAVE_CUDA
  cuda::copyToHost(t->device().index, out, static_cast<const char*>(t->devRaw()) + i * 4, 4);
#endif
}
}  // namespace

float elementF32(const NTensor* t, int64_t i) {
  float v = 0;
  readElement(t, i, &v);
  return v;
}

int32_t elementI32(const NTensor* t, int64_t i) {
  int32_t v = 0;
  readElement(t, i, &v);
  return v;
}

}  // namespace scse
