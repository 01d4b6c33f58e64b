// Helpers of the CUDA twins (native/cuda/dispatch_*.cc only): outputs are allocated as storages
// on the device and wrapped as JS handles only once every launch and check has passed, so a call
// that throws leaves no live tensor behind (as the CPU ops).
#pragma once
#include <napi.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "cuda/context.h"

namespace scse::cudaops::detail {

// The CUDA device index of a tensor (its twin only runs for CUDA tensors).
inline int dev(const NTensor* t) { return t->device().index; }

inline const float* optF32(const NTensor* t) { return t ? t->devF32() : nullptr; }

// An output under construction: device storage of a shape and dtype, wrapped by handle().
class Out {
 public:
  Out(Device where, Shape shape, DType dtype = DType::F32)
      : shape_(std::move(shape)),
        dtype_(dtype),
        st_(std::make_shared<Storage>(size_t(std::max<int64_t>(numel(shape_), 1)) * dtypeSize(dtype), where)) {}
  float* f32() const { return static_cast<float*>(st_->ptr); }
  int32_t* i32() const { return static_cast<int32_t*>(st_->ptr); }
  Napi::Object handle(Napi::Env env) const { return NTensor::Wrap(env, st_, shape_, dtype_); }

 private:
  Shape shape_;
  DType dtype_;
  std::shared_ptr<Storage> st_;
};

// A launcher's error-flag slots (device int64, -1 = fine; the launcher resets them). check()
// copies them back (waiting for the device's queued work) and reports the first set slot.
class Flags {
 public:
  Flags(int device, int slots) : device_(device), slots_(slots), buf_(device, size_t(slots) * sizeof(int64_t)) {}
  int64_t* get() const { return static_cast<int64_t*>(buf_.get()); }
  void check(const BadFn& bad) const {
    std::vector<int64_t> v(size_t(slots_), -1);
    cuda::copyToHost(device_, v.data(), buf_.get(), v.size() * sizeof(int64_t));
    for (int k = 0; k < slots_; k++) {
      if (v[size_t(k)] >= 0) bad(k, v[size_t(k)]);  // throws
    }
  }

 private:
  int device_;
  int slots_;
  cuda::DeviceBuffer buf_;
};

}  // namespace scse::cudaops::detail
