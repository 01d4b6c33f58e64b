#include "core/tensor.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "core/allocator.h"
#include "core/check.h"
#include "core/dispatch.h"

#ifdef SCSE_HAVE_CUDA
#include "cuda/context.h"
#endif

namespace scse {

namespace {
std::atomic<size_t> gLive{0};

// V8 does not see native memory: without being told, it would let thousands of unreferenced
// 64 MiB tensors pile up behind their small JS handles before collecting them. So tensors' CPU
// bytes are reported with napi_adjust_external_memory, but only growth beyond the amount already
// reported (the mark), and only frees done by the garbage collector (finalizers) lower it. A
// training step that tidies allocates and frees gigabytes: reporting all that churn made V8 run a
// dozen full collections per step (measured on SD-Net: 97 collections in 8 steps and ~300 extra
// context switches per step, vs 20 and ~5 now). With the mark, a tidy loop reports once, in its
// first step; leaked tensors push the total past the mark, trigger collections, and what the
// collector frees is given back.
std::atomic<int64_t> gLiveBytes{0};    // bytes of live reported storages
std::atomic<int64_t> gReportedMax{0};  // what V8 has been told (the mark)
std::atomic<int64_t> gCollected{0};    // freed by finalizers, not yet given back to V8
thread_local bool gCollecting = false;  // inside NTensor::Finalize

void reportExternal(Napi::Env env, int64_t added) {
  const int64_t live = gLiveBytes += added;
  int64_t mark = gReportedMax.load();
  while (live > mark && !gReportedMax.compare_exchange_weak(mark, live)) {
  }
  if (live > mark) Napi::MemoryManagement::AdjustExternalMemory(env, live - mark);
}

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

int64_t checkedNumel(const Shape& s, const char* op) {
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] < 0) fail(op, "shape " + shapeStr(s) + " has a negative dimension " + std::to_string(i));
  }
  for (auto d : s) {
    if (d == 0) return 0;  // before multiplying: [2^40, 2^40, 0] is an empty tensor, not an overflow
  }
  int64_t n = 1;
  for (auto d : s) {
    if (__builtin_mul_overflow(n, d, &n)) fail(op, "shape " + shapeStr(s) + " has more than 2^63 - 1 elements (the element count overflows int64)");
  }
  return n;
}

size_t checkedBytes(const Shape& s, DType d, const char* op) {
  size_t bytes = 0;
  const int64_t n = checkedNumel(s, op);
  if (__builtin_mul_overflow(size_t(n), dtypeSize(d), &bytes)) {
    fail(op, "shape " + shapeStr(s) + " has " + std::to_string(n) + " elements of " + std::to_string(dtypeSize(d)) +
                 " bytes: the byte count overflows size_t");
  }
  return bytes;
}

std::string Device::name() const { return isCuda() ? "cuda:" + std::to_string(index) : "cpu"; }

Storage::Storage(size_t b) : bytes(b) { ptr = cpuAlloc(b, &rounded); }

Storage::Storage(size_t b, Device where) : bytes(b), device(where.kind), deviceIndex(where.index) {
  if (!where.isCuda()) {
    ptr = cpuAlloc(b, &rounded);
    return;
  }
#ifdef SCSE_HAVE_CUDA
  ptr = cuda::deviceAlloc(where.index, b);  // throws CudaError (device not usable, out of memory)
  rounded = cuda::roundDeviceSize(b);
#else
  throw OpError(where.name() + ": " + noCudaReason());
#endif
}

Storage::~Storage() {
  if (reported) {
    gLiveBytes -= int64_t(rounded);
    if (gCollecting) {
      gReportedMax -= int64_t(rounded);
      gCollected += int64_t(rounded);
    }
  }
  if (device == DeviceKind::CPU) {
    cpuFree(ptr, rounded);
    return;
  }
#ifdef SCSE_HAVE_CUDA
  // Back to the device's pool: stream-ordered reuse makes this safe while kernels that use the
  // block are still queued (cuda/allocator.h). At process exit CUDA may already be gone: the
  // block is then simply dropped.
  try {
    cuda::deviceFree(deviceIndex, ptr);
  } catch (...) {
  }
#endif
}

