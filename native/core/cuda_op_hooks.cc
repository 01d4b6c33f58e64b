// `cudaTestHooks.runOp(name, inputs, params, device = 0)`: runs one CUDA launcher (cuda/ops.h,
// cuda/cudnn_ops.h, cuda/se_kernels.h) on host data, for the GPU-vs-CPU parity tests
// (test/gpu/ops.test.ts). Inputs are typed arrays (copied to the device), params numbers, booleans
// or number arrays; the result maps output names to typed arrays copied back, and `bad` to the
// error-flag slots (-1 = fine) for launchers that check tensor contents. Test-only: no argument
// checks beyond presence and type (the launchers expect the caller's checks).
#ifdef SCSE_HAVE_CUDA
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/registry.h"
#include "cuda/context.h"
#include "cuda/cudnn_ops.h"
#include "cuda/device.h"
#include "cuda/ops.h"
#include "cuda/se_kernels.h"

namespace scse {
namespace {

constexpr const char* kOp = "cudaTestHooks.runOp";

class Run {
 public:
  Run(Napi::Env env, Napi::Object inputs, Napi::Object params, int device)
      : env_(env), in_(inputs), par_(params), device_(device) {}

  bool has(const char* k) { return in_.Has(k) && !in_.Get(k).IsNull() && !in_.Get(k).IsUndefined(); }
  int64_t len(const char* k) { return int64_t(typed(k).ElementLength()); }
  const float* f32(const char* k) { return static_cast<const float*>(upload(k, napi_float32_array)); }
  const float* f32opt(const char* k) { return has(k) ? f32(k) : nullptr; }
  const int32_t* i32(const char* k) { return static_cast<const int32_t*>(upload(k, napi_int32_array)); }
  // An input that is also an output (in-place ops), returned under the same name.
  float* inout(const char* k) {
    float* p = const_cast<float*>(f32(k));
    outs_.push_back({k, p, len(k), napi_float32_array});
    return p;
  }
  float* out(const char* k, int64_t n) { return static_cast<float*>(alloc(k, n, napi_float32_array)); }
  int32_t* outI32(const char* k, int64_t n) { return static_cast<int32_t*>(alloc(k, n, napi_int32_array)); }
  int64_t* flags(int slots) {
    flags_ = static_cast<int64_t*>(device(size_t(slots) * 8));
    slots_ = slots;
    return flags_;
  }

  double num(const char* k) {
    Napi::Value v = par_.Get(k);
    if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
    if (!v.IsNumber()) fail(kOp, std::string("param '") + k + "' must be a number");
    return v.As<Napi::Number>().DoubleValue();
  }
  int64_t i(const char* k) { return int64_t(num(k)); }
  bool b(const char* k) { return num(k) != 0; }
  std::vector<int64_t> ints(const char* k) {
    Napi::Value v = par_.Get(k);
    if (!v.IsArray()) fail(kOp, std::string("param '") + k + "' must be an array of numbers");
    Napi::Array a = v.As<Napi::Array>();
    std::vector<int64_t> r(a.Length());
    for (uint32_t j = 0; j < a.Length(); j++) r[j] = int64_t(a.Get(j).As<Napi::Number>().DoubleValue());
    return r;
  }

  int dev() const { return device_; }

  // Copies every output back (waits for the device's stream).
  Napi::Object finish() {
    Napi::Object r = Napi::Object::New(env_);
    for (const Out& o : outs_) {
      if (o.type == napi_int32_array) {
        Napi::Int32Array a = Napi::Int32Array::New(env_, size_t(o.n));
        cuda::copyToHost(device_, a.Data(), o.ptr, size_t(o.n) * 4);
        r.Set(o.name, a);
      } else {
        Napi::Float32Array a = Napi::Float32Array::New(env_, size_t(o.n));
        cuda::copyToHost(device_, a.Data(), o.ptr, size_t(o.n) * 4);
        r.Set(o.name, a);
      }
    }
    if (flags_) {
      std::vector<int64_t> f(static_cast<size_t>(slots_));
      cuda::copyToHost(device_, f.data(), flags_, f.size() * 8);
      Napi::Array a = Napi::Array::New(env_, f.size());
      for (size_t j = 0; j < f.size(); j++) a.Set(uint32_t(j), double(f[j]));
      r.Set("bad", a);
    }
    return r;
  }

 private:
  struct Out {
    std::string name;
    void* ptr;
    int64_t n;
    napi_typedarray_type type;
  };

