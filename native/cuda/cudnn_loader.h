// cuDNN loaded at run time: dlopen(RTLD_NOW | RTLD_LOCAL) of
//   $SCSE_CUDNN_PATH (a file, or a directory holding libcudnn.so.9) — when set, the only candidate,
//   else libcudnn.so.9, then libcudnn.so (the unversioned name exists only with dev packages),
// then dlsym of our subset (cudnn.h) and a version check (major 9). A failure never throws: it
// leaves `loaded` false with a reason naming the library and what was wrong.
// Plain C++ header (no CUDA/cuDNN/napi types) so the addon can include it.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "cuda/cudnn.h"

namespace scse::cudnn {

struct Version {
  int major = 0, minor = 0, patch = 0;
};

struct LoadResult {
  bool loaded = false;
  size_t rawVersion = 0;       // cudnnGetVersion(), 0 when not loaded
  Version version;             // decoded
  size_t cudartVersion = 0;    // cudnnGetCudartVersion(): the CUDA runtime cuDNN was built with
  std::string path;            // the library that was opened (resolved file when known)
  std::string reason;          // empty when loaded
  void* handle = nullptr;      // dlopen handle, kept open when loaded
  Api api;
};

// The process-wide cuDNN, loaded on first call (reads SCSE_CUDNN_PATH once) and cached.
const LoadResult& cudnnLoad();
// The entry points, or nullptr when cuDNN is not usable.
const Api* cudnnApi();

// Uncached load attempt; `explicitPath` plays the role of SCSE_CUDNN_PATH (empty = unset). The
// caller owns result.handle (see closeLoad). Used by cudnnLoad() and by the tests.
LoadResult tryLoadCudnn(const std::string& explicitPath);
void closeLoad(LoadResult& r);

// cudnnGetVersion() decoding: 9.x and later use M*10000 + m*100 + p, 8.x and earlier M*1000 + m*100 + p.
Version decodeVersion(size_t raw);
std::string versionString(const Version& v);

// "CUDNN_STATUS_BAD_PARAM" for a cudnnStatus_t of the given major (8 or 9; codes were renumbered
// in 9). Unknown codes give "CUDNN_STATUS_<code>" (9.x: with the category name when known).
std::string cudnnStatusName(int code, int major);
// Name plus the loaded library's own message (cudnnGetErrorString, and on 9.x the last error
// string), for error reports: "CUDNN_STATUS_BAD_PARAM (2000): ...".
std::string describeStatus(int code);

// The names dlsym'ed, required ones first (for tests that build a fake library).
std::vector<std::string> requiredSymbols();
std::vector<std::string> optionalSymbols();

}  // namespace scse::cudnn
