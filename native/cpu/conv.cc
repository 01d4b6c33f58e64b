// 2-D convolution and transposed convolution (forward, backward data, backward weights + bias) on
// oneDNN 2.6. Activations stay NHWC in the primitive descriptors (format_tag::nhwc, not `any`):
// that selects the brgemm/jit channels-last kernels and needs no activation reorders. Weights are
// `any`: the primitive picks its blocked layout and the user's OHWI (conv) / [inC,kH,kW,outC]
// (transposed) buffer is reordered into it on every call, since the optimizer rewrites weights in
// the public layout each step. Primitive descriptors, primitives and weight reorders are cached by
// geometry, so only the first call of a shape pays for creating them. Backward-data of a stride-1
// convolution runs as a forward convolution with the flipped kernel (see backwardDataAsForward).
// Stride-1, dilation-1 convolutions with enough work take the tiled-Fourier route instead
// (conv_fft.h; chosen per call by useFourier, overridable with convAlgorithm()).
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/dispatch.h"
#include "core/registry.h"
#include "cpu/conv_fft.h"
#include "cpu/conv_patch.h"
#include "cpu/dnnl_ctx.h"
#include "cpu/parallel.h"

namespace scse {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

// One (transposed) convolution in oneDNN's terms: src is the op's input x [N,IH,IW,IC], dst its
// output y [N,OH,OW,OC], weights have logical dims [OC, IC, KH, KW] whatever the user layout.
struct Geom {
  bool transposed = false;
  bool bias = false;
  int64_t N = 0, IC = 0, IH = 0, IW = 0, OC = 0, KH = 0, KW = 0, OH = 0, OW = 0;
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, prh = 0, prw = 0, dh = 1, dw = 1;

