#include "core/check.h"

#include <cmath>

namespace scse {

Shape shapeArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* arg) {
  Shape s = intsArg(info, i, op, arg);
  // Dimensions are JS numbers: above 2^53 - 1 they are no longer exact (the TS checks say the same).
  constexpr int64_t kMaxSafe = (int64_t(1) << 53) - 1;
  for (size_t k = 0; k < s.size(); k++) {
    if (s[k] < 0 || s[k] > kMaxSafe) {
      fail(op, std::string("argument '") + arg + "' " + shapeStr(s) + ": dimension " + std::to_string(k) +
                   " must be an integer in [0, 2^53 - 1], got " + std::to_string(s[k]));
    }
  }
  return s;
}

std::vector<int64_t> intsArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* arg) {
  if (i >= info.Length() || !info[i].IsArray()) fail(op, std::string("argument '") + arg + "' must be an array of integers");
  Napi::Array a = info[i].As<Napi::Array>();
  std::vector<int64_t> r(a.Length());
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value v = a.Get(k);
    if (!v.IsNumber()) fail(op, std::string("argument '") + arg + "' must be an array of integers");
    double d = v.As<Napi::Number>().DoubleValue();
    if (d != std::floor(d) || !std::isfinite(d)) fail(op, std::string("argument '") + arg + "' must contain integers");
    // int64_t(d) is undefined outside [-2^63, 2^63): refuse such values before converting
    if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) {
      fail(op, std::string("argument '") + arg + "' must contain integers within int64, got " + std::to_string(d));
    }
    r[k] = int64_t(d);
  }
  return r;
}

double numberArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* arg) {
  if (i >= info.Length() || !info[i].IsNumber()) fail(op, std::string("argument '") + arg + "' must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

int64_t intArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* arg) {
  double d = numberArg(info, i, op, arg);
  if (d != std::floor(d) || !std::isfinite(d)) fail(op, std::string("argument '") + arg + "' must be an integer, got " + std::to_string(d));
  return int64_t(d);
}

bool boolArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* arg) {
  if (i >= info.Length() || !info[i].IsBoolean()) fail(op, std::string("argument '") + arg + "' must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

std::string stringArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* arg) {
  if (i >= info.Length() || !info[i].IsString()) fail(op, std::string("argument '") + arg + "' must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

static NTensor* unwrapTensor(Napi::Value v, const char* op, const char* arg, DType dtype) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(NTensor::constructor->Value())) {
    fail(op, std::string("argument '") + arg + "' must be a native tensor");
  }
  NTensor* t = NTensor::Unwrap(v.As<Napi::Object>());
  if (t->disposed()) fail(op, std::string("argument '") + arg + "' has been disposed");
  if (t->dtype() != dtype) {
    fail(op, std::string("argument '") + arg + "' must be " + dtypeName(dtype) + ", got " + dtypeName(t->dtype()));
  }
  return t;
}

NTensor* tensorArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* arg, DType dtype, bool optional) {
  if (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined()) {
    if (optional) return nullptr;
    fail(op, std::string("argument '") + arg + "' is required");
  }
  return unwrapTensor(info[i], op, arg, dtype);
}

NTensor* anyTensorArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* arg) {
  if (i >= info.Length() || !info[i].IsObject() || !info[i].As<Napi::Object>().InstanceOf(NTensor::constructor->Value())) {
    fail(op, std::string("argument '") + arg + "' must be a native tensor");
  }
  NTensor* t = NTensor::Unwrap(info[i].As<Napi::Object>());
  return unwrapTensor(info[i], op, arg, t->dtype());
}

std::vector<NTensor*> tensorListArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* arg, DType dtype) {
  if (i >= info.Length() || !info[i].IsArray()) fail(op, std::string("argument '") + arg + "' must be an array of tensors");
  Napi::Array a = info[i].As<Napi::Array>();
  std::vector<NTensor*> r;
  for (uint32_t k = 0; k < a.Length(); k++) {
    std::string name = std::string(arg) + "[" + std::to_string(k) + "]";
    r.push_back(unwrapTensor(a.Get(k), op, name.c_str(), dtype));
  }
  return r;
}

void expectRank(const NTensor* t, size_t rank, const char* op, const char* arg) {
  if (t->shape().size() != rank) {
    fail(op, std::string("argument '") + arg + "' must have rank " + std::to_string(rank) + ", got shape " + shapeStr(t->shape()));
  }
}

void expectShape(const NTensor* t, const Shape& want, const char* op, const char* arg) {
  if (t->shape() != want) {
    fail(op, std::string("argument '") + arg + "' expected shape " + shapeStr(want) + ", got " + shapeStr(t->shape()));
  }
}

void expectSameShape(const NTensor* a, const NTensor* b, const char* op, const char* argA, const char* argB) {
  if (a->shape() != b->shape()) {
    fail(op, std::string("arguments '") + argA + "' " + shapeStr(a->shape()) + " and '" + argB + "' " +
                 shapeStr(b->shape()) + " must have the same shape");
  }
}

}  // namespace scse
