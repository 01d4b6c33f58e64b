#include "core/tensor.h"

#include <atomic>
#include <cstring>

#include "core/allocator.h"
#include "core/check.h"

namespace scse {

namespace {
std::atomic<size_t> gLive{0};
// Set by JS through the constructor path only: plain `new NativeTensor()` from JS is refused.
thread_local bool gInternalConstruct = false;
}  // namespace

Napi::FunctionReference* NTensor::constructor = nullptr;

const char* dtypeName(DType d) { return d == DType::F32 ? "float32" : "int32"; }
size_t dtypeSize(DType) { return 4; }

std::string shapeStr(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); i++) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

Storage::Storage(size_t b) : bytes(b) { ptr = cpuAlloc(b, &rounded); }
Storage::~Storage() { cpuFree(ptr, rounded); }

Napi::Function NTensor::Init(Napi::Env env) {
  Napi::Function f = DefineClass(env, "NativeTensor",
      {InstanceMethod("dispose", &NTensor::Dispose), InstanceAccessor("shape", &NTensor::GetShape, nullptr),
       InstanceAccessor("dtype", &NTensor::GetDType, nullptr),
       InstanceAccessor("disposed", &NTensor::GetDisposed, nullptr), InstanceMethod("read", &NTensor::Read),
       InstanceMethod("write", &NTensor::Write), InstanceMethod("reshape", &NTensor::Reshape),
       InstanceMethod("share", &NTensor::Share)});
  constructor = new Napi::FunctionReference(Napi::Persistent(f));
  return f;
}

NTensor::NTensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NTensor>(info) {
  if (!gInternalConstruct) {
    throw Napi::TypeError::New(info.Env(), "NativeTensor: use the addon's tensor factories, not `new`");
  }
}

NTensor::~NTensor() { release(); }

void NTensor::release() {
  if (storage_) {
    storage_.reset();
    gLive--;
  }
}

size_t NTensor::liveCount() { return gLive.load(); }

Napi::Object NTensor::Wrap(Napi::Env env, std::shared_ptr<Storage> storage, const Shape& shape, DType dtype) {
  gInternalConstruct = true;
  Napi::Object obj;
  try {
    obj = constructor->New({});
  } catch (...) {
    gInternalConstruct = false;
    throw;
  }
  gInternalConstruct = false;
  NTensor* t = Unwrap(obj);
  t->storage_ = std::move(storage);
  t->shape_ = shape;
  t->dtype_ = dtype;
  gLive++;
  return obj;
}

Napi::Object NTensor::New(Napi::Env env, const Shape& shape, DType dtype) {
  int64_t n = scse::numel(shape);
  auto st = std::make_shared<Storage>(size_t(n > 0 ? n : 1) * dtypeSize(dtype));
  return Wrap(env, std::move(st), shape, dtype);
}

Napi::Value NTensor::Dispose(const Napi::CallbackInfo& info) {
  release();
  return info.Env().Undefined();
}

Napi::Value NTensor::GetShape(const Napi::CallbackInfo& info) {
  Napi::Array a = Napi::Array::New(info.Env(), shape_.size());
  for (size_t i = 0; i < shape_.size(); i++) a.Set(uint32_t(i), Napi::Number::New(info.Env(), double(shape_[i])));
  return a;
}

Napi::Value NTensor::GetDType(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), dtypeName(dtype_)); }
Napi::Value NTensor::GetDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), disposed()); }

// read(): copies the contents into a new Float32Array / Int32Array.
Napi::Value NTensor::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (disposed()) throw Napi::Error::New(env, "read: tensor has been disposed");
  size_t n = size_t(numel());
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, n * 4);
  std::memcpy(buf.Data(), raw(), n * 4);
  if (dtype_ == DType::F32) return Napi::Float32Array::New(env, n, buf, 0);
  return Napi::Int32Array::New(env, n, buf, 0);
}

// write(typedArray): copies a Float32Array / Int32Array of exactly numel elements in.
Napi::Value NTensor::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (disposed()) throw Napi::Error::New(env, "write: tensor has been disposed");
  if (info.Length() < 1 || !info[0].IsTypedArray()) throw Napi::TypeError::New(env, "write: argument 'data' must be a typed array");
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  napi_typedarray_type want = dtype_ == DType::F32 ? napi_float32_array : napi_int32_array;
  if (ta.TypedArrayType() != want) {
    throw Napi::TypeError::New(env, std::string("write: argument 'data' must be a ") +
                                        (dtype_ == DType::F32 ? "Float32Array" : "Int32Array") + " for a " +
                                        dtypeName(dtype_) + " tensor");
  }
  if (int64_t(ta.ElementLength()) != numel()) {
    throw Napi::RangeError::New(env, "write: argument 'data' has " + std::to_string(ta.ElementLength()) +
                                         " elements, tensor of shape " + shapeStr(shape_) + " needs " +
                                         std::to_string(numel()));
  }
  std::memcpy(raw(), static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset(), size_t(numel()) * 4);
  return env.Undefined();
}

// reshape(shape): a new handle on the same storage.
Napi::Value NTensor::Reshape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (disposed()) throw Napi::Error::New(env, "reshape: tensor has been disposed");
  Shape s = shapeArg(info, 0, "reshape", "shape");
  if (scse::numel(s) != numel()) {
    throw Napi::RangeError::New(env, "reshape: argument 'shape' " + shapeStr(s) + " has " +
                                         std::to_string(scse::numel(s)) + " elements, tensor of shape " +
                                         shapeStr(shape_) + " has " + std::to_string(numel()));
  }
  return Wrap(env, storage_, s, dtype_);
}

// share(): a second handle on the same storage and shape (used to keep tensors saved for backward
// alive independently of the user's handle).
Napi::Value NTensor::Share(const Napi::CallbackInfo& info) {
  if (disposed()) throw Napi::Error::New(info.Env(), "share: tensor has been disposed");
  return Wrap(info.Env(), storage_, shape_, dtype_);
}

}  // namespace scse