  std::string key(char kind) const {
    std::string k(1, kind);
    for (int64_t v : {int64_t(transposed), int64_t(bias), N, IC, IH, IW, OC, KH, KW, OH, OW, sh, sw, ph, pw, prh, prw, dh, dw}) {
      k += ',' + std::to_string(v);
    }
    return k;
  }
  memory::desc src() const { return {{N, IC, IH, IW}, dt::f32, tag::nhwc}; }
  memory::desc dst() const { return {{N, OC, OH, OW}, dt::f32, tag::nhwc}; }
  memory::desc weightsAny() const { return {{OC, IC, KH, KW}, dt::f32, tag::any}; }
  // conv: OHWI = [OC][KH][KW][IC]; transposed: [IC][KH][KW][OC] (PyTorch's [in,out,kh,kw] made channels-last)
  memory::desc weightsUser() const { return {{OC, IC, KH, KW}, dt::f32, transposed ? tag::ihwo : tag::ohwi}; }
  memory::desc biasMd() const { return bias ? memory::desc({OC}, dt::f32, tag::a) : memory::desc(); }
  memory::dims strides() const { return {sh, sw}; }
  memory::dims dilates() const { return {dh - 1, dw - 1}; }  // oneDNN: 0 = dense
  memory::dims padL() const { return {ph, pw}; }
  memory::dims padR() const { return {prh, prw}; }
};

// The primitive families for the two ops: their desc constructors take the same arguments.
struct ConvFamily {
  using Fwd = dnnl::convolution_forward;
  using BwdData = dnnl::convolution_backward_data;
  using BwdWeights = dnnl::convolution_backward_weights;
  static constexpr dnnl::algorithm alg = dnnl::algorithm::convolution_direct;
};
struct DeconvFamily {
  using Fwd = dnnl::deconvolution_forward;
  using BwdData = dnnl::deconvolution_backward_data;
  using BwdWeights = dnnl::deconvolution_backward_weights;
  static constexpr dnnl::algorithm alg = dnnl::algorithm::deconvolution_direct;
};

// A cached primitive with the reorder between the user's weights layout and its own (when they
// differ: user -> primitive for forward/backward-data, primitive -> user for backward-weights).
template <class PD>
struct Entry {
  PD pd;
  dnnl::primitive prim;
  memory::desc wPrim;  // the primitive's weights (or diff weights) layout
  bool needsReorder = false;
  dnnl::reorder reorder;
  memory::desc reorderScratch;
};

struct CacheStats {
  double hits = 0, misses = 0, entries = 0;
};
CacheStats gStats;
constexpr size_t kMaxEntries = 512;  // per map; a run uses a few dozen shapes, this only bounds pathological use

// Primitives run with a user-provided scratchpad: Debian's oneDNN shares one global library
// scratchpad, which would tie every primitive to the thread that created it.
dnnl::primitive_attr userScratchpad() {
  dnnl::primitive_attr a;
  a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return a;
}

// Runs a primitive on the shared stream with a pooled scratchpad buffer, and waits.
void execute(const dnnl::primitive& p, const memory::desc& scratchMd, std::unordered_map<int, memory> args) {
  std::unique_ptr<Storage> scratch;
  if (scratchMd.get_size() > 0) {
    scratch = std::make_unique<Storage>(scratchMd.get_size());
    args.emplace(DNNL_ARG_SCRATCHPAD, memory(scratchMd, cpuEngine(), scratch->ptr));
  }
  p.execute(cpuStream(), args);
  cpuStream().wait();
}

// Entries are shared_ptrs handed out under a lock, so a lookup stays valid even if another
// thread's insertion clears the map.
std::mutex gCacheMutex;

template <class PD, class Make>
std::shared_ptr<Entry<PD>> cached(const std::string& key, Make make) {
  static std::unordered_map<std::string, std::shared_ptr<Entry<PD>>> map;
  std::lock_guard<std::mutex> lock(gCacheMutex);
  auto it = map.find(key);
  if (it != map.end()) {
    gStats.hits++;
    return it->second;
  }
  gStats.misses++;
  if (map.size() >= kMaxEntries) {
    gStats.entries -= double(map.size());
    map.clear();
  }
  auto e = std::make_shared<Entry<PD>>(make());
  gStats.entries++;
  map.emplace(key, e);
  return e;
}

template <class PD>
Entry<PD> makeEntry(PD pd, const memory::desc& wPrim, const memory::desc& wUser, bool toUser) {
  Entry<PD> e;
  e.pd = pd;
  e.prim = dnnl::primitive(pd);
  e.wPrim = wPrim;
  e.needsReorder = wPrim != wUser;
  if (e.needsReorder) {
    auto& eng = cpuEngine();
    dnnl::reorder::primitive_desc rpd = toUser ? dnnl::reorder::primitive_desc(eng, wPrim, eng, wUser, userScratchpad())
                                               : dnnl::reorder::primitive_desc(eng, wUser, eng, wPrim, userScratchpad());
    e.reorder = dnnl::reorder(rpd);
    e.reorderScratch = rpd.scratchpad_desc();
  }
  return e;
}

template <class F>
typename F::Fwd::primitive_desc forwardPd(const Geom& g) {
  typename F::Fwd::desc d(dnnl::prop_kind::forward_training, F::alg, g.src(), g.weightsAny(), g.biasMd(), g.dst(),
                          g.strides(), g.dilates(), g.padL(), g.padR());
  return typename F::Fwd::primitive_desc(d, userScratchpad(), cpuEngine());
}

template <class F>
std::shared_ptr<Entry<typename F::Fwd::primitive_desc>> forwardEntry(const Geom& g) {
  return cached<typename F::Fwd::primitive_desc>(g.key('f'), [&] {
    auto pd = forwardPd<F>(g);
    return makeEntry(pd, pd.weights_desc(), g.weightsUser(), false);
  });
}

template <class F>
std::shared_ptr<Entry<typename F::BwdData::primitive_desc>> backwardDataEntry(const Geom& g) {
  return cached<typename F::BwdData::primitive_desc>(g.key('d'), [&] {
    typename F::BwdData::desc d(F::alg, g.src(), g.weightsAny(), g.dst(), g.strides(), g.dilates(), g.padL(), g.padR());
    typename F::BwdData::primitive_desc pd(d, userScratchpad(), cpuEngine(), forwardPd<F>(g));
    return makeEntry(pd, pd.weights_desc(), g.weightsUser(), false);
  });
}

// Backward-weights stays on NHWC activations: oneDNN 2.6 has no brgconv for it, and measured on
// 4x256x256 5x5 (64->64, 128->64) and 4x128x128 the alternatives were not faster in total:
// `any` activations (jit on nChw16c) + reorders of x and dy were 4-15% slower, 25 sgemms over
// padded copies (per-thread row chunks) between 5% faster and 10% slower.
template <class F>
std::shared_ptr<Entry<typename F::BwdWeights::primitive_desc>> backwardWeightsEntry(const Geom& g) {
  return cached<typename F::BwdWeights::primitive_desc>(g.key('w'), [&] {
    typename F::BwdWeights::desc d(F::alg, g.src(), g.weightsAny(), g.biasMd(), g.dst(), g.strides(), g.dilates(),
                                   g.padL(), g.padR());
    typename F::BwdWeights::primitive_desc pd(d, userScratchpad(), cpuEngine(), forwardPd<F>(g));
    return makeEntry(pd, pd.diff_weights_desc(), g.weightsUser(), true);
  });
}

memory userMem(const memory::desc& md, const void* p) { return memory(md, cpuEngine(), const_cast<void*>(p)); }

// The user's weights in the layout the primitive wants: the buffer itself or a reordered copy
// (kept alive by `keep`).
template <class PD>
memory weightsIn(Entry<PD>& e, const Geom& g, const float* w, std::unique_ptr<Storage>& keep) {
  memory user = userMem(g.weightsUser(), w);
  if (!e.needsReorder) return user;
  keep = std::make_unique<Storage>(e.wPrim.get_size());
  memory m(e.wPrim, cpuEngine(), keep->ptr);
  execute(e.reorder, e.reorderScratch, {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, m}});
  return m;
}