  Napi::TypedArray typed(const char* k) {
    if (!has(k) || !in_.Get(k).IsTypedArray()) fail(kOp, std::string("input '") + k + "' must be a typed array");
    return in_.Get(k).As<Napi::TypedArray>();
  }
  void* device(size_t bytes) {
    bufs_.push_back(std::make_unique<cuda::DeviceBuffer>(device_, bytes));
    return bufs_.back()->get();
  }
  const void* upload(const char* k, napi_typedarray_type t) {
    Napi::TypedArray a = typed(k);
    if (a.TypedArrayType() != t) {
      fail(kOp, std::string("input '") + k + "' must be a " + (t == napi_int32_array ? "Int32Array" : "Float32Array"));
    }
    const size_t bytes = a.ByteLength();
    void* p = device(bytes);
    cuda::copyToDevice(device_, p, static_cast<const uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset(), bytes);
    return p;
  }
  void* alloc(const char* k, int64_t n, napi_typedarray_type t) {
    void* p = device(size_t(n) * 4);
    outs_.push_back({k, p, n, t});
    return p;
  }

  Napi::Env env_;
  Napi::Object in_, par_;
  int device_;
  std::vector<std::unique_ptr<cuda::DeviceBuffer>> bufs_;
  std::vector<Out> outs_;
  int64_t* flags_ = nullptr;
  int slots_ = 0;
};

cuda::ConvParams convParams(Run& r) {
  cuda::ConvParams p;
  p.transposed = r.b("transposed");
  p.N = r.i("N"), p.IC = r.i("IC"), p.IH = r.i("IH"), p.IW = r.i("IW");
  p.OC = r.i("OC"), p.KH = r.i("KH"), p.KW = r.i("KW"), p.OH = r.i("OH"), p.OW = r.i("OW");
  auto s = r.ints("stride"), pad = r.ints("padding"), d = r.ints("dilation");
  p.strideH = s.at(0), p.strideW = s.at(1), p.padH = pad.at(0), p.padW = pad.at(1), p.dilationH = d.at(0), p.dilationW = d.at(1);
  p.allowTf32 = r.b("allowTf32");
  return p;
}

cuda::SeDeviceArgs seArgs(Run& r) {
  cuda::SeDeviceArgs a{};
  a.mode = int(r.i("mode"));
  a.N = r.i("N"), a.P = r.i("P"), a.C = r.i("C"), a.Cr = r.i("Cr");
  a.x = r.f32("x");
  a.w1 = r.f32opt("w1"), a.b1 = r.f32opt("b1"), a.w2 = r.f32opt("w2"), a.b2 = r.f32opt("b2");
  a.wsq = r.f32opt("wsq"), a.bsq = r.f32opt("bsq");
  return a;
}

using OpFnT = std::function<void(Run&)>;

const std::map<std::string, OpFnT>& ops() {
  using namespace cuda;
  static const std::map<std::string, OpFnT> table = {
      {"fill", [](Run& r) { fillF32(r.dev(), r.out("y", r.i("n")), float(r.num("value")), r.i("n")); }},
      {"relu", [](Run& r) { reluForward(r.dev(), r.f32("x"), r.out("y", r.len("x")), r.len("x")); }},
      {"reluBackward", [](Run& r) { reluBackward(r.dev(), r.f32("x"), r.f32("dy"), r.out("dx", r.len("x")), r.len("x")); }},
      {"sigmoid", [](Run& r) { sigmoidForward(r.dev(), r.f32("x"), r.out("y", r.len("x")), r.len("x")); }},
      {"sigmoidBackward", [](Run& r) { sigmoidBackward(r.dev(), r.f32("y"), r.f32("dy"), r.out("dx", r.len("y")), r.len("y")); }},
      {"affine", [](Run& r) { affineForward(r.dev(), r.f32("x"), float(r.num("a")), float(r.num("b")), r.out("y", r.len("x")), r.len("x")); }},
      {"prelu",
       [](Run& r) {
         const int64_t C = r.i("C");
         preluForward(r.dev(), r.f32("x"), r.f32("slope"), r.len("slope"), r.out("y", r.len("x")), r.len("x") / C, C);
       }},
      {"preluBackward",
       [](Run& r) {
         const int64_t C = r.i("C");
         preluBackward(r.dev(), r.f32("x"), r.f32("slope"), r.len("slope"), r.f32("dy"), r.out("dx", r.len("x")),
                       r.out("dslope", r.len("slope")), r.len("x") / C, C);
       }},
      {"binary",
       [](Run& r) {
         auto as = r.ints("aShape"), bs = r.ints("bShape");
         int64_t n = 1;
         for (int64_t d : broadcastShape(as, bs, "binary")) n *= d;
         binary(r.dev(), int(r.i("kind")), r.f32("a"), as, r.f32("b"), bs, r.out("y", n));
       }},
      {"sumTo",
       [](Run& r) {
         auto ys = r.ints("yShape");
         int64_t n = 1;
         for (int64_t d : ys) n *= d;
         sumTo(r.dev(), r.f32("x"), r.ints("xShape"), r.out("y", n), ys);
       }},
      {"concat",
       [](Run& r) {
         auto w = r.ints("widths");
         std::vector<const float*> xs;
         int64_t total = 0;
         for (size_t k = 0; k < w.size(); k++) xs.push_back(r.f32(("x" + std::to_string(k)).c_str())), total += w[k];
         concatLast(r.dev(), xs.data(), w.data(), int(w.size()), r.i("rows"), r.out("y", r.i("rows") * total));
       }},
      {"split",
       [](Run& r) {
         auto w = r.ints("widths");
         std::vector<float*> ys;
         for (size_t k = 0; k < w.size(); k++) ys.push_back(r.out(("y" + std::to_string(k)).c_str(), r.i("rows") * w[k]));
         splitLast(r.dev(), r.f32("x"), r.i("rows"), w.data(), int(w.size()), ys.data());
       }},
      {"softmax", [](Run& r) { softmaxForward(r.dev(), r.f32("x"), r.out("y", r.len("x")), r.len("x") / r.i("K"), r.i("K")); }},
      {"softmaxBackward",
       [](Run& r) { softmaxBackward(r.dev(), r.f32("y"), r.f32("dy"), r.out("dx", r.len("y")), r.len("y") / r.i("K"), r.i("K")); }},
      {"maxPool2d",
       [](Run& r) {
         const int64_t N = r.i("N"), H = r.i("H"), W = r.i("W"), C = r.i("C"), k = r.i("k"), s = r.i("s");
         const int64_t n = N * ((H - k) / s + 1) * ((W - k) / s + 1) * C;
         maxPool2dForward(r.dev(), r.f32("x"), N, H, W, C, k, s, r.out("y", n), r.outI32("indices", n));
       }},
      {"maxPool2dBackward",
       [](Run& r) {
         const int64_t N = r.i("N"), H = r.i("H"), W = r.i("W"), C = r.i("C");
         maxPool2dBackward(r.dev(), r.f32("dy"), r.i32("indices"), N, H, W, C, r.i("k"), r.i("s"), r.out("dx", N * H * W * C),
                           r.flags(2));
       }},
      {"maxUnpool2d",
       [](Run& r) {
         const int64_t N = r.i("N"), C = r.i("C"), H = r.i("H"), W = r.i("W");
         maxUnpool2dForward(r.dev(), r.f32("x"), r.i32("indices"), N, r.i("h"), r.i("w"), C, H, W, r.out("y", N * H * W * C),
                            r.flags(1));
       }},
      {"maxUnpool2dBackward",
       [](Run& r) {
         const int64_t N = r.i("N"), C = r.i("C"), h = r.i("h"), w = r.i("w");
         maxUnpool2dBackward(r.dev(), r.f32("dy"), r.i32("indices"), N, h, w, C, r.i("H"), r.i("W"), r.out("dx", N * h * w * C),
                             r.flags(1));
       }},
      {"globalAvgPool",
       [](Run& r) { globalAvgPoolForward(r.dev(), r.f32("x"), r.i("N"), r.i("P"), r.i("C"), r.out("y", r.i("N") * r.i("C"))); }},
      {"globalAvgPoolBackward",
       [](Run& r) {
         globalAvgPoolBackward(r.dev(), r.f32("dy"), r.i("N"), r.i("P"), r.i("C"), r.out("dx", r.i("N") * r.i("P") * r.i("C")));
       }},
      {"softmaxCrossEntropy",
       [](Run& r) {
         const int64_t P = r.i("P"), K = r.i("K");
         softmaxCrossEntropyForward(r.dev(), r.f32("logits"), r.i32("labels"), r.f32opt("weights"), P, K, r.out("loss", 1),
                                    r.out("probs", P * K), r.flags(3));
       }},
      {"softmaxCrossEntropyBackward",
       [](Run& r) {
         const int64_t P = r.i("P"), K = r.i("K");
         softmaxCrossEntropyBackward(r.dev(), r.f32("probs"), r.i32("labels"), r.f32opt("weights"), r.f32("dy"), P, K,
                                     r.out("dx", P * K));
       }},
      {"diceLoss",
       [](Run& r) {
         const int64_t P = r.i("P"), K = r.i("K");
         auto c64 = r.ints("classes");
         std::vector<int32_t> cls(c64.begin(), c64.end());
         diceLossForward(r.dev(), r.f32("logits"), r.i32("labels"), P, K, cls.data(), int64_t(cls.size()), r.num("eps"),
                         r.num("smoothNr"), r.out("loss", 1), r.out("probs", P * K), r.out("stats", 3 * K), r.flags(2));
       }},
      {"diceLossBackward",
       [](Run& r) {
         const int64_t P = r.i("P"), K = r.i("K");
         auto c64 = r.ints("classes");
         std::vector<int32_t> cls(c64.begin(), c64.end());
         diceLossBackward(r.dev(), r.f32("probs"), r.i32("labels"), r.f32("stats"), P, K, cls.data(), int64_t(cls.size()),
                          r.num("eps"), r.num("smoothNr"), r.f32("dy"), r.out("dx", P * K), r.flags(1));
       }},
      {"uniform_",
       [](Run& r) {
         uniformFill(r.dev(), r.out("y", r.i("n")), r.i("n"), float(r.num("lo")), float(r.num("hi")), uint32_t(r.i("seed")),
                     uint32_t(r.i("stream")));
       }},
      {"normal_",
       [](Run& r) {
         normalFill(r.dev(), r.out("y", r.i("n")), r.i("n"), float(r.num("mean")), float(r.num("std")), uint32_t(r.i("seed")),
                    uint32_t(r.i("stream")));
       }},
      {"dropoutMask",
       [](Run& r) { dropoutMask(r.dev(), r.out("y", r.i("n")), r.i("n"), r.num("p"), uint32_t(r.i("seed")), uint32_t(r.i("stream"))); }},
      {"sgdStep",
       [](Run& r) {
         math::SgdHyper h{float(r.num("lr")), float(r.num("momentum")), float(r.num("dampening")), float(r.num("weightDecay")),
                          r.b("nesterov"), r.b("firstStep")};
         float* buf = r.has("momentumBuf") ? r.inout("momentumBuf") : nullptr;
         sgdStep(r.dev(), r.inout("param"), r.f32("grad"), buf, r.len("param"), h);
       }},
      {"adamStep",
       [](Run& r) {
         adamStep(r.dev(), r.inout("param"), r.f32("grad"), r.inout("m"), r.inout("v"), r.len("param"), r.num("lr"),
                  r.num("beta1"), r.num("beta2"), r.num("eps"), r.num("weightDecay"), r.i("step"), r.b("decoupled"));
       }},
      {"convForward",
       [](Run& r) {
         cuda::ConvParams p = convParams(r);
         convForward(r.dev(), p, r.f32("x"), r.f32("w"), r.f32opt("bias"), r.out("y", p.N * p.OH * p.OW * p.OC));
       }},
      {"convBackwardData",
       [](Run& r) {
         cuda::ConvParams p = convParams(r);
         convBackwardData(r.dev(), p, r.f32("dy"), r.f32("w"), r.out("dx", p.N * p.IH * p.IW * p.IC));
       }},
      {"convBackwardWeights",
       [](Run& r) {
         cuda::ConvParams p = convParams(r);
         float* db = r.b("withBias") ? r.out("db", p.OC) : nullptr;
         convBackwardWeights(r.dev(), p, r.f32("x"), r.f32("dy"), r.out("dw", p.OC * p.KH * p.KW * p.IC), db);
       }},
      {"batchNormTrain",
       [](Run& r) {
         cuda::BnDims d{r.i("N"), r.i("H"), r.i("W"), r.i("C")};
         float* rm = r.has("runningMean") ? r.inout("runningMean") : nullptr;
         float* rv = r.has("runningVar") ? r.inout("runningVar") : nullptr;
         batchNormTrain(r.dev(), d, r.f32("x"), r.f32("gamma"), r.f32("beta"), rm, rv, r.num("momentum"), r.num("eps"),
                        r.out("y", r.len("x")), r.out("mean", d.C), r.out("var", d.C), r.out("invStd", d.C));
       }},
      {"batchNormInfer",
       [](Run& r) {
         cuda::BnDims d{r.i("N"), r.i("H"), r.i("W"), r.i("C")};
         batchNormInfer(r.dev(), d, r.f32("x"), r.f32("gamma"), r.f32("beta"), r.f32("mean"), r.f32("var"), r.num("eps"),
                        r.out("y", r.len("x")));
       }},
      {"batchNormBackward",
       [](Run& r) {
         cuda::BnDims d{r.i("N"), r.i("H"), r.i("W"), r.i("C")};
         batchNormBackward(r.dev(), d, r.f32("x"), r.f32("mean"), r.f32("var"), r.f32opt("invStd"), r.f32("gamma"), r.f32("dy"),
                           r.num("eps"), r.b("globalStats"), r.out("dx", r.len("x")), r.out("dgamma", d.C), r.out("dbeta", d.C));
       }},
      {"seForward",
       [](Run& r) {
         cuda::SeDeviceArgs a = seArgs(r);
         a.z = r.out("z", a.N * a.C), a.hpre = r.out("hpre", a.N * (a.Cr > 0 ? a.Cr : 1));
         a.s = r.out("s", a.N * a.C), a.q = r.out("q", a.N * a.P);
         cuda::check(seForwardLaunch(a, r.out("y", a.N * a.P * a.C), cuda::deviceStream(r.dev())), "seForward");
       }},
      {"seBackward",
       [](Run& r) {
         cuda::SeDeviceArgs a = seArgs(r);
         a.z = const_cast<float*>(r.f32("z")), a.hpre = const_cast<float*>(r.f32("hpre"));
         a.s = const_cast<float*>(r.f32("s")), a.q = const_cast<float*>(r.f32("q"));
         const bool ch = a.mode != 1, sp = a.mode != 0, bias = a.b1 != nullptr;
         cuda::SeDeviceGrads g{};
         g.dy = r.f32("dy");
         g.dx = r.out("dx", a.N * a.P * a.C);
         g.dw1 = ch ? r.out("dw1", a.Cr * a.C) : nullptr, g.db1 = ch && bias ? r.out("db1", a.Cr) : nullptr;
         g.dw2 = ch ? r.out("dw2", a.C * a.Cr) : nullptr, g.db2 = ch && bias ? r.out("db2", a.C) : nullptr;
         g.dwsq = sp ? r.out("dwsq", a.C) : nullptr, g.dbsq = sp ? r.out("dbsq", 1) : nullptr;
         g.ds = r.out("ds", a.N * a.C), g.dqpre = r.out("dqpre", a.N * a.P);
         cuda::check(seBackwardLaunch(a, g, cuda::deviceStream(r.dev())), "seBackward");
       }},
  };
  return table;
}

// runOp(name, inputs, params, device = 0) -> { <output>: typed array, ..., bad?: number[] }
Napi::Value RunOp(const Napi::CallbackInfo& info) {
  const std::string name = stringArg(info, 0, kOp, "name");
  auto it = ops().find(name);
  if (it == ops().end()) {
    std::string known;
    for (auto& kv : ops()) known += (known.empty() ? "" : ", ") + kv.first;
    fail(kOp, "unknown op '" + name + "' (known: " + known + ")");
  }
  if (info.Length() < 3 || !info[1].IsObject() || !info[2].IsObject()) fail(kOp, "expected (name, inputs, params[, device])");
  const int device = info.Length() > 3 && !info[3].IsUndefined() ? int(intArg(info, 3, kOp, "device")) : 0;
  Run r(info.Env(), info[1].As<Napi::Object>(), info[2].As<Napi::Object>(), device);
  it->second(r);
  return r.finish();
}

// cudnnCacheStats(device = 0) -> { entries, hits, misses }
Napi::Value CudnnCacheStats(const Napi::CallbackInfo& info) {
  const int device = info.Length() > 0 && !info[0].IsUndefined() ? int(intArg(info, 0, kOp, "device")) : 0;
  cuda::CudnnCacheStats s = cuda::cudnnCacheStats(device);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("entries", double(s.entries));
  o.Set("hits", double(s.hits));
  o.Set("misses", double(s.misses));
  return o;
}

}  // namespace

void registerCudaOpHooks(Napi::Env, Napi::Object hooks) {
  SCSE_EXPORT(hooks, "runOp", RunOp);
  SCSE_EXPORT(hooks, "cudnnCacheStats", CudnnCacheStats);
}

}  // namespace scse
#endif  // SCSE_HAVE_CUDA