Napi::Function NTensor::Init(Napi::Env env) {
  Napi::Function f = DefineClass(env, "NativeTensor",
      {InstanceMethod("dispose", &NTensor::Dispose), InstanceAccessor("shape", &NTensor::GetShape, nullptr),
       InstanceAccessor("dtype", &NTensor::GetDType, nullptr),
       InstanceAccessor("disposed", &NTensor::GetDisposed, nullptr),
       InstanceAccessor("device", &NTensor::GetDevice, nullptr), InstanceMethod("read", &NTensor::Read),
       InstanceMethod("readAsync", &NTensor::ReadAsync),
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

void NTensor::Finalize(Napi::Env env) {
  gCollecting = true;
  release();
  gCollecting = false;
  const int64_t freed = gCollected.exchange(0);
  if (freed > 0) Napi::MemoryManagement::AdjustExternalMemory(env, -freed);
}

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

Napi::Object NTensor::New(Napi::Env env, const Shape& shape, DType dtype, Device where, const char* op) {
  const size_t bytes = std::max(checkedBytes(shape, dtype, op), dtypeSize(dtype));  // an empty tensor still gets a block
  const auto cannot = [&](const std::string& why) {
    fail(op, "cannot allocate " + std::to_string(bytes) + " bytes for shape " + shapeStr(shape) + " on " + where.name() + ": " + why);
  };
  // Refused up front rather than left to the OS: with overcommit a huge request can succeed
  // lazily and the process is OOM-killed later, when the pages are touched (fill, conv, ...).
  if (!where.isCuda() && bytes > cpuAllocLimit()) {
    cannot("more than this machine's " + std::to_string(cpuAllocLimit()) + " bytes of physical memory");
  }
  std::shared_ptr<Storage> st;
  try {
    st = std::make_shared<Storage>(bytes, where);
  } catch (const std::bad_alloc&) {
    cannot("out of host memory");
  }
  if (!where.isCuda()) {
    st->reported = true;
    reportExternal(env, int64_t(st->rounded));
  }
  return Wrap(env, std::move(st), shape, dtype);
}

void* NTensor::hostPtr() const {
  if (storage_->device != DeviceKind::CPU) {
    throw OpError("internal error: host access to a tensor on " + device().name() + " (" + shapeStr(shape_) + ")");
  }
  return storage_->ptr;
}

void* NTensor::devicePtr() const {
  if (storage_->device != DeviceKind::CUDA) {
    throw OpError("internal error: device access to a tensor on " + device().name() + " (" + shapeStr(shape_) + ")");
  }
  return storage_->ptr;
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

Napi::Value NTensor::GetDevice(const Napi::CallbackInfo& info) {
  if (disposed()) return info.Env().Null();
  return Napi::String::New(info.Env(), device().name());
}

namespace {
Napi::Value typedView(Napi::Env env, Napi::ArrayBuffer buf, size_t n, DType dtype) {
  if (dtype == DType::F32) return Napi::Float32Array::New(env, n, buf, 0);
  return Napi::Int32Array::New(env, n, buf, 0);
}

#ifdef SCSE_HAVE_CUDA
// readAsync() of a CUDA tensor: the device -> host copy runs on a libuv worker thread, which
// blocks on the copy's CUDA events (cuda::copyToHost) while the event loop keeps running. The
// data are first snapshotted by a device-to-device copy queued on the main thread, so ops queued
// after readAsync() (in-place optimizer steps, writes) cannot change what the promise returns.
class ReadWorker : public Napi::AsyncWorker {
 public:
  ReadWorker(Napi::Env env, const std::shared_ptr<Storage>& src, size_t bytes, size_t n, DType dtype)
      : Napi::AsyncWorker(env, "scse.readAsync"),
        deferred_(Napi::Promise::Deferred::New(env)),
        snapshot_(std::make_unique<Storage>(bytes, src->where())),
        bytes_(bytes),
        n_(n),
        dtype_(dtype) {
    cuda::copyDeviceToDevice(src->deviceIndex, snapshot_->ptr, src->ptr, bytes);
    Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, bytes);
    dst_ = buf.Data();  // stable backing store; no JS code sees it before OnOK
    buffer_ = Napi::Persistent(buf);
  }
  Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      cuda::copyToHost(snapshot_->deviceIndex, dst_, snapshot_->ptr, bytes_);  // cudaSetDevice on this thread
    } catch (const std::exception& e) {
      SetError(std::string("readAsync: ") + e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(typedView(Env(), buffer_.Value(), n_, dtype_)); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::unique_ptr<Storage> snapshot_;  // back to the pool when the worker is deleted (main thread)
  Napi::Reference<Napi::ArrayBuffer> buffer_;
  void* dst_ = nullptr;
  size_t bytes_, n_;
  DType dtype_;
};
#endif
}  // namespace

// read(): copies the contents into a new Float32Array / Int32Array. For a CUDA tensor this waits
// for the device's queued work (tests, small values); readAsync() does not block.
Napi::Value NTensor::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (disposed()) throw Napi::Error::New(env, "read: tensor has been disposed");
  size_t n = size_t(numel());
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, n * 4);
  if (storage_->device == DeviceKind::CPU) {
    std::memcpy(buf.Data(), raw(), n * 4);
  } else {
#ifdef SCSE_HAVE_CUDA
    try {
      cuda::copyToHost(storage_->deviceIndex, buf.Data(), devRaw(), n * 4);
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, std::string("read: ") + e.what());
    }
#endif
  }
  return typedView(env, buf, n, dtype_);
}

// readAsync(): a Promise of the same typed array as read(); for a CUDA tensor it never blocks the
// event loop (see ReadWorker).
Napi::Value NTensor::ReadAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (disposed()) throw Napi::Error::New(env, "readAsync: tensor has been disposed");
  if (storage_->device == DeviceKind::CPU) {
    Napi::Promise::Deferred d = Napi::Promise::Deferred::New(env);
    d.Resolve(Read(info));
    return d.Promise();
  }
#ifdef SCSE_HAVE_CUDA
  ReadWorker* w = nullptr;
  try {
    w = new ReadWorker(env, storage_, bytes(), size_t(numel()), dtype_);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("readAsync: ") + e.what());
  }
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
#else
  return env.Undefined();  // unreachable: no CUDA storage without the CUDA backend