// ---- the Fourier route (conv_fft.h) -------------------------------------------------------------
// convAlgorithm('auto' | 'direct' | 'fourier', chunkTiles?): 'auto' takes the Fourier route
// where its flop estimate wins; the other two force a route wherever it applies (tests compare
// them, benchmarks time them). chunkTiles caps the Fourier route's chunk (0 = automatic).
enum class ConvAlgo { Auto, Direct, Fourier };
std::atomic<ConvAlgo> gAlgo{ConvAlgo::Auto};

bool fourierEligible(const Geom& g) { return !g.transposed && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1; }
FftConvGeom fftGeom(const Geom& g) { return {g.N, g.IH, g.IW, g.IC, g.OC, g.KH, g.KW, g.OH, g.OW, g.ph, g.pw}; }
bool useFourier(const Geom& g) {
  if (!fourierEligible(g)) return false;
  const ConvAlgo a = gAlgo.load();
  return (a == ConvAlgo::Fourier && fftConvFits(fftGeom(g))) || (a == ConvAlgo::Auto && fftConvPreferred(fftGeom(g)));
}

// ---- backward data of a stride-1 convolution as a forward convolution ---------------------------
// oneDNN 2.6 runs a stride-1 NHWC backward-data with its older jit kernel (~290-310 GFLOP/s here)
// while the forward gets brgconv (~340-390). For stride 1, dX is itself a convolution of dY with
// the kernel flipped in space and its in/out channels swapped, padded by (extent - 1 - padding) on
// each side (dX's size comes out exactly IH x IW). Strides > 1 would need zeros inserted into dY,
// and padding beyond the dilated kernel's extent would need negative padding: those stay on
// oneDNN's backward-data.
bool backwardDataAsForward(const Geom& g) {
  if (g.transposed || g.sh != 1 || g.sw != 1) return false;
  const int64_t eh = (g.KH - 1) * g.dh, ew = (g.KW - 1) * g.dw;
  return g.ph <= eh && g.prh <= eh && g.pw <= ew && g.prw <= ew;
}

