// Native tensor handle: a shape, a dtype and a shared reference to a storage block. Several
// handles may share one storage (reshape, tensors saved for backward); the block returns to the
// allocator's pool when the last handle is disposed or finalized.
#pragma once
#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace scse {

enum class DType : int { F32 = 0, I32 = 1 };
enum class DeviceKind : int { CPU = 0, CUDA = 1 };

const char* dtypeName(DType d);
size_t dtypeSize(DType d);

using Shape = std::vector<int64_t>;
std::string shapeStr(const Shape& s);
int64_t numel(const Shape& s);

struct Storage {
  void* ptr = nullptr;
  size_t bytes = 0;    // requested
  size_t rounded = 0;  // size class held from the pool
  DeviceKind device = DeviceKind::CPU;
  explicit Storage(size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

class NTensor : public Napi::ObjectWrap<NTensor> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::FunctionReference* constructor;
  // Creates a JS handle owning a fresh (uninitialised) storage of the given shape.
  static Napi::Object New(Napi::Env env, const Shape& shape, DType dtype);
  // Creates a JS handle sharing `storage`.
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<Storage> storage, const Shape& shape, DType dtype);
  static size_t liveCount();

  explicit NTensor(const Napi::CallbackInfo& info);
  ~NTensor() override;

  bool disposed() const { return !storage_; }
  const Shape& shape() const { return shape_; }
  DType dtype() const { return dtype_; }
  int64_t numel() const { return scse::numel(shape_); }
  float* f32() const { return static_cast<float*>(storage_->ptr); }
  int32_t* i32() const { return static_cast<int32_t*>(storage_->ptr); }
  void* raw() const { return storage_->ptr; }
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  void release();

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value GetShape(const Napi::CallbackInfo& info);
  Napi::Value GetDType(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value Reshape(const Napi::CallbackInfo& info);
  Napi::Value Share(const Napi::CallbackInfo& info);

  std::shared_ptr<Storage> storage_;
  Shape shape_;
  DType dtype_ = DType::F32;
};

}  // namespace scse