#endif
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
  const void* src = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  if (storage_->device == DeviceKind::CPU) {
    std::memcpy(raw(), src, size_t(numel()) * 4);
  } else {
#ifdef SCSE_HAVE_CUDA
    try {
      cuda::copyToDevice(storage_->deviceIndex, devRaw(), src, size_t(numel()) * 4);  // returns once staged
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, std::string("write: ") + e.what());
    }
#endif
  }
  return env.Undefined();
}

// reshape(shape): a new handle on the same storage.
Napi::Value NTensor::Reshape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (disposed()) throw Napi::Error::New(env, "reshape: tensor has been disposed");
  // An instance method is not behind core/registry.h's guard: argument errors are turned into JS
  // errors here, else an OpError would escape N-API and abort the process.
  Shape s;
  int64_t n = 0;
  try {
    s = shapeArg(info, 0, "reshape", "shape");
    n = checkedNumel(s, "reshape");
  } catch (const OpError& e) {
    throw Napi::RangeError::New(env, e.what());
  }
  if (n != numel()) {
    throw Napi::RangeError::New(env, "reshape: argument 'shape' " + shapeStr(s) + " has " + std::to_string(n) +
                                         " elements, tensor of shape " + shapeStr(shape_) + " has " + std::to_string(numel()));
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