// The forward convolution dY -> dX: input channels OC, output channels IC, same kernel size and
// dilation, left/right padding swapped into their complements.
Geom flippedGeom(const Geom& g) {
  Geom f;
  f.N = g.N;
  f.IC = g.OC, f.IH = g.OH, f.IW = g.OW;
  f.OC = g.IC, f.OH = g.IH, f.OW = g.IW;
  f.KH = g.KH, f.KW = g.KW;
  f.dh = g.dh, f.dw = g.dw;
  f.ph = (g.KH - 1) * g.dh - g.ph, f.prh = (g.KH - 1) * g.dh - g.prh;
  f.pw = (g.KW - 1) * g.dw - g.pw, f.prw = (g.KW - 1) * g.dw - g.prw;
  return f;
}

// w' [IC][KH][KW][OC] (OHWI of the flipped convolution) from w [OC][KH][KW][IC]:
// w'[i][kh][kw][o] = w[o][KH-1-kh][KW-1-kw][i]. Under a megabyte for U-Net layers: one pass,
// rows of w read contiguously and scattered with stride KH*KW*OC.
void flipSwapWeights(const Geom& g, const float* w, float* out) {
  const int64_t OC = g.OC, IC = g.IC, KH = g.KH, KW = g.KW;
  parallelFor(OC * KH * KW, IC, [&](int64_t r) {
    const int64_t o = r / (KH * KW), kh = (r / KW) % KH, kw = r % KW;
    const float* src = w + r * IC;
    float* dst = out + ((KH - 1 - kh) * KW + (KW - 1 - kw)) * OC + o;
    for (int64_t i = 0; i < IC; i++) dst[i * KH * KW * OC] = src[i];
  });
}

// dx = conv(dy, flipped w) on the cached forward primitive of the flipped geometry (shared with
// a real forward convolution of that geometry, if the model has one).
void backwardDataByForward(const Geom& g, const float* dy, const float* w, float* dx) {
  const Geom f = flippedGeom(g);
  Storage flipped(size_t(g.OC * g.KH * g.KW * g.IC) * sizeof(float));
  flipSwapWeights(g, w, static_cast<float*>(flipped.ptr));
  if (useFourier(f)) {
    fftConvForward(fftGeom(f), dy, static_cast<const float*>(flipped.ptr), nullptr, dx);
    return;
  }
  auto entry = forwardEntry<ConvFamily>(f);
  auto& e = *entry;
  std::unique_ptr<Storage> wBuf;
  execute(e.prim, e.pd.scratchpad_desc(),
          {{DNNL_ARG_SRC, userMem(f.src(), dy)},
           {DNNL_ARG_WEIGHTS, weightsIn(e, f, static_cast<const float*>(flipped.ptr), wBuf)},
           {DNNL_ARG_DST, userMem(f.dst(), dx)}});
}

// ---- argument parsing and checks ---------------------------------------------------------------
struct Params {
  int64_t s[2], p[2], op[2], d[2];
};

void pairArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* arg, int64_t min, int64_t* out) {
  std::vector<int64_t> v = intsArg(info, i, op, arg);
  if (v.size() != 2) fail(op, std::string("argument '") + arg + "' expected 2 integers [h, w], got " + std::to_string(v.size()));
  for (int k = 0; k < 2; k++) {
    if (v[k] < min) fail(op, std::string("argument '") + arg + "' must be >= " + std::to_string(min) + ", got " + shapeStr(v));
    out[k] = v[k];
  }
}

