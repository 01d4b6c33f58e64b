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

// Where a storage lives: the CPU, or CUDA device `index`.
struct Device {
  DeviceKind kind = DeviceKind::CPU;
  int index = 0;
  bool isCuda() const { return kind == DeviceKind::CUDA; }
  bool operator==(const Device& o) const { return kind == o.kind && (kind == DeviceKind::CPU || index == o.index); }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string name() const;  // "cpu" | "cuda:N"
  static Device cuda(int index) { return {DeviceKind::CUDA, index}; }
};

const char* dtypeName(DType d);
size_t dtypeSize(DType d);

using Shape = std::vector<int64_t>;
std::string shapeStr(const Shape& s);
int64_t numel(const Shape& s);  // unchecked: for shapes of existing tensors, already checked
// Element and byte counts of a shape about to back a new storage (or a reshape), computed with
// overflow-checked multiplication: a shape whose count does not fit int64 (or whose bytes do not
// fit size_t) fails with OpError naming `op` and the shape instead of wrapping around to a small
// allocation. A zero dimension makes the count 0 whatever the others are.
int64_t checkedNumel(const Shape& s, const char* op);
size_t checkedBytes(const Shape& s, DType d, const char* op);

// A block of memory from the CPU pool or, for CUDA, from the device's caching allocator
// (native/cuda/context.h); the destructor only returns it to its pool (never a cudaFree, which
// would synchronize the device inside a GC finalizer).
struct Storage {
  void* ptr = nullptr;
  size_t bytes = 0;    // requested
  size_t rounded = 0;  // size class held from the pool
  DeviceKind device = DeviceKind::CPU;
  int deviceIndex = 0;  // CUDA device index when device == CUDA
  bool reported = false;  // counted in V8's external memory (tensor.cc: reportExternal)
  explicit Storage(size_t bytes);
  // CUDA storages need a build with the CUDA backend (else this throws OpError).
  Storage(size_t bytes, Device where);
  ~Storage();
  Device where() const { return {device, deviceIndex}; }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

class NTensor : public Napi::ObjectWrap<NTensor> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::FunctionReference* constructor;
  // Creates a JS handle owning a fresh (uninitialised) storage of the given shape, on `where`.
  // Sizes are checked (checkedBytes) and a failed host allocation is an OpError naming `op`, the
  // shape and the byte count; ops building outputs from their inputs' shapes keep the default.
  static Napi::Object New(Napi::Env env, const Shape& shape, DType dtype, Device where = Device{},
                          const char* op = "new tensor");
  // Creates a JS handle sharing `storage`.
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<Storage> storage, const Shape& shape, DType dtype);
  static size_t liveCount();

  explicit NTensor(const Napi::CallbackInfo& info);
  ~NTensor() override;

  bool disposed() const { return !storage_; }
  const Shape& shape() const { return shape_; }
  DType dtype() const { return dtype_; }
  int64_t numel() const { return scse::numel(shape_); }
  Device device() const { return storage_->where(); }
  // Host pointers, for CPU code: they throw for a CUDA tensor instead of handing a device address
  // to code that would dereference it (ops route CUDA tensors away before they get here).
  float* f32() const { return static_cast<float*>(hostPtr()); }
  int32_t* i32() const { return static_cast<int32_t*>(hostPtr()); }
  void* raw() const { return hostPtr(); }
  // Device pointers, for CUDA launchers: they throw for a CPU tensor.
  float* devF32() const { return static_cast<float*>(devicePtr()); }
  int32_t* devI32() const { return static_cast<int32_t*>(devicePtr()); }
  void* devRaw() const { return devicePtr(); }
  size_t bytes() const { return size_t(numel()) * dtypeSize(dtype_); }
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  void release();
  // GC finalizer (run by Node outside the collection itself): releases the storage and tells V8
  // how many reported bytes the collection gave back.
  void Finalize(Napi::Env env) override;

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value GetShape(const Napi::CallbackInfo& info);
  Napi::Value GetDType(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);
  void* hostPtr() const;
  void* devicePtr() const;
  Napi::Value GetDevice(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value ReadAsync(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value Reshape(const Napi::CallbackInfo& info);
  Napi::Value Share(const Napi::CallbackInfo& info);

  std::shared_ptr<Storage> storage_;
  Shape shape_;
  DType dtype_ = DType::F32;
};

// A JS array of an op's results (ops that return several tensors, or null for an absent one).
inline Napi::Array arrayOf(Napi::Env env, const std::vector<Napi::Value>& xs) {
  Napi::Array r = Napi::Array::New(env, xs.size());
  for (uint32_t i = 0; i < xs.size(); i++) r.Set(i, xs[i]);
  return r;
}

}  // namespace scse
