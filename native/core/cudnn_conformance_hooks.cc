// `cudaTestHooks.cudnnDescriptorProbe(libraryPath, cases)`: loads a cuDNN library with the
// production loader (tryLoadCudnn), builds for each case exactly the descriptors our ops build
// (cuda/cudnn_descriptors.h: no handle, no GPU) and returns what that library answers about them:
// cudnnGetConvolution2dForwardOutputDim and the descriptor getters (cuda/conformance/
// cudnn_getters.h, dlsym'ed from the same handle here, never by the production loader). Run
// against the real libcudnn.so.9 and the CPU stand-in by test/cuda/cudnn_conformance.test.ts.
//
// cases: { kind: 'conv', ...ConvParams fields (cudnn_ops.h) } | { kind: 'bn', N, H, W, C }.
// Probed libraries stay loaded until exit: cuDNN keeps per-process state (see cudnnLoad()).
#ifdef SCSE_HAVE_CUDA
#include <dlfcn.h>

#include <map>
#include <mutex>
#include <string>

#include "core/registry.h"
#include "cuda/conformance/cudnn_getters.h"
#include "cuda/cudnn_descriptors.h"
#include "cuda/cudnn_loader.h"

namespace scse {
namespace {

constexpr const char* kOp = "cudaTestHooks.cudnnDescriptorProbe";

struct Getters {
#define SCSE_GETTER_MEMBER(name) cudnn::getters::name name = nullptr;
  SCSE_CUDNN_GETTERS(SCSE_GETTER_MEMBER)
#undef SCSE_GETTER_MEMBER
};

struct Probed {
  cudnn::LoadResult load;
  Getters get;
  std::string missing;  // getters the library lacks, comma-separated
};

// One load per path for the whole process (see the header comment).
const Probed& probed(const std::string& path) {
  static std::mutex m;
  static std::map<std::string, Probed*> libs;
  std::lock_guard<std::mutex> lock(m);
  Probed*& p = libs[path];
  if (!p) {
    p = new Probed{cudnn::tryLoadCudnn(path), {}, {}};
    if (p->load.loaded) {
#define SCSE_GETTER_RESOLVE(name)                                                                \
  p->get.name = reinterpret_cast<cudnn::getters::name>(dlsym(p->load.handle, #name));           \
  if (!p->get.name) p->missing += std::string(p->missing.empty() ? "" : ", ") + #name;
      SCSE_CUDNN_GETTERS(SCSE_GETTER_RESOLVE)
#undef SCSE_GETTER_RESOLVE
    }
  }
  return *p;
}

int64_t field(Napi::Object o, const char* k, int64_t fallback = -1) {
  Napi::Value v = o.Get(k);
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  if (v.IsNumber()) return int64_t(v.As<Napi::Number>().DoubleValue());
  if (fallback >= 0 && v.IsUndefined()) return fallback;
  fail(kOp, std::string("case field '") + k + "' must be a number");
}

Napi::Array ints(Napi::Env env, std::initializer_list<int> v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  uint32_t i = 0;
  for (int x : v) a.Set(i++, x);
  return a;
}

// A tensor descriptor read back both ways: the 4-d getter (dims n,c,h,w and their strides) and
// the N-d one.
Napi::Object tensorInfo(Napi::Env env, const Getters& g, cudnn::cudnnTensorDescriptor_t d) {
  Napi::Object o = Napi::Object::New(env);
  int dt = -1, n = 0, c = 0, h = 0, w = 0, ns = 0, cs = 0, hs = 0, ws = 0;
  o.Set("status", g.cudnnGetTensor4dDescriptor(d, &dt, &n, &c, &h, &w, &ns, &cs, &hs, &ws));
  o.Set("dataType", dt);
  o.Set("dims", ints(env, {n, c, h, w}));
  o.Set("strides", ints(env, {ns, cs, hs, ws}));
  int ndt = -1, nb = 0, dims[cudnn::CUDNN_DIM_MAX] = {}, strides[cudnn::CUDNN_DIM_MAX] = {};
  Napi::Object nd = Napi::Object::New(env);
  nd.Set("status", g.cudnnGetTensorNdDescriptor(d, cudnn::CUDNN_DIM_MAX, &ndt, &nb, dims, strides));
  nd.Set("dataType", ndt);
  nd.Set("nbDims", nb);
  Napi::Array da = Napi::Array::New(env), sa = Napi::Array::New(env);
  for (int i = 0; i < nb && i < cudnn::CUDNN_DIM_MAX; i++) {
    da.Set(uint32_t(i), dims[i]);
    sa.Set(uint32_t(i), strides[i]);
  }
  nd.Set("dims", da);
  nd.Set("strides", sa);
  o.Set("nd", nd);
  return o;
}

Napi::Object convCase(Napi::Env env, const Probed& lib, Napi::Object c) {
  cuda::ConvParams p;
  p.transposed = field(c, "transposed", 0) != 0;
  p.N = field(c, "N"), p.IC = field(c, "IC"), p.IH = field(c, "IH"), p.IW = field(c, "IW");
  p.OC = field(c, "OC"), p.KH = field(c, "KH"), p.KW = field(c, "KW"), p.OH = field(c, "OH"), p.OW = field(c, "OW");
  p.strideH = field(c, "strideH", 1), p.strideW = field(c, "strideW", 1), p.padH = field(c, "padH", 0);
  p.padW = field(c, "padW", 0), p.dilationH = field(c, "dilationH", 1), p.dilationW = field(c, "dilationW", 1);
  p.allowTf32 = field(c, "allowTf32", 0) != 0;
  const char* op = p.transposed ? "convTranspose2d" : "conv2d";
  const cudnn::Api& a = lib.load.api;
  const Getters& g = lib.get;
  const cuda::cudnn_desc::Equiv e = cuda::cudnn_desc::equivOf(p);

  Napi::Object o = Napi::Object::New(env);
  o.Set("error", env.Null());
  cuda::cudnn_desc::ConvDescriptors d(a, op);
  try {
    cuda::cudnn_desc::setConvDescriptors(d, a, e, op);
  } catch (const std::exception& ex) {
    o.Set("error", ex.what());
    return o;
  }
  int n = 0, ch = 0, h = 0, w = 0;
  Napi::Object out = Napi::Object::New(env);
  out.Set("status", a.cudnnGetConvolution2dForwardOutputDim(d.conv.d, d.in.d, d.w.d, &n, &ch, &h, &w));
  out.Set("dims", ints(env, {n, ch, h, w}));
  o.Set("outputDim", out);
  o.Set("in", tensorInfo(env, g, d.in.d));
  o.Set("out", tensorInfo(env, g, d.out.d));

  int dt = -1, fmt = -1, k = 0, fc = 0, kh = 0, kw = 0;
  Napi::Object f = Napi::Object::New(env);
  f.Set("status", g.cudnnGetFilter4dDescriptor(d.w.d, &dt, &fmt, &k, &fc, &kh, &kw));
  f.Set("dataType", dt);
  f.Set("format", fmt);
  f.Set("dims", ints(env, {k, fc, kh, kw}));
  o.Set("filter", f);

  int ph = 0, pw = 0, u = 0, v = 0, dh = 0, dw = 0, mode = -1, compute = -1;
  Napi::Object cv = Napi::Object::New(env);
  cv.Set("status", g.cudnnGetConvolution2dDescriptor(d.conv.d, &ph, &pw, &u, &v, &dh, &dw, &mode, &compute));
  cv.Set("pad", ints(env, {ph, pw}));
  cv.Set("stride", ints(env, {u, v}));
  cv.Set("dilation", ints(env, {dh, dw}));
  cv.Set("mode", mode);
  cv.Set("computeType", compute);
  int math = -1, groups = 0;
  cv.Set("mathTypeStatus", g.cudnnGetConvolutionMathType(d.conv.d, &math));
  cv.Set("mathType", math);
  cv.Set("groupCountStatus", g.cudnnGetConvolutionGroupCount(d.conv.d, &groups));
  cv.Set("groupCount", groups);
  o.Set("conv", cv);

  // What the op itself concludes from the library's output size.
  try {
    cuda::cudnn_desc::checkConvOutput(d, a, e, op);
  } catch (const std::exception& ex) {
    o.Set("error", ex.what());
  }
  return o;
}

Napi::Object bnCase(Napi::Env env, const Probed& lib, Napi::Object c) {
  cuda::BnDims dims;
  dims.N = field(c, "N"), dims.H = field(c, "H"), dims.W = field(c, "W"), dims.C = field(c, "C");
  Napi::Object o = Napi::Object::New(env);
  o.Set("error", env.Null());
  cuda::cudnn_desc::BnDescriptors d(lib.load.api, "batchNorm");
  try {
    cuda::cudnn_desc::setBnDescriptors(d, lib.load.api, dims, "batchNorm");
  } catch (const std::exception& ex) {
    o.Set("error", ex.what());
    return o;
  }
  o.Set("x", tensorInfo(env, lib.get, d.x.d));
  o.Set("bn", tensorInfo(env, lib.get, d.bn.d));
  return o;
}

// -> { loaded, version, path, reason, results: [...] } (results only when loaded with every getter)
Napi::Value CudnnDescriptorProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = stringArg(info, 0, kOp, "libraryPath");
  if (info.Length() < 2 || !info[1].IsArray()) fail(kOp, "argument 'cases' must be an array");
  Napi::Array cases = info[1].As<Napi::Array>();
  const Probed& lib = probed(path);
  Napi::Object o = Napi::Object::New(env);
  o.Set("loaded", lib.load.loaded);
  o.Set("version", lib.load.rawVersion ? Napi::Value(Napi::String::New(env, cudnn::versionString(lib.load.version))) : env.Null());
  o.Set("path", lib.load.path.empty() ? env.Null() : Napi::Value(Napi::String::New(env, lib.load.path)));
  std::string reason = lib.load.reason;
  if (lib.load.loaded && !lib.missing.empty()) reason = lib.load.path + " lacks the descriptor getters " + lib.missing;
  o.Set("reason", reason);
  if (!reason.empty()) return o;
  Napi::Array results = Napi::Array::New(env, cases.Length());
  for (uint32_t i = 0; i < cases.Length(); i++) {
    if (!cases.Get(i).IsObject()) fail(kOp, "case " + std::to_string(i) + " must be an object");
    Napi::Object c = cases.Get(i).As<Napi::Object>();
    Napi::Value kind = c.Get("kind");
    const std::string k = kind.IsString() ? kind.As<Napi::String>().Utf8Value() : "";
    if (k == "conv") results.Set(i, convCase(env, lib, c));
    else if (k == "bn") results.Set(i, bnCase(env, lib, c));
    else fail(kOp, "case " + std::to_string(i) + ": kind must be 'conv' or 'bn'");
  }
  o.Set("results", results);
  return o;
}

}  // namespace

void registerCudnnConformanceHooks(Napi::Env env, Napi::Object hooks) {
  SCSE_EXPORT(hooks, "cudnnDescriptorProbe", CudnnDescriptorProbe);
}

}  // namespace scse
#endif  // SCSE_HAVE_CUDA