// Reads stride, padding, [outputPadding,] dilation starting at argument i.
Params paramsArg(const Napi::CallbackInfo& info, size_t i, const char* op, bool transposed) {
  Params p{};
  pairArg(info, i, op, "stride", 1, p.s);
  pairArg(info, i + 1, op, "padding", 0, p.p);
  if (transposed) {
    pairArg(info, i + 2, op, "outputPadding", 0, p.op);
  } else {
    p.op[0] = p.op[1] = 0;
  }
  pairArg(info, i + (transposed ? 3 : 2), op, "dilation", 1, p.d);
  if (transposed) {
    for (int k = 0; k < 2; k++) {
      if (p.op[k] >= p.s[k] && p.op[k] >= p.d[k]) {
        fail(op, "argument 'outputPadding' [" + std::to_string(p.op[0]) + ", " + std::to_string(p.op[1]) +
                     "] must be smaller than stride or dilation in each dimension");
      }
    }
  }
  return p;
}

void expectRank4(const Shape& s, const char* op, const char* arg, const char* layout) {
  if (s.size() != 4) fail(op, std::string("argument '") + arg + "' expected rank 4 " + layout + ", got shape " + shapeStr(s));
  for (auto d : s) {
    if (d <= 0) fail(op, std::string("argument '") + arg + "' must have positive sizes, got " + shapeStr(s));
  }
}

// Builds and checks the geometry from x's and w's shapes (bias length is checked by the caller).
Geom makeGeom(const char* op, const Shape& x, const Shape& w, bool bias, const Params& p, bool transposed) {
  expectRank4(x, op, "x", "(NHWC [N, H, W, C])");
  expectRank4(w, op, "w", transposed ? "([inC, kH, kW, outC])" : "(OHWI [outC, kH, kW, inC])");
  Geom g;
  g.transposed = transposed;
  g.bias = bias;
  g.N = x[0];
  g.IH = x[1];
  g.IW = x[2];
  g.IC = x[3];
  g.KH = w[1];
  g.KW = w[2];
  int64_t wIn = transposed ? w[0] : w[3];
  g.OC = transposed ? w[3] : w[0];
  if (wIn != g.IC) {
    fail(op, "argument 'w' " + shapeStr(w) + " expects " + std::to_string(wIn) + " input channels (" +
                 (transposed ? "w[0]" : "w[3]") + ") but 'x' " + shapeStr(x) + " has " + std::to_string(g.IC));
  }
  g.sh = p.s[0];
  g.sw = p.s[1];
  g.ph = p.p[0];
  g.pw = p.p[1];
  g.dh = p.d[0];
  g.dw = p.d[1];
  int64_t rh = g.dh * (g.KH - 1) + 1, rw = g.dw * (g.KW - 1) + 1;  // dilated kernel extent
  if (transposed) {
    g.OH = (g.IH - 1) * g.sh - 2 * g.ph + rh + p.op[0];
    g.OW = (g.IW - 1) * g.sw - 2 * g.pw + rw + p.op[1];
    // The output rows added by outputPadding are not padding of the equivalent convolution:
    // padding_r = padding - outputPadding makes oneDNN's size formula exact.
    g.prh = g.ph - p.op[0];
    g.prw = g.pw - p.op[1];
  } else {
    // PyTorch: floor((H + 2p - d(k-1) - 1) / s) + 1; negative numerators must not round up.
    int64_t nh = g.IH + 2 * g.ph - rh, nw = g.IW + 2 * g.pw - rw;
    g.OH = nh < 0 ? 0 : nh / g.sh + 1;
    g.OW = nw < 0 ? 0 : nw / g.sw + 1;
    g.prh = g.ph;  // oneDNN floors (src - range + pl + pr) / s like PyTorch: symmetric padding works
    g.prw = g.pw;
  }
  if (g.OH <= 0 || g.OW <= 0) {
    fail(op, "output size would be " + std::to_string(g.OH) + "x" + std::to_string(g.OW) + " (not positive) for input " +
                 std::to_string(g.IH) + "x" + std::to_string(g.IW) + ", kernel " + std::to_string(g.KH) + "x" +
                 std::to_string(g.KW) + ", stride [" + std::to_string(g.sh) + ", " + std::to_string(g.sw) + "], padding [" +
                 std::to_string(g.ph) + ", " + std::to_string(g.pw) + "], dilation [" + std::to_string(g.dh) + ", " +
                 std::to_string(g.dw) + "]");
  }
  return g;
}

