// Device routing for the native ops. Every op entry point (native/cpu/*.cc, core/core_ops.cc)
// checks its arguments, asks deviceOf() where its tensors are (one device, or a clear error),
// and when that is a CUDA device hands the checked arguments to its twin in
// native/cuda/dispatch_<family>.cc through SCSE_ON_CUDA, which allocates the outputs on the same
// device and calls the launchers. Without the CUDA backend the macro expands to nothing that
// mentions CUDA, and no CUDA tensor can exist.
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "core/check.h"
#include "core/tensor.h"

namespace scse {

using NamedTensor = std::pair<const char*, const NTensor*>;

// The one device all tensor arguments are on (null entries, absent optional tensors, are
// skipped; no tensors at all means the CPU). Throws OpError "<op>: arguments must be on one
// device: 'x' is on cuda:0, 'w' is on cpu" otherwise.
Device deviceOf(const char* op, std::initializer_list<NamedTensor> args);
// The same for a list argument (names "xs[0]", "xs[1]", ...).
Device deviceOf(const char* op, const char* listName, const std::vector<NTensor*>& xs);

// An optional device argument: absent / undefined = CPU, else "cpu" or "cuda:N" ("cuda" = cuda:0).
Device deviceArg(const Napi::CallbackInfo& info, size_t i, const char* op);

// Reports a content error found by a CUDA launcher: `slot` is the launcher's flag slot (ops.h),
// `pos` the flagged flat index. Supplied by the op's CPU file so both devices throw the same
// message; it must throw.
using BadFn = std::function<void(int slot, int64_t pos)>;

// One element of a tensor on any device (error messages quote offending values; for a CUDA
// tensor this waits for the device's queued work).
float elementF32(const NTensor* t, int64_t i);
int32_t elementI32(const NTensor* t, int64_t i);

// Why this build cannot create CUDA tensors (core/cuda_bridge.cc); only meaningful without
// SCSE_HAVE_CUDA.
std::string noCudaReason();

}  // namespace scse

#ifdef SCSE_HAVE_CUDA
#include "cuda/dispatch.h"
// Returns the CUDA twin's result when `dev` is a CUDA device.
#define SCSE_ON_CUDA(dev, ...)        \
  do {                                \
    if ((dev).isCuda()) return (__VA_ARGS__); \
  } while (0)
#else
#define SCSE_ON_CUDA(dev, ...) ((void)(dev))
#endif
