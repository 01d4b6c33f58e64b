// cuDNN loader: see cudnn_loader.h. Only the shim library (libcudnn.so.9) is opened; it loads
// its sub-libraries (ops, cnn, graph, engines) itself from its own directory or the loader path.
#include "cuda/cudnn_loader.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cstdlib>
#include <mutex>

#include "cuda/cudnn_status_names.h"

namespace scse::cudnn {
namespace {

constexpr const char* kLibName = "libcudnn.so.9";

std::string dlerrorText() {
  const char* e = dlerror();
  return e ? e : "unknown dlopen error";
}

bool isDirectory(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The file a dlopen handle came from (the symlink target is not resolved: the name the user knows).
std::string libraryPath(void* symbol, const std::string& fallback) {
  Dl_info info{};
  if (symbol && dladdr(symbol, &info) && info.dli_fname && info.dli_fname[0]) return info.dli_fname;
  return fallback;
}

using NamedCode = NamedStatus;
constexpr const auto& kV9 = kCudnn9Statuses;

constexpr NamedCode kV8[] = {
    {0, "CUDNN_STATUS_SUCCESS"},
    {1, "CUDNN_STATUS_NOT_INITIALIZED"},
    {2, "CUDNN_STATUS_ALLOC_FAILED"},
    {3, "CUDNN_STATUS_BAD_PARAM"},
    {4, "CUDNN_STATUS_INTERNAL_ERROR"},
    {5, "CUDNN_STATUS_INVALID_VALUE"},
    {6, "CUDNN_STATUS_ARCH_MISMATCH"},
    {7, "CUDNN_STATUS_MAPPING_ERROR"},
    {8, "CUDNN_STATUS_EXECUTION_FAILED"},
    {9, "CUDNN_STATUS_NOT_SUPPORTED"},
    {10, "CUDNN_STATUS_LICENSE_ERROR"},
    {11, "CUDNN_STATUS_RUNTIME_PREREQUISITE_MISSING"},
    {12, "CUDNN_STATUS_RUNTIME_IN_PROGRESS"},
    {13, "CUDNN_STATUS_RUNTIME_FP_OVERFLOW"},
    {14, "CUDNN_STATUS_VERSION_MISMATCH"},
};

template <size_t N>
const char* lookup(const NamedCode (&table)[N], int code) {
  for (const auto& e : table)
    if (e.code == code) return e.name;
  return nullptr;
}

// Opens one candidate and fills `r` (loaded or a reason naming the library).
bool openCandidate(const std::string& name, LoadResult& r, std::string* openError) {
  dlerror();
  void* h = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    *openError = dlerrorText();
    return false;
  }
  r.handle = h;
  auto getVersion = reinterpret_cast<fn::cudnnGetVersion>(dlsym(h, "cudnnGetVersion"));
  r.path = libraryPath(reinterpret_cast<void*>(getVersion), name);
  if (!getVersion) {
    r.reason = "the library at " + r.path + " does not export cudnnGetVersion: not a cuDNN library";
    return true;
  }
  r.rawVersion = getVersion();
  r.version = decodeVersion(r.rawVersion);
  if (r.version.major != 9) {
    r.reason = "cuDNN " + versionString(r.version) + " found at " + r.path + "; scse needs cuDNN 9";
    return true;
  }
  Api api;
#define SCSE_CUDNN_RESOLVE(name)                                                                          \
  dlerror();                                                                                              \
  api.name = reinterpret_cast<fn::name>(dlsym(h, #name));                                                 \
  if (!api.name) {                                                                                        \
    r.reason = "cuDNN " + versionString(r.version) + " at " + r.path + " lacks the symbol " #name " (" + \
               dlerrorText() + ")";                                                                       \
    return true;                                                                                          \
  }
  SCSE_CUDNN_REQUIRED(SCSE_CUDNN_RESOLVE)
#undef SCSE_CUDNN_RESOLVE
#define SCSE_CUDNN_RESOLVE_OPTIONAL(name) api.name = reinterpret_cast<fn::name>(dlsym(h, #name));
  SCSE_CUDNN_OPTIONAL(SCSE_CUDNN_RESOLVE_OPTIONAL)
#undef SCSE_CUDNN_RESOLVE_OPTIONAL
  dlerror();
  r.api = api;
  r.cudartVersion = api.cudnnGetCudartVersion();
  r.loaded = true;
  return true;
}

}  // namespace

Version decodeVersion(size_t raw) {
  Version v;
  if (raw >= 10000) {  // 9.x: 90100 = 9.1.0, 91002 = 9.10.2
    v.major = int(raw / 10000);
    v.minor = int(raw / 100 % 100);
  } else {  // 8.x and earlier: 8907 = 8.9.7
    v.major = int(raw / 1000);
    v.minor = int(raw / 100 % 10);
  }
  v.patch = int(raw % 100);
  return v;
}

std::string versionString(const Version& v) {
  return std::to_string(v.major) + "." + std::to_string(v.minor) + "." + std::to_string(v.patch);
}

std::string cudnnStatusName(int code, int major) {
  if (major >= 9) {
    if (const char* n = lookup(kV9, code)) return n;
    // 9.x codes are category*1000 + detail: name the category of codes newer than our table.
    const char* category = code >= 2000 && code < 6000 ? lookup(kV9, code / 1000 * 1000) : nullptr;
    if (category) return std::string(category) + "_" + std::to_string(code % 1000) + " (" + std::to_string(code) + ")";
  } else {
    if (const char* n = lookup(kV8, code)) return n;
  }
  return "CUDNN_STATUS_" + std::to_string(code);
}

std::string describeStatus(int code) {
  const LoadResult& r = cudnnLoad();
  int major = r.loaded ? r.version.major : 9;
  std::string s = cudnnStatusName(code, major);
  if (s.find('(') == std::string::npos) s += " (" + std::to_string(code) + ")";
  if (r.loaded) {
    if (const char* text = r.api.cudnnGetErrorString(code); text && *text && s.find(text) == std::string::npos) {
      s += ": ";
      s += text;
    }
    if (r.api.cudnnGetLastErrorString) {
      char buf[512] = {0};
      r.api.cudnnGetLastErrorString(buf, sizeof buf);
      if (buf[0]) {
        s += " [";
        s += buf;
        s += "]";
      }
    }
  }
  return s;
}

#ifdef SCSE_CUDA_EMU
// `file` in the directory of the binary this code is linked into (scse.node), or "".
static std::string besideThisLibrary(const char* file) {
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(&tryLoadCudnn), &info) || !info.dli_fname) return "";
  std::string self = info.dli_fname;
  const size_t slash = self.rfind('/');
  return slash == std::string::npos ? "" : self.substr(0, slash + 1) + file;
}
#endif

LoadResult tryLoadCudnn(const std::string& explicitPath) {
  LoadResult r;
  std::string err;
  if (!explicitPath.empty()) {
    // An explicit choice is the only candidate: silently loading another cuDNN would hide the mistake.
    std::string file = isDirectory(explicitPath) ? explicitPath + "/" + kLibName : explicitPath;
    if (!openCandidate(file, r, &err))
      r.reason = "cuDNN could not be loaded from SCSE_CUDNN_PATH=" + explicitPath +
                 (file != explicitPath ? " (" + file + ")" : "") + ": " + err;
    return r;
  }
  std::string tried;
#ifdef SCSE_CUDA_EMU
  // The emulated build's cuDNN is the project's CPU stand-in, built beside the addon (never the
  // real library: it cannot run without a device).
  if (std::string standIn = besideThisLibrary("libscse_cudnn_emu.so"); !standIn.empty()) {
    if (openCandidate(standIn, r, &err)) return r;
    tried = err;
  }
#endif
  for (const char* name : {kLibName, "libcudnn.so"}) {
    if (openCandidate(name, r, &err)) return r;
    tried += std::string(tried.empty() ? "" : "; ") + err;
  }
  r.reason = "cuDNN 9 was not found (" + tried +
             "); install cuDNN 9 for CUDA 13 or set SCSE_CUDNN_PATH to libcudnn.so.9 or its directory";
  return r;
}

void closeLoad(LoadResult& r) {
  if (r.handle) dlclose(r.handle);
  r.handle = nullptr;
  r.api = Api{};
  r.loaded = false;
}

const LoadResult& cudnnLoad() {
  // Loaded once and never unloaded: cuDNN keeps per-process state, and unloading it while
  // handles exist would leave dangling code pointers.
  static std::once_flag once;
  static LoadResult* result = nullptr;
  std::call_once(once, [] {
    const char* env = std::getenv("SCSE_CUDNN_PATH");
    result = new LoadResult(tryLoadCudnn(env ? env : ""));
    // A library that opened but failed the checks is not kept.
    if (!result->loaded && result->handle) {
      dlclose(result->handle);
      result->handle = nullptr;
    }
  });
  return *result;
}

const Api* cudnnApi() {
  const LoadResult& r = cudnnLoad();
  return r.loaded ? &r.api : nullptr;
}

std::vector<std::string> requiredSymbols() {
  std::vector<std::string> v;
#define SCSE_CUDNN_NAME(name) v.push_back(#name);
  SCSE_CUDNN_REQUIRED(SCSE_CUDNN_NAME)
  return v;
}

std::vector<std::string> optionalSymbols() {
  std::vector<std::string> v;
  SCSE_CUDNN_OPTIONAL(SCSE_CUDNN_NAME)
#undef SCSE_CUDNN_NAME
  return v;
}

}  // namespace scse::cudnn