Shape outShape(const Geom& g) { return {g.N, g.OH, g.OW, g.OC}; }

// A transposed convolution with kernel = stride and nothing else: GEMMs instead of oneDNN (conv_patch.h).
bool isPatch(const Geom& g) {
  return g.transposed && g.KH == g.sh && g.KW == g.sw && g.ph == 0 && g.pw == 0 && g.prh == 0 && g.prw == 0 && g.dh == 1 &&
         g.dw == 1;
}
PatchGeom patchGeom(const Geom& g) { return {g.N, g.IH, g.IW, g.IC, g.OC, g.KH, g.KW}; }

#ifdef SCSE_HAVE_CUDA
// The geometry for cuDNN: symmetric padding, the output size (which implies a transposed
// convolution's outputPadding), dilation 1 = dense.
cuda::ConvParams cudaParams(const Geom& g) {
  cuda::ConvParams p;
  p.transposed = g.transposed;
  p.N = g.N, p.IC = g.IC, p.IH = g.IH, p.IW = g.IW, p.OC = g.OC, p.KH = g.KH, p.KW = g.KW, p.OH = g.OH, p.OW = g.OW;
  p.strideH = g.sh, p.strideW = g.sw, p.padH = g.ph, p.padW = g.pw, p.dilationH = g.dh, p.dilationW = g.dw;
  return p;
}
#endif

void checkBias(const char* op, NTensor* b, const Geom& g) {
  if (b && (b->shape().size() != 1 || b->shape()[0] != g.OC)) {
    fail(op, "argument 'bias' expected shape [" + std::to_string(g.OC) + "] (output channels), got " + shapeStr(b->shape()));
  }
}

void checkDy(const char* op, NTensor* dy, const Geom& g) {
  if (dy->shape() != outShape(g)) {
    fail(op, "argument 'dy' expected shape " + shapeStr(outShape(g)) + " (the output's), got " + shapeStr(dy->shape()));
  }
}

// ---- ops ---------------------------------------------------------------------------------------
// forward(x, w, bias|null, stride, padding, [outputPadding,] dilation) -> y
template <class F>
Napi::Value forward(const Napi::CallbackInfo& info, const char* op, bool transposed) {
  NTensor* x = tensorArg(info, 0, op, "x");
  NTensor* w = tensorArg(info, 1, op, "w");
  NTensor* b = tensorArg(info, 2, op, "bias", DType::F32, true);
  Geom g = makeGeom(op, x->shape(), w->shape(), b != nullptr, paramsArg(info, 3, op, transposed), transposed);
  checkBias(op, b, g);
  SCSE_ON_CUDA(deviceOf(op, {{"x", x}, {"w", w}, {"bias", b}}), cudaops::convForward(info.Env(), cudaParams(g), x, w, b));
  Napi::Object out = NTensor::New(info.Env(), outShape(g), DType::F32);
  float* y = NTensor::Unwrap(out)->f32();
  if (isPatch(g)) {
    patchDeconvForward(patchGeom(g), x->f32(), w->f32(), b ? b->f32() : nullptr, y);
    return out;
  }
  if (useFourier(g)) {
    fftConvForward(fftGeom(g), x->f32(), w->f32(), b ? b->f32() : nullptr, y);
    return out;
  }
  auto entry = forwardEntry<F>(g);
  auto& e = *entry;
  std::unique_ptr<Storage> wBuf;
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, userMem(g.src(), x->f32())},
                                       {DNNL_ARG_WEIGHTS, weightsIn(e, g, w->f32(), wBuf)},
                                       {DNNL_ARG_DST, userMem(g.dst(), y)}};
  if (b) args.emplace(DNNL_ARG_BIAS, userMem(g.biasMd(), b->f32()));
  execute(e.prim, e.pd.scratchpad_desc(), std::move(args));
  return out;
}

// backwardData(dy, w, xShape, stride, padding, [outputPadding,] dilation) -> dx
template <class F>
Napi::Value backwardData(const Napi::CallbackInfo& info, const char* op, bool transposed) {
  NTensor* dy = tensorArg(info, 0, op, "dy");
  NTensor* w = tensorArg(info, 1, op, "w");
  Shape xs = shapeArg(info, 2, op, "xShape");
  Geom g = makeGeom(op, xs, w->shape(), false, paramsArg(info, 3, op, transposed), transposed);
  checkDy(op, dy, g);
  SCSE_ON_CUDA(deviceOf(op, {{"dy", dy}, {"w", w}}), cudaops::convBackwardData(info.Env(), cudaParams(g), dy, w, xs));
  Napi::Object out = NTensor::New(info.Env(), xs, DType::F32);
  if (backwardDataAsForward(g)) {
    backwardDataByForward(g, dy->f32(), w->f32(), NTensor::Unwrap(out)->f32());
    return out;
  }
  auto entry = backwardDataEntry<F>(g);
  auto& e = *entry;
  std::unique_ptr<Storage> wBuf;
  execute(e.prim, e.pd.scratchpad_desc(),
          {{DNNL_ARG_DIFF_DST, userMem(g.dst(), dy->f32())},
           {DNNL_ARG_WEIGHTS, weightsIn(e, g, w->f32(), wBuf)},
           {DNNL_ARG_DIFF_SRC, userMem(g.src(), NTensor::Unwrap(out)->f32())}});
  return out;
}

// backwardWeights(x, dy, wShape, withBias, stride, padding, [outputPadding,] dilation) -> [dw, db?]
template <class F>
Napi::Value backwardWeights(const Napi::CallbackInfo& info, const char* op, bool transposed) {
  NTensor* x = tensorArg(info, 0, op, "x");
  NTensor* dy = tensorArg(info, 1, op, "dy");
  Shape ws = shapeArg(info, 2, op, "wShape");
  bool withBias = boolArg(info, 3, op, "withBias");
  Geom g = makeGeom(op, x->shape(), ws, withBias, paramsArg(info, 4, op, transposed), transposed);
  checkDy(op, dy, g);
  SCSE_ON_CUDA(deviceOf(op, {{"x", x}, {"dy", dy}}),
               cudaops::convBackwardWeights(info.Env(), cudaParams(g), x, dy, ws, withBias));
  // The outputs, whichever route fills them: dw in the user's layout and, with a bias, db [OC].
  Napi::Env env = info.Env();
  Napi::Object dwo = NTensor::New(env, ws, DType::F32);
  Napi::Object dbo = withBias ? NTensor::New(env, {g.OC}, DType::F32) : Napi::Object();
  float* dw = NTensor::Unwrap(dwo)->f32();
  float* db = withBias ? NTensor::Unwrap(dbo)->f32() : nullptr;
  Napi::Array r = withBias ? arrayOf(env, {dwo, dbo}) : arrayOf(env, {dwo});
  if (isPatch(g)) {
    patchDeconvBackwardWeights(patchGeom(g), x->f32(), dy->f32(), dw, db);
    return r;
  }
  if (useFourier(g)) {
    fftConvBackwardWeights(fftGeom(g), x->f32(), dy->f32(), dw, db);
    return r;
  }
  auto entry = backwardWeightsEntry<F>(g);
  auto& e = *entry;
  memory dwUser = userMem(g.weightsUser(), dw);
  std::unique_ptr<Storage> wBuf;
  memory dwPrim = dwUser;
  if (e.needsReorder) {
    wBuf = std::make_unique<Storage>(e.wPrim.get_size());
    dwPrim = memory(e.wPrim, cpuEngine(), wBuf->ptr);
  }
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, userMem(g.src(), x->f32())},
                                       {DNNL_ARG_DIFF_DST, userMem(g.dst(), dy->f32())},
                                       {DNNL_ARG_DIFF_WEIGHTS, dwPrim}};
  if (db) args.emplace(DNNL_ARG_DIFF_BIAS, userMem(g.biasMd(), db));
  execute(e.prim, e.pd.scratchpad_desc(), std::move(args));
  if (e.needsReorder) execute(e.reorder, e.reorderScratch, {{DNNL_ARG_FROM, dwPrim}, {DNNL_ARG_TO, dwUser}});
  return r;
}

Napi::Value Conv2d(const Napi::CallbackInfo& info) { return forward<ConvFamily>(info, "conv2d", false); }
Napi::Value Conv2dBackwardData(const Napi::CallbackInfo& info) {
  return backwardData<ConvFamily>(info, "conv2dBackwardData", false);
}
Napi::Value Conv2dBackwardWeights(const Napi::CallbackInfo& info) {
  return backwardWeights<ConvFamily>(info, "conv2dBackwardWeights", false);
}
Napi::Value ConvTranspose2d(const Napi::CallbackInfo& info) { return forward<DeconvFamily>(info, "convTranspose2d", true); }
Napi::Value ConvTranspose2dBackwardData(const Napi::CallbackInfo& info) {
  return backwardData<DeconvFamily>(info, "convTranspose2dBackwardData", true);
}
Napi::Value ConvTranspose2dBackwardWeights(const Napi::CallbackInfo& info) {
  return backwardWeights<DeconvFamily>(info, "convTranspose2dBackwardWeights", true);
}

Napi::Value ConvAlgorithm(const Napi::CallbackInfo& info) {
  static const char* names[] = {"auto", "direct", "fourier"};
  const std::string prev = names[int(gAlgo.load())];
  ConvAlgo next = gAlgo.load();
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    const std::string m = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : std::string("(not a string)");
    if (m == "auto") next = ConvAlgo::Auto;
    else if (m == "direct") next = ConvAlgo::Direct;
    else if (m == "fourier") next = ConvAlgo::Fourier;
    else fail("convAlgorithm", "argument 'mode' expected 'auto', 'direct' or 'fourier', got '" + m + "'");
  }
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    const double c = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
    // Bounded before the cast: converting Infinity or values beyond int64 is undefined behaviour
    // (on x86 it came out as 0 = automatic, silently accepting Infinity).
    if (!(c >= 0 && c <= 9007199254740991.0) || c != double(int64_t(c))) {
      fail("convAlgorithm", "argument 'chunkTiles' expected a non-negative integer (at most 2^53 - 1), got " +
                                 (info[1].IsNumber() ? info[1].ToString().Utf8Value() : std::string("a non-number")));
    }
    fftConvSetChunkCap(int64_t(c));
  }
  gAlgo = next;
  return Napi::String::New(info.Env(), prev);
}

// convCacheStats() -> {hits, misses, entries}: lets tests and benchmarks see primitive reuse.
Napi::Value ConvCacheStats(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("hits", gStats.hits);
  o.Set("misses", gStats.misses);
  o.Set("entries", gStats.entries);
  return o;
}

}  // namespace

void registerConv(Napi::Env, Napi::Object exports) {
  SCSE_EXPORT(exports, "conv2d", Conv2d);
  SCSE_EXPORT(exports, "conv2dBackwardData", Conv2dBackwardData);
  SCSE_EXPORT(exports, "conv2dBackwardWeights", Conv2dBackwardWeights);
  SCSE_EXPORT(exports, "convTranspose2d", ConvTranspose2d);
  SCSE_EXPORT(exports, "convTranspose2dBackwardData", ConvTranspose2dBackwardData);
  SCSE_EXPORT(exports, "convTranspose2dBackwardWeights", ConvTranspose2dBackwardWeights);
  SCSE_EXPORT(exports, "convCacheStats", ConvCacheStats);
  SCSE_EXPORT(exports, "convAlgorithm", ConvAlgorithm);
}

}  // namespace scse
