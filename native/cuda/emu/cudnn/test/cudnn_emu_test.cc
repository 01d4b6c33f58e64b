// Conformance test of the cuDNN stand-in (native/cuda/emu/cudnn): dlopens the library given as
// argv[1], resolves the symbols the loader resolves (cuda/cudnn.h) plus the descriptor getters,
// and checks every op against naive float64 loops written here from the definitions (direct
// nested loops over logical NCHW indices, independent of the library's packing and loop order),
// plus finite differences for batch norm's backward and the adjoint identity for the
// convolution's data gradient. Prints one line per check and "N passed, M failed"; exits 1 on
// any failure.
//
//   g++ -std=c++17 -O2 -I native native/cuda/emu/cudnn/test/cudnn_emu_test.cc -ldl -o t && ./t lib.so
#include <dlfcn.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "cuda/cudnn.h"

using namespace scse::cudnn;


#include "cuda/emu/stream_abi.h"

// A stand-in for an emulated CUDA stream: counts the drains the library asks for.
static int gFakeSyncs = 0;
static CuemuStreamAbi gFakeStream{CUEMU_STREAM_MAGIC, [](void*) { return ++gFakeSyncs, 0; }};

namespace {

// ---- the library under test ------------------------------------------------------------------
using GetTensor4d = int (*)(cudnnTensorDescriptor_t, int*, int*, int*, int*, int*, int*, int*, int*, int*);
using GetTensorNd = int (*)(cudnnTensorDescriptor_t, int, int*, int*, int*, int*);
using GetFilter4d = int (*)(cudnnFilterDescriptor_t, int*, int*, int*, int*, int*, int*);
using GetConv2d = int (*)(cudnnConvolutionDescriptor_t, int*, int*, int*, int*, int*, int*, int*, int*);
using GetConvInt = int (*)(cudnnConvolutionDescriptor_t, int*);
using GetPool2d = int (*)(cudnnPoolingDescriptor_t, int*, int*, int*, int*, int*, int*, int*, int*);
using GetAct = int (*)(cudnnActivationDescriptor_t, int*, int*, double*);

Api api;
struct Getters {
  GetTensor4d tensor4d = nullptr;
  GetTensorNd tensorNd = nullptr;
  GetFilter4d filter4d = nullptr;
  GetConv2d conv2d = nullptr;
  GetConvInt mathType = nullptr, groupCount = nullptr;
  GetPool2d pool2d = nullptr;
  GetAct act = nullptr;
} get;
cudnnHandle_t handle = nullptr;

int passed = 0, failed = 0;

void check(bool ok, const std::string& name, const std::string& detail = "") {
  if (ok) {
    passed++;
    std::printf("PASS %s\n", name.c_str());
  } else {
    failed++;
    std::printf("FAIL %s%s%s\n", name.c_str(), detail.empty() ? "" : ": ", detail.c_str());
  }
}

std::string lastError() {
  char buf[1024] = {0};
  if (api.cudnnGetLastErrorString) api.cudnnGetLastErrorString(buf, sizeof buf);
  return buf;
}

// A failing call must give `want` and a message naming the function and `mention`.
void checkFails(int got, int want, const char* fnName, const char* mention, const std::string& name) {
  const std::string msg = lastError();
  const bool ok = got == want && msg.find(fnName) != std::string::npos && msg.find(mention) != std::string::npos;
  check(ok, name, "status " + std::to_string(got) + " (want " + std::to_string(want) + "), message \"" + msg + "\"");
}

// A run's check: the call's status, then the comparison. `detail` is bound by reference, so it is
// read after the comparison (in the argument list) has filled it.
void checkRun(int status, bool ok, const std::string& name, const std::string& detail) {
  check(status == 0 && ok, name, status ? "status " + std::to_string(status) + ": " + lastError() : detail);
}

void checkOk(int got, const std::string& what) {
  if (got != 0) check(false, what, "status " + std::to_string(got) + ": " + lastError());
}

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 2654435761u + 1) {}
  float next() {  // uniform in [-1, 1), exactly representable
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return float(int32_t(s >> 40) - (1 << 23)) / float(1 << 23);
  }
};

const float kSentinel = 12345.0f;  // fills the gaps of strided tensors: must never change

// ---- strided 4-d tensors with logical NCHW indexing --------------------------------------------
enum Fmt { kNCHW, kNHWC, kStrided };
const char* fmtName(Fmt f) { return f == kNCHW ? "NCHW" : f == kNHWC ? "NHWC" : "strided"; }

struct Tensor {
  int N = 0, C = 0, H = 0, W = 0;
  int64_t sn = 0, sc = 0, sh = 0, sw = 0;
  Fmt fmt = kNCHW;
  std::vector<float> data;
  cudnnTensorDescriptor_t d = nullptr;

  float& at(int n, int c, int h, int w) { return data[size_t(n * sn + c * sc + h * sh + w * sw)]; }
  float at(int n, int c, int h, int w) const { return data[size_t(n * sn + c * sc + h * sh + w * sw)]; }
  size_t count() const { return size_t(N) * C * H * W; }
  size_t li(int n, int c, int h, int w) const { return ((size_t(n) * C + c) * H + h) * W + w; }  // logical index

  Tensor() = default;
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;
  ~Tensor() {
    if (d) api.cudnnDestroyTensorDescriptor(d);
  }
};

// Strided: NCHW order with gaps (w stride 2, padded rows, planes and images).
void makeTensor(Tensor& t, int N, int C, int H, int W, Fmt fmt, Rng* rng) {
  t.N = N, t.C = C, t.H = H, t.W = W, t.fmt = fmt;
  if (fmt == kNCHW) {
    t.sw = 1, t.sh = W, t.sc = int64_t(H) * W, t.sn = int64_t(C) * H * W;
  } else if (fmt == kNHWC) {
    t.sc = 1, t.sw = C, t.sh = int64_t(W) * C, t.sn = int64_t(H) * W * C;
  } else {
    t.sw = 2, t.sh = 2 * W + 1, t.sc = t.sh * H + 5, t.sn = t.sc * C + 7;
  }
  const int64_t span = (N - 1) * t.sn + (C - 1) * t.sc + (H - 1) * t.sh + (W - 1) * t.sw + 1;
  t.data.assign(size_t(span), kSentinel);
  for (int n = 0; n < N; n++)
    for (int c = 0; c < C; c++)
      for (int h = 0; h < H; h++)
        for (int w = 0; w < W; w++) t.at(n, c, h, w) = rng ? rng->next() : 0.0f;
  api.cudnnCreateTensorDescriptor(&t.d);
  if (fmt == kStrided) {
    const int dims[4] = {N, C, H, W}, strides[4] = {int(t.sn), int(t.sc), int(t.sh), int(t.sw)};
    checkOk(api.cudnnSetTensorNdDescriptor(t.d, CUDNN_DATA_FLOAT, 4, dims, strides), "set strided descriptor");
  } else {
    checkOk(api.cudnnSetTensor4dDescriptor(t.d, fmt == kNCHW ? CUDNN_TENSOR_NCHW : CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT,
                                           N, C, H, W),
            "set 4d descriptor");
  }
}

std::vector<double> logical(const Tensor& t) {
  std::vector<double> v(t.count());
  for (int n = 0; n < t.N; n++)
    for (int c = 0; c < t.C; c++)
      for (int h = 0; h < t.H; h++)
        for (int w = 0; w < t.W; w++) v[t.li(n, c, h, w)] = t.at(n, c, h, w);
  return v;
}

bool gapsIntact(const Tensor& t) {
  if (t.fmt != kStrided) return true;
  std::vector<char> used(t.data.size(), 0);
  for (int n = 0; n < t.N; n++)
    for (int c = 0; c < t.C; c++)
      for (int h = 0; h < t.H; h++)
        for (int w = 0; w < t.W; w++) used[size_t(n * t.sn + c * t.sc + h * t.sh + w * t.sw)] = 1;
  for (size_t i = 0; i < t.data.size(); i++)
    if (!used[i] && t.data[i] != kSentinel) return false;
  return true;
}

// |got - (alpha*ref + beta*old)| <= tol * max|expected| for every element (old ignored when
// beta == 0), and the gaps of a strided tensor untouched.
bool compare(const std::vector<double>& got, const std::vector<double>& ref, const std::vector<double>& old, double alpha,
             double beta, double tol, std::string* detail) {
  double scale = 1e-30;
  std::vector<double> want(ref.size());
  for (size_t i = 0; i < ref.size(); i++) {
    want[i] = alpha * ref[i] + (beta == 0 ? 0.0 : beta * old[i]);
    scale = std::max(scale, std::fabs(want[i]));
  }
  for (size_t i = 0; i < ref.size(); i++) {
    if (!(std::fabs(got[i] - want[i]) <= tol * scale)) {
      char buf[200];
      std::snprintf(buf, sizeof buf, "element %zu: got %.9g, want %.9g (scale %.3g)", i, got[i], want[i], scale);
      *detail = buf;
      return false;
    }
  }
  return true;
}

bool compareTensor(const Tensor& t, const std::vector<double>& ref, const std::vector<double>& old, double alpha,
                   double beta, double tol, std::string* detail) {
  if (!compare(logical(t), ref, old, alpha, beta, tol, detail)) return false;
  if (!gapsIntact(t)) {
    *detail = "a gap of the strided tensor was written";
    return false;
  }
  return true;
}

void fillNaN(Tensor& t) {
  for (int n = 0; n < t.N; n++)
    for (int c = 0; c < t.C; c++)
      for (int h = 0; h < t.H; h++)
        for (int w = 0; w < t.W; w++) t.at(n, c, h, w) = std::numeric_limits<float>::quiet_NaN();
}

// ---- filters ---------------------------------------------------------------------------------------
struct Filter {
  int K = 0, C = 0, R = 0, S = 0;
  bool krsc = false;  // CUDNN_TENSOR_NHWC format
  std::vector<float> data;
  cudnnFilterDescriptor_t d = nullptr;
  size_t off(int k, int c, int r, int s) const {
    return krsc ? ((size_t(k) * R + r) * S + s) * C + c : ((size_t(k) * C + c) * R + r) * S + s;
  }
  size_t li(int k, int c, int r, int s) const { return ((size_t(k) * C + c) * R + r) * S + s; }
  Filter() = default;
  Filter(const Filter&) = delete;
  Filter& operator=(const Filter&) = delete;
  ~Filter() {
    if (d) api.cudnnDestroyFilterDescriptor(d);
  }
};

void makeFilter(Filter& f, int K, int C, int R, int S, bool krsc, Rng* rng) {
  f.K = K, f.C = C, f.R = R, f.S = S, f.krsc = krsc;
  f.data.resize(size_t(K) * C * R * S);
  for (float& v : f.data) v = rng ? rng->next() : 0.0f;
  api.cudnnCreateFilterDescriptor(&f.d);
  checkOk(api.cudnnSetFilter4dDescriptor(f.d, CUDNN_DATA_FLOAT, krsc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW, K, C, R, S),
          "set filter");
}

std::vector<double> logical(const Filter& f) {
  std::vector<double> v(f.data.size());
  for (int k = 0; k < f.K; k++)
    for (int c = 0; c < f.C; c++)
      for (int r = 0; r < f.R; r++)
        for (int s = 0; s < f.S; s++) v[f.li(k, c, r, s)] = f.data[f.off(k, c, r, s)];
  return v;
}

// ---- convolution reference -------------------------------------------------------------------------
struct ConvCase {
  int N, C, H, W, K, R, S, padH, padW, strideH, strideW, dilH, dilW, groups;
};

int outSize(int in, int pad, int k, int dil, int stride) { return 1 + (in + 2 * pad - ((k - 1) * dil + 1)) / stride; }

// Calls f(n, k, oh, ow, c, r, s, ih, iw, fr, fs) for every (output, tap) pair whose input lies
// inside x: the filter element used is [k][c][fr][fs] (rotated for true convolution), the
// input element [n][group(k)*Cg + c][ih][iw].
template <class F>
void forEachTap(const ConvCase& p, bool convolution, F&& f) {
  const int OH = outSize(p.H, p.padH, p.R, p.dilH, p.strideH), OW = outSize(p.W, p.padW, p.S, p.dilW, p.strideW);
  const int Cg = p.C / p.groups, Kg = p.K / p.groups;
  for (int n = 0; n < p.N; n++)
    for (int k = 0; k < p.K; k++)
      for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++)
          for (int c = 0; c < Cg; c++)
            for (int r = 0; r < p.R; r++)
              for (int s = 0; s < p.S; s++) {
                const int ih = oh * p.strideH - p.padH + r * p.dilH, iw = ow * p.strideW - p.padW + s * p.dilW;
                if (ih < 0 || ih >= p.H || iw < 0 || iw >= p.W) continue;
                const int fr = convolution ? p.R - 1 - r : r, fs = convolution ? p.S - 1 - s : s;
                f(n, k, oh, ow, (k / Kg) * Cg + c, c, fr, fs, ih, iw);
              }
}

// ---- conv checks -------------------------------------------------------------------------------------
struct ConvDescs {
  cudnnConvolutionDescriptor_t d = nullptr;
  ~ConvDescs() {
    if (d) api.cudnnDestroyConvolutionDescriptor(d);
  }
};

bool excluded(int dir, int algo) {  // as cudnn_ops.cc: non-deterministic ones
  if (dir == 1) return algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_0;
  if (dir == 2) return algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 || algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3;
  return false;
}

// Picks an algorithm the way cudnn_ops.cc does; checks the list's shape on the way.
int pickAlgo(int dir, int status, int returned, const cudnnConvolutionAlgoPerf_t* perf, int mathType,
             const std::string& name) {
  int chosen = -1;
  bool mathOk = true;
  for (int i = 0; i < returned; i++) {
    if (perf[i].status == 0 && perf[i].mathType != mathType) mathOk = false;
    if (chosen < 0 && perf[i].status == 0 && perf[i].determinism == CUDNN_DETERMINISTIC && !excluded(dir, perf[i].algo))
      chosen = perf[i].algo;
  }
  check(status == 0 && returned > 0 && chosen >= 0 && mathOk, name,
        "status " + std::to_string(status) + ", " + std::to_string(returned) + " returned, chosen " +
            std::to_string(chosen));
  return chosen < 0 ? 0 : chosen;
}

void convCase(const ConvCase& p, Fmt xFmt, bool krsc, Fmt yFmt, bool convolution, double alpha, double beta, Rng& rng) {
  const int OH = outSize(p.H, p.padH, p.R, p.dilH, p.strideH), OW = outSize(p.W, p.padW, p.S, p.dilW, p.strideW);
  char label[256];
  std::snprintf(label, sizeof label, "%dx%dx%dx%d k%d %dx%d pad%d,%d str%d,%d dil%d,%d g%d x:%s w:%s y:%s %s a%.2g b%.2g",
                p.N, p.C, p.H, p.W, p.K, p.R, p.S, p.padH, p.padW, p.strideH, p.strideW, p.dilH, p.dilW, p.groups,
                fmtName(xFmt), krsc ? "KRSC" : "KCRS", fmtName(yFmt), convolution ? "conv" : "xcorr", alpha, beta);
  Tensor x, y, dx, dy;
  Filter w, dw;
  makeTensor(x, p.N, p.C, p.H, p.W, xFmt, &rng);
  makeFilter(w, p.K, p.C / p.groups, p.R, p.S, krsc, &rng);
  makeTensor(y, p.N, p.K, OH, OW, yFmt, &rng);
  makeTensor(dy, p.N, p.K, OH, OW, yFmt, &rng);
  makeTensor(dx, p.N, p.C, p.H, p.W, xFmt, &rng);
  makeFilter(dw, p.K, p.C / p.groups, p.R, p.S, krsc, &rng);
  ConvDescs cd;
  api.cudnnCreateConvolutionDescriptor(&cd.d);
  checkOk(api.cudnnSetConvolution2dDescriptor(cd.d, p.padH, p.padW, p.strideH, p.strideW, p.dilH, p.dilW,
                                              convolution ? CUDNN_CONVOLUTION : CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
          "set conv");
  checkOk(api.cudnnSetConvolutionMathType(cd.d, CUDNN_FMA_MATH), "math type");
  checkOk(api.cudnnSetConvolutionGroupCount(cd.d, p.groups), "group count");

  int n = 0, c = 0, oh = 0, ow = 0;
  const int st = api.cudnnGetConvolution2dForwardOutputDim(cd.d, x.d, w.d, &n, &c, &oh, &ow);
  check(st == 0 && n == p.N && c == p.K && oh == OH && ow == OW, std::string("conv output dims ") + label,
        std::to_string(n) + "x" + std::to_string(c) + "x" + std::to_string(oh) + "x" + std::to_string(ow));

  const std::vector<double> xv = logical(x), wv = logical(w), dyv = logical(dy);
  std::vector<double> yRef(y.count(), 0.0), dxRef(dx.count(), 0.0), dwRef(dw.data.size(), 0.0);
  forEachTap(p, convolution, [&](int n_, int k, int oh_, int ow_, int cx, int cw, int fr, int fs, int ih, int iw) {
    yRef[y.li(n_, k, oh_, ow_)] += xv[x.li(n_, cx, ih, iw)] * wv[w.li(k, cw, fr, fs)];
    dxRef[x.li(n_, cx, ih, iw)] += dyv[y.li(n_, k, oh_, ow_)] * wv[w.li(k, cw, fr, fs)];
    dwRef[w.li(k, cw, fr, fs)] += dyv[y.li(n_, k, oh_, ow_)] * xv[x.li(n_, cx, ih, iw)];
  });

  const float a = float(alpha), b = float(beta);
  const bool nanOut = beta == 0;  // beta = 0 must ignore the output's prior contents, NaN included
  cudnnConvolutionAlgoPerf_t perf[8];
  int returned = 0;
  std::string detail;

  // forward
  int s = api.cudnnGetConvolutionForwardAlgorithm_v7(handle, x.d, w.d, cd.d, y.d, 8, &returned, perf);
  int algo = pickAlgo(0, s, returned, perf, CUDNN_FMA_MATH, std::string("fwd algos ") + label);
  size_t ws = 1;
  s = api.cudnnGetConvolutionForwardWorkspaceSize(handle, x.d, w.d, cd.d, y.d, algo, &ws);
  if (nanOut) fillNaN(y);
  std::vector<double> yOld = logical(y);
  s = s ? s : api.cudnnConvolutionForward(handle, &a, x.d, x.data.data(), w.d, w.data.data(), cd.d, algo, nullptr, ws, &b,
                                          y.d, y.data.data());
  checkRun(s, compareTensor(y, yRef, yOld, alpha, beta, 2e-6, &detail), std::string("conv fwd ") + label, detail);

  // backward data
  s = api.cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, w.d, dy.d, cd.d, dx.d, 8, &returned, perf);
  algo = pickAlgo(1, s, returned, perf, CUDNN_FMA_MATH, std::string("bwd-data algos ") + label);
  s = api.cudnnGetConvolutionBackwardDataWorkspaceSize(handle, w.d, dy.d, cd.d, dx.d, algo, &ws);
  if (nanOut) fillNaN(dx);
  std::vector<double> dxOld = logical(dx);
  s = s ? s : api.cudnnConvolutionBackwardData(handle, &a, w.d, w.data.data(), dy.d, dy.data.data(), cd.d, algo, nullptr,
                                               ws, &b, dx.d, dx.data.data());
  checkRun(s, compareTensor(dx, dxRef, dxOld, alpha, beta, 2e-6, &detail), std::string("conv bwd-data ") + label, detail);

  // backward filter
  s = api.cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, x.d, dy.d, cd.d, dw.d, 8, &returned, perf);
  algo = pickAlgo(2, s, returned, perf, CUDNN_FMA_MATH, std::string("bwd-filter algos ") + label);
  s = api.cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, x.d, dy.d, cd.d, dw.d, algo, &ws);
  if (nanOut)
    for (float& v : dw.data) v = std::numeric_limits<float>::quiet_NaN();
  std::vector<double> dwOld = logical(dw);
  s = s ? s : api.cudnnConvolutionBackwardFilter(handle, &a, x.d, x.data.data(), dy.d, dy.data.data(), cd.d, algo,
                                                 nullptr, ws, &b, dw.d, dw.data.data());
  checkRun(s, compare(logical(dw), dwRef, dwOld, alpha, beta, 2e-6, &detail), std::string("conv bwd-filter ") + label, detail);
}

void testConvolutions() {
  Rng rng(1);
  const ConvCase cases[] = {
      {2, 3, 7, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1},     // odd sizes, 3x3, pad 1
      {1, 5, 11, 8, 3, 5, 3, 2, 1, 2, 2, 1, 1, 1},    // 5x3 kernel, stride 2
      {2, 4, 9, 10, 6, 3, 3, 2, 2, 1, 1, 2, 2, 1},    // dilation 2, pad 2
      {3, 8, 6, 5, 7, 1, 1, 0, 0, 1, 1, 1, 1, 1},     // 1x1
      {1, 6, 13, 7, 5, 3, 3, 0, 0, 2, 2, 2, 2, 1},    // stride 2 + dilation 2, no padding
      {1, 3, 8, 9, 16, 3, 5, 1, 2, 2, 1, 1, 2, 1},    // 3x5, mixed stride and dilation
      {2, 4, 6, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2},     // two groups
      {2, 8, 32, 32, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1},   // the shape of a small U-Net layer
  };
  int i = 0;
  for (const ConvCase& p : cases) {
    // cudnn_ops.cc's combination, then NCHW, then strided/mixed layouts with blending.
    convCase(p, kNHWC, true, kNHWC, false, 1.0, 0.0, rng);
    if (p.H * p.W <= 200) {
      convCase(p, kNCHW, false, kNCHW, i % 2 == 0, 0.5, 0.25, rng);
      convCase(p, kStrided, i % 2 == 0, i % 2 ? kNHWC : kStrided, true, 1.0, 0.0, rng);
    }
    i++;
  }
}

// <conv(x), dy> == <x, conv_bwd_data(dy)>: the data gradient is the adjoint of the forward map.
void testConvAdjoint() {
  Rng rng(7);
  const ConvCase p{2, 5, 9, 8, 4, 3, 3, 1, 2, 2, 1, 2, 1, 1};
  const int OH = outSize(p.H, p.padH, p.R, p.dilH, p.strideH), OW = outSize(p.W, p.padW, p.S, p.dilW, p.strideW);
  Tensor x, y, dy, dx;
  Filter w;
  makeTensor(x, p.N, p.C, p.H, p.W, kNHWC, &rng);
  makeTensor(y, p.N, p.K, OH, OW, kNHWC, nullptr);
  makeTensor(dy, p.N, p.K, OH, OW, kNHWC, &rng);
  makeTensor(dx, p.N, p.C, p.H, p.W, kNHWC, nullptr);
  makeFilter(w, p.K, p.C, p.R, p.S, true, &rng);
  ConvDescs cd;
  api.cudnnCreateConvolutionDescriptor(&cd.d);
  api.cudnnSetConvolution2dDescriptor(cd.d, p.padH, p.padW, p.strideH, p.strideW, p.dilH, p.dilW, CUDNN_CONVOLUTION,
                                      CUDNN_DATA_FLOAT);
  const float one = 1, zero = 0;
  int s = api.cudnnConvolutionForward(handle, &one, x.d, x.data.data(), w.d, w.data.data(), cd.d, 1, nullptr, 0, &zero,
                                      y.d, y.data.data());
  s = s ? s : api.cudnnConvolutionBackwardData(handle, &one, w.d, w.data.data(), dy.d, dy.data.data(), cd.d, 1, nullptr, 0,
                                               &zero, dx.d, dx.data.data());
  const std::vector<double> yv = logical(y), dyv = logical(dy), xv = logical(x), dxv = logical(dx);
  double lhs = 0, rhs = 0, mag = 0;
  for (size_t i = 0; i < yv.size(); i++) lhs += yv[i] * dyv[i], mag += std::fabs(yv[i] * dyv[i]);
  for (size_t i = 0; i < xv.size(); i++) rhs += xv[i] * dxv[i];
  check(s == 0 && std::fabs(lhs - rhs) <= 1e-5 * mag, "conv adjoint identity <Ax, dy> = <x, A^T dy>",
        std::to_string(lhs) + " vs " + std::to_string(rhs));
}

void testFindAndTiming() {
  Rng rng(3);
  Tensor x, y;
  Filter w;
  makeTensor(x, 4, 64, 64, 64, kNHWC, &rng);
  makeFilter(w, 64, 64, 3, 3, true, &rng);
  makeTensor(y, 4, 64, 64, 64, kNHWC, nullptr);
  ConvDescs cd;
  api.cudnnCreateConvolutionDescriptor(&cd.d);
  api.cudnnSetConvolution2dDescriptor(cd.d, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT);
  api.cudnnSetConvolutionMathType(cd.d, CUDNN_FMA_MATH);
  cudnnConvolutionAlgoPerf_t perf[8];
  int returned = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const int s = api.cudnnFindConvolutionForwardAlgorithmEx(handle, x.d, x.data.data(), w.d, w.data.data(), cd.d, y.d,
                                                            y.data.data(), 8, &returned, perf, nullptr, 0);
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  check(s == 0 && returned > 0 && perf[0].status == 0 && perf[0].time >= 0, "FindConvolutionForwardAlgorithmEx",
        "status " + std::to_string(s));
  // Spot-check a few outputs of the run Find made against the reference sum.
  bool ok = true;
  std::string where;
  const int pts[][3] = {{0, 0, 0}, {1, 31, 17}, {3, 63, 63}, {2, 5, 62}};
  for (const auto& pt : pts) {
    for (int k : {0, 13, 63}) {
      double ref = 0;
      for (int r = 0; r < 3; r++)
        for (int q = 0; q < 3; q++)
          for (int c = 0; c < 64; c++) {
            const int ih = pt[1] - 1 + r, iw = pt[2] - 1 + q;
            if (ih < 0 || ih >= 64 || iw < 0 || iw >= 64) continue;
            ref += double(x.at(pt[0], c, ih, iw)) * w.data[w.off(k, c, r, q)];
          }
      const double got = y.at(pt[0], k, pt[1], pt[2]);
      if (std::fabs(got - ref) > 1e-5 * (1 + std::fabs(ref))) ok = false, where = std::to_string(got) + " vs " + std::to_string(ref);
    }
  }
  check(ok, "FindEx wrote the forward result", where);
  std::printf("info: 4x64x64x64 3x3 conv forward (FindEx) took %.3f s\n", sec);
  check(sec < 3.0, "4x64x64x64 3x3 conv forward within 3 s (shared cores)", std::to_string(sec) + " s");
}

// ---- bias, add, set ------------------------------------------------------------------------------------
void testBiasAddSet() {
  Rng rng(11);
  {
    Tensor dy, db;
    makeTensor(dy, 3, 5, 4, 6, kNHWC, &rng);
    makeTensor(db, 1, 5, 1, 1, kNCHW, &rng);
    std::vector<double> ref(5, 0.0), old = logical(db);
    for (int n = 0; n < 3; n++)
      for (int c = 0; c < 5; c++)
        for (int h = 0; h < 4; h++)
          for (int w = 0; w < 6; w++) ref[size_t(c)] += dy.at(n, c, h, w);
    const float a = 0.5f, b = 0.25f;
    const int s = api.cudnnConvolutionBackwardBias(handle, &a, dy.d, dy.data.data(), &b, db.d, db.data.data());
    std::string d;
    check(s == 0 && compareTensor(db, ref, old, a, b, 2e-6, &d), "ConvolutionBackwardBias NHWC blend", d);
  }
  {
    Tensor A, C;
    makeTensor(A, 1, 4, 1, 1, kNCHW, &rng);
    makeTensor(C, 2, 4, 3, 5, kStrided, &rng);
    std::vector<double> ref(C.count()), old = logical(C);
    for (int n = 0; n < 2; n++)
      for (int c = 0; c < 4; c++)
        for (int h = 0; h < 3; h++)
          for (int w = 0; w < 5; w++) ref[C.li(n, c, h, w)] = A.at(0, c, 0, 0);
    const float a = 2.0f, b = -0.5f;
    const int s = api.cudnnAddTensor(handle, &a, A.d, A.data.data(), &b, C.d, C.data.data());
    std::string d;
    check(s == 0 && compareTensor(C, ref, old, a, b, 2e-6, &d), "AddTensor broadcast 1xCx1x1 into strided", d);
  }
  {
    Tensor A, C;
    makeTensor(A, 2, 3, 4, 1, kNHWC, &rng);  // broadcast along W only
    makeTensor(C, 2, 3, 4, 5, kNCHW, &rng);
    std::vector<double> ref(C.count());
    for (int n = 0; n < 2; n++)
      for (int c = 0; c < 3; c++)
        for (int h = 0; h < 4; h++)
          for (int w = 0; w < 5; w++) ref[C.li(n, c, h, w)] = A.at(n, c, h, 0);
    const float a = 1.0f, b = 0.0f;
    fillNaN(C);
    const std::vector<double> old = logical(C);
    const int s = api.cudnnAddTensor(handle, &a, A.d, A.data.data(), &b, C.d, C.data.data());
    std::string d;
    check(s == 0 && compareTensor(C, ref, old, a, b, 0, &d), "AddTensor broadcast along W, beta 0 over NaN", d);
  }
  {
    Tensor y;
    makeTensor(y, 2, 3, 4, 5, kStrided, &rng);
    const float v = 3.25f;
    const int s = api.cudnnSetTensor(handle, y.d, y.data.data(), &v);
    std::vector<double> ref(y.count(), 3.25), none(y.count(), 0.0);
    std::string d;
    check(s == 0 && compareTensor(y, ref, none, 1, 0, 0, &d), "SetTensor strided (gaps untouched)", d);
  }
}

// ---- activations ---------------------------------------------------------------------------------------
double refAct(int mode, double coef, double x) {
  switch (mode) {
    case CUDNN_ACTIVATION_SIGMOID: return 1 / (1 + std::exp(-x));
    case CUDNN_ACTIVATION_RELU: return std::max(0.0, x);
    case CUDNN_ACTIVATION_TANH: return std::tanh(x);
    case CUDNN_ACTIVATION_CLIPPED_RELU: return std::min(std::max(0.0, x), coef);
    case CUDNN_ACTIVATION_ELU: return x > 0 ? x : coef * (std::exp(x) - 1);
    case CUDNN_ACTIVATION_SWISH: return x / (1 + std::exp(-x));
    default: return x;
  }
}

// d/dx by central differences of refAct (kinks of relu-likes are avoided by the data).
double refActGrad(int mode, double coef, double x) {
  const double h = 1e-6;
  return (refAct(mode, coef, x + h) - refAct(mode, coef, x - h)) / (2 * h);
}

void testActivations() {
  Rng rng(13);
  const char* names[] = {"sigmoid", "relu", "tanh", "clipped relu", "elu", "identity", "swish"};
  for (int mode = 0; mode <= 6; mode++) {
    const double coef = mode == CUDNN_ACTIVATION_CLIPPED_RELU ? 0.6 : 0.7;
    cudnnActivationDescriptor_t ad = nullptr;
    api.cudnnCreateActivationDescriptor(&ad);
    checkOk(api.cudnnSetActivationDescriptor(ad, mode, CUDNN_PROPAGATE_NAN, coef), "set activation");
    Tensor x, y, dy, dx;
    makeTensor(x, 2, 3, 4, 5, kNHWC, &rng);
    for (float& v : x.data) v *= 2.0f;
    for (float& v : x.data)  // keep away from the kinks at 0 and coef, where the FD reference is meaningless
      if (std::fabs(v) < 1e-3f || std::fabs(v - float(coef)) < 1e-3f) v += 0.01f;
    makeTensor(y, 2, 3, 4, 5, kNCHW, &rng);
    makeTensor(dy, 2, 3, 4, 5, kStrided, &rng);
    makeTensor(dx, 2, 3, 4, 5, kNHWC, &rng);
    const std::vector<double> xv = logical(x), dyv = logical(dy);
    std::vector<double> yRef(xv.size()), dxRef(xv.size());
    for (size_t i = 0; i < xv.size(); i++) {
      yRef[i] = refAct(mode, coef, xv[i]);
      dxRef[i] = dyv[i] * refActGrad(mode, coef, xv[i]);
    }
    const float a = 0.5f, b = 0.25f, one = 1.0f, zero = 0.0f;
    std::vector<double> old = logical(y);
    int s = api.cudnnActivationForward(handle, ad, &a, x.d, x.data.data(), &b, y.d, y.data.data());
    std::string d;
    check(s == 0 && compareTensor(y, yRef, old, a, b, 2e-6, &d), std::string("activation fwd ") + names[mode], d);
    // backward on the real forward output
    s = api.cudnnActivationForward(handle, ad, &one, x.d, x.data.data(), &zero, y.d, y.data.data());
    old = logical(dx);
    s = s ? s : api.cudnnActivationBackward(handle, ad, &a, y.d, y.data.data(), dy.d, dy.data.data(), x.d, x.data.data(), &b,
                                            dx.d, dx.data.data());
    check(s == 0 && compareTensor(dx, dxRef, old, a, b, 2e-5, &d), std::string("activation bwd ") + names[mode], d);
    int m = -1, nan = -1;
    double cf = 0;
    s = get.act(ad, &m, &nan, &cf);
    check(s == 0 && m == mode && nan == CUDNN_PROPAGATE_NAN && cf == coef, std::string("GetActivationDescriptor ") + names[mode]);
    api.cudnnDestroyActivationDescriptor(ad);
  }
}

// ---- pooling ---------------------------------------------------------------------------------------------
void testPooling() {
  Rng rng(17);
  struct PCase {
    int mode, wh, ww, ph, pw, sh, sw;
  } cases[] = {
      {CUDNN_POOLING_MAX, 2, 2, 0, 0, 2, 2},
      {CUDNN_POOLING_MAX_DETERMINISTIC, 3, 3, 1, 1, 2, 2},
      {CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING, 3, 2, 1, 1, 2, 1},
      {CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING, 3, 3, 1, 1, 1, 2},
  };
  const char* names[] = {"max", "avg incl pad", "avg excl pad", "max deterministic"};
  for (const PCase& pc : cases) {
    const int N = 2, C = 3, H = 7, W = 6;
    const int OH = 1 + (H + 2 * pc.ph - pc.wh) / pc.sh, OW = 1 + (W + 2 * pc.pw - pc.ww) / pc.sw;
    cudnnPoolingDescriptor_t pd = nullptr;
    api.cudnnCreatePoolingDescriptor(&pd);
    checkOk(api.cudnnSetPooling2dDescriptor(pd, pc.mode, CUDNN_NOT_PROPAGATE_NAN, pc.wh, pc.ww, pc.ph, pc.pw, pc.sh, pc.sw),
            "set pooling");
    Tensor x, y, dy, dx;
    makeTensor(x, N, C, H, W, kNHWC, &rng);
    int n = 0, c = 0, oh = 0, ow = 0;
    int s = api.cudnnGetPooling2dForwardOutputDim(pd, x.d, &n, &c, &oh, &ow);
    const std::string label = std::string(names[pc.mode]) + " " + std::to_string(pc.wh) + "x" + std::to_string(pc.ww) +
                              " pad" + std::to_string(pc.ph) + " stride" + std::to_string(pc.sh) + "," + std::to_string(pc.sw);
    check(s == 0 && n == N && c == C && oh == OH && ow == OW, "pooling output dims " + label);
    makeTensor(y, N, C, OH, OW, kStrided, &rng);
    makeTensor(dy, N, C, OH, OW, kNCHW, &rng);
    makeTensor(dx, N, C, H, W, kNCHW, &rng);
    std::vector<double> yRef(y.count(), 0.0), dxRef(x.count(), 0.0);
    const bool isMax = pc.mode == CUDNN_POOLING_MAX || pc.mode == CUDNN_POOLING_MAX_DETERMINISTIC;
    for (int n_ = 0; n_ < N; n_++)
      for (int c_ = 0; c_ < C; c_++)
        for (int i = 0; i < OH; i++)
          for (int j = 0; j < OW; j++) {
            double best = -INFINITY, sum = 0;
            int bh = -1, bw = -1, count = 0;
            for (int r = 0; r < pc.wh; r++)
              for (int q = 0; q < pc.ww; q++) {
                const int h = i * pc.sh - pc.ph + r, w = j * pc.sw - pc.pw + q;
                if (h < 0 || h >= H || w < 0 || w >= W) continue;
                const double v = x.at(n_, c_, h, w);
                count++, sum += v;
                if (v > best) best = v, bh = h, bw = w;
              }
            const double div = pc.mode == CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING ? pc.wh * pc.ww : count;
            yRef[y.li(n_, c_, i, j)] = isMax ? best : sum / div;
            const double g = dy.at(n_, c_, i, j);
            if (isMax) {
              dxRef[x.li(n_, c_, bh, bw)] += g;
            } else {
              for (int r = 0; r < pc.wh; r++)
                for (int q = 0; q < pc.ww; q++) {
                  const int h = i * pc.sh - pc.ph + r, w = j * pc.sw - pc.pw + q;
                  if (h >= 0 && h < H && w >= 0 && w < W) dxRef[x.li(n_, c_, h, w)] += g / div;
                }
            }
          }
    const float a = 0.5f, b = 0.25f, one = 1.0f, zero = 0.0f;
    std::vector<double> old = logical(y);
    s = api.cudnnPoolingForward(handle, pd, &a, x.d, x.data.data(), &b, y.d, y.data.data());
    std::string d;
    check(s == 0 && compareTensor(y, yRef, old, a, b, 2e-6, &d), "pooling fwd " + label, d);
    s = api.cudnnPoolingForward(handle, pd, &one, x.d, x.data.data(), &zero, y.d, y.data.data());
    old = logical(dx);
    s = s ? s : api.cudnnPoolingBackward(handle, pd, &a, y.d, y.data.data(), dy.d, dy.data.data(), x.d, x.data.data(), &b,
                                         dx.d, dx.data.data());
    check(s == 0 && compareTensor(dx, dxRef, old, a, b, 2e-6, &d), "pooling bwd " + label, d);
    int gm, gn, gwh, gww, gph, gpw, gsh, gsw;
    s = get.pool2d(pd, &gm, &gn, &gwh, &gww, &gph, &gpw, &gsh, &gsw);
    check(s == 0 && gm == pc.mode && gn == 0 && gwh == pc.wh && gww == pc.ww && gph == pc.ph && gpw == pc.pw &&
              gsh == pc.sh && gsw == pc.sw,
          "GetPooling2dDescriptor " + label);
    api.cudnnDestroyPoolingDescriptor(pd);
  }
}

// ---- softmax -------------------------------------------------------------------------------------------------
void testSoftmax() {
  Rng rng(19);
  const char* algoNames[] = {"fast", "accurate", "log"};
  for (int mode = 0; mode <= 1; mode++) {
    for (int algo = 0; algo <= 2; algo++) {
      const int N = 2, C = 5, H = 3, W = 4;
      Tensor x, y, dy, dx;
      makeTensor(x, N, C, H, W, mode ? kNHWC : kStrided, &rng);
      for (float& v : x.data)
        if (v != kSentinel) v *= 4.0f;
      makeTensor(y, N, C, H, W, kNCHW, &rng);
      makeTensor(dy, N, C, H, W, kNHWC, &rng);
      makeTensor(dx, N, C, H, W, kStrided, &rng);
      // reference: groups are all (c, h, w) of an image, or all c of a pixel
      std::vector<double> yRef(x.count()), dxRef(x.count());
      const std::vector<double> xv = logical(x), dyv = logical(dy);
      auto group = [&](int n, int h, int w, auto&& visit) {
        for (int c = 0; c < C; c++)
          if (mode == CUDNN_SOFTMAX_MODE_CHANNEL) {
            visit(x.li(n, c, h, w));
          } else {
            for (int hh = 0; hh < H; hh++)
              for (int ww = 0; ww < W; ww++) visit(x.li(n, c, hh, ww));
          }
      };
      for (int n = 0; n < N; n++)
        for (int h = 0; h < (mode ? H : 1); h++)
          for (int w = 0; w < (mode ? W : 1); w++) {
            double sum = 0;
            group(n, h, w, [&](size_t i) { sum += std::exp(xv[i]); });
            group(n, h, w, [&](size_t i) { yRef[i] = algo == 2 ? xv[i] - std::log(sum) : std::exp(xv[i]) / sum; });
            // Jacobian-vector product from the definition of (log-)softmax
            double dot = 0, dsum = 0;
            group(n, h, w, [&](size_t i) { dot += dyv[i] * std::exp(xv[i]) / sum, dsum += dyv[i]; });
            group(n, h, w, [&](size_t i) {
              const double p = std::exp(xv[i]) / sum;
              dxRef[i] = algo == 2 ? dyv[i] - p * dsum : p * (dyv[i] - dot);
            });
          }
      const float a = 0.5f, b = 0.25f, one = 1.0f, zero = 0.0f;
      const std::string label = std::string(mode ? "channel " : "instance ") + algoNames[algo];
      std::vector<double> old = logical(y);
      int s = api.cudnnSoftmaxForward(handle, algo, mode, &a, x.d, x.data.data(), &b, y.d, y.data.data());
      std::string d;
      check(s == 0 && compareTensor(y, yRef, old, a, b, 2e-6, &d), "softmax fwd " + label, d);
      s = api.cudnnSoftmaxForward(handle, algo, mode, &one, x.d, x.data.data(), &zero, y.d, y.data.data());
      old = logical(dx);
      s = s ? s : api.cudnnSoftmaxBackward(handle, algo, mode, &a, y.d, y.data.data(), dy.d, dy.data.data(), &b, dx.d,
                                           dx.data.data());
      check(s == 0 && compareTensor(dx, dxRef, old, a, b, 1e-5, &d), "softmax bwd " + label, d);
    }
  }
}

// ---- batch norm ---------------------------------------------------------------------------------------------
// Forward (training statistics) in float64 on logical NCHW data: spatial or per activation.
struct BnRef {
  std::vector<double> y, mean, var;  // var biased
};

BnRef bnForward(const std::vector<double>& x, const std::vector<double>& scale, const std::vector<double>& bias, int N,
                int C, int H, int W, bool spatial, double eps) {
  const size_t P = spatial ? size_t(C) : size_t(C) * H * W;
  auto param = [&](int c, int h, int w) { return spatial ? size_t(c) : (size_t(c) * H + h) * W + w; };
  BnRef r;
  r.mean.assign(P, 0.0), r.var.assign(P, 0.0), r.y.assign(x.size(), 0.0);
  std::vector<double> cnt(P, 0.0);
  for (int n = 0; n < N; n++)
    for (int c = 0; c < C; c++)
      for (int h = 0; h < H; h++)
        for (int w = 0; w < W; w++) {
          r.mean[param(c, h, w)] += x[((size_t(n) * C + c) * H + h) * W + w];
          cnt[param(c, h, w)] += 1;
        }
  for (size_t p = 0; p < P; p++) r.mean[p] /= cnt[p];
  for (int n = 0; n < N; n++)
    for (int c = 0; c < C; c++)
      for (int h = 0; h < H; h++)
        for (int w = 0; w < W; w++) {
          const double d = x[((size_t(n) * C + c) * H + h) * W + w] - r.mean[param(c, h, w)];
          r.var[param(c, h, w)] += d * d;
        }
  for (size_t p = 0; p < P; p++) r.var[p] /= cnt[p];
  for (int n = 0; n < N; n++)
    for (int c = 0; c < C; c++)
      for (int h = 0; h < H; h++)
        for (int w = 0; w < W; w++) {
          const size_t i = ((size_t(n) * C + c) * H + h) * W + w, p = param(c, h, w);
          r.y[i] = scale[p] * (x[i] - r.mean[p]) / std::sqrt(r.var[p] + eps) + bias[p];
        }
  return r;
}

std::vector<double> asDoubles(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

void bnCase(bool spatial, Fmt fmt, int mode, int N, int C, int H, int W, bool useSaved, Rng& rng) {
  const double eps = 1e-5, factor = 0.1;
  const std::string label = std::string(spatial ? (mode == 2 ? "spatial-persistent " : "spatial ") : "per-activation ") +
                            fmtName(fmt) + " " + std::to_string(N) + "x" + std::to_string(C) + "x" + std::to_string(H) +
                            "x" + std::to_string(W);
  Tensor x, y, dy, dx, bn;
  makeTensor(x, N, C, H, W, fmt, &rng);
  for (int n = 0; n < N; n++)  // a per-channel offset and scale, as real activations have
    for (int c = 0; c < C; c++)
      for (int h = 0; h < H; h++)
        for (int w = 0; w < W; w++) x.at(n, c, h, w) = x.at(n, c, h, w) * (1.0f + 0.3f * c) + 0.5f * c;
  makeTensor(y, N, C, H, W, fmt, &rng);
  makeTensor(dy, N, C, H, W, fmt, &rng);
  makeTensor(dx, N, C, H, W, fmt, &rng);
  api.cudnnCreateTensorDescriptor(&bn.d);
  int s = api.cudnnDeriveBNTensorDescriptor(bn.d, x.d, mode);
  int dt = -1, nb = 0, dims[8] = {}, strides[8] = {};
  s = s ? s : get.tensorNd(bn.d, 8, &dt, &nb, dims, strides);
  const int PH = spatial ? 1 : H, PW = spatial ? 1 : W;
  check(s == 0 && dt == CUDNN_DATA_FLOAT && nb == 4 && dims[0] == 1 && dims[1] == C && dims[2] == PH && dims[3] == PW &&
            strides[3] == 1 && strides[2] == PW && strides[1] == PH * PW,
        "DeriveBNTensorDescriptor " + label);
  const size_t P = size_t(C) * PH * PW;
  std::vector<float> scale(P), bias(P), rmean(P), rvar(P), smean(P, -7.f), sinv(P, -7.f);
  for (size_t p = 0; p < P; p++) scale[p] = 1.0f + 0.5f * rng.next(), bias[p] = rng.next(), rmean[p] = rng.next(),
                                 rvar[p] = 1.0f + 0.5f * rng.next();
  const std::vector<float> rmean0 = rmean, rvar0 = rvar;
  const std::vector<double> xv = logical(x), sv = asDoubles(scale), bv = asDoubles(bias);
  const BnRef ref = bnForward(xv, sv, bv, N, C, H, W, spatial, eps);
  const double m = double(N) * H * W / double(PH * PW);

  const float one = 1.0f, zero = 0.0f;
  fillNaN(y);
  std::vector<double> old = logical(y);
  s = api.cudnnBatchNormalizationForwardTraining(handle, mode, &one, &zero, x.d, x.data.data(), y.d, y.data.data(), bn.d,
                                                  scale.data(), bias.data(), factor, rmean.data(), rvar.data(), eps,
                                                  smean.data(), sinv.data());
  std::string d;
  checkRun(s, compareTensor(y, ref.y, old, 1, 0, 2e-6, &d), "BN training y " + label, d);
  std::vector<double> invRef(P), rmRef(P), rvRef(P), zeros(P, 0.0);
  for (size_t p = 0; p < P; p++) {
    invRef[p] = 1 / std::sqrt(ref.var[p] + eps);
    rmRef[p] = (1 - factor) * rmean0[p] + factor * ref.mean[p];
    rvRef[p] = (1 - factor) * rvar0[p] + factor * ref.var[p] * m / (m - 1);  // unbiased
  }
  check(compare(asDoubles(smean), ref.mean, zeros, 1, 0, 2e-6, &d) && compare(asDoubles(sinv), invRef, zeros, 1, 0, 2e-6, &d),
        "BN training saved mean / inverse std " + label, d);
  check(compare(asDoubles(rmean), rmRef, zeros, 1, 0, 2e-6, &d) && compare(asDoubles(rvar), rvRef, zeros, 1, 0, 2e-6, &d),
        "BN training running mean / unbiased variance " + label, d);

  // inference with the running statistics, blended
  {
    std::vector<double> yInf(x.count());
    for (int n = 0; n < N; n++)
      for (int c = 0; c < C; c++)
        for (int h = 0; h < H; h++)
          for (int w = 0; w < W; w++) {
            const size_t p = spatial ? size_t(c) : (size_t(c) * H + h) * W + w, i = x.li(n, c, h, w);
            yInf[i] = scale[p] * (xv[i] - rmean[p]) / std::sqrt(double(rvar[p]) + eps) + bias[p];
          }
    const float a = 0.5f, b = 0.25f;
    old = logical(y);
    s = api.cudnnBatchNormalizationForwardInference(handle, mode, &a, &b, x.d, x.data.data(), y.d, y.data.data(), bn.d,
                                                     scale.data(), bias.data(), rmean.data(), rvar.data(), eps);
    check(s == 0 && compareTensor(y, yInf, old, a, b, 2e-6, &d), "BN inference blended " + label, d);
  }

  // backward vs central finite differences of the float64 forward: L = sum(y * dy)
  {
    const std::vector<double> dyv = logical(dy);
    auto loss = [&](const std::vector<double>& xs, const std::vector<double>& ss, const std::vector<double>& bs) {
      const BnRef r = bnForward(xs, ss, bs, N, C, H, W, spatial, eps);
      double l = 0;
      for (size_t i = 0; i < r.y.size(); i++) l += r.y[i] * dyv[i];
      return l;
    };
    const double h = 1e-4;
    std::vector<double> dxFd(xv.size()), dsFd(P), dbFd(P);
    std::vector<double> xs = xv, ss = sv, bs = bv;
    for (size_t i = 0; i < xv.size(); i++) {
      xs[i] = xv[i] + h;
      const double lp = loss(xs, sv, bv);
      xs[i] = xv[i] - h;
      const double lm = loss(xs, sv, bv);
      xs[i] = xv[i];
      dxFd[i] = (lp - lm) / (2 * h);
    }
    for (size_t p = 0; p < P; p++) {
      ss[p] = sv[p] + h;
      double lp = loss(xv, ss, bv);
      ss[p] = sv[p] - h;
      double lm = loss(xv, ss, bv);
      ss[p] = sv[p];
      dsFd[p] = (lp - lm) / (2 * h);
      bs[p] = bv[p] + h;
      lp = loss(xv, sv, bs);
      bs[p] = bv[p] - h;
      lm = loss(xv, sv, bs);
      bs[p] = bv[p];
      dbFd[p] = (lp - lm) / (2 * h);
    }
    std::vector<float> dScale(P), dBias(P);
    for (size_t p = 0; p < P; p++) dScale[p] = rng.next(), dBias[p] = rng.next();
    const std::vector<double> dsOld = asDoubles(dScale), dbOld = asDoubles(dBias);
    const float ad = 0.5f, bd = 0.25f, ap = 2.0f, bp = 0.5f;
    old = logical(dx);
    s = api.cudnnBatchNormalizationBackward(handle, mode, &ad, &bd, &ap, &bp, x.d, x.data.data(), dy.d, dy.data.data(), dx.d,
                                            dx.data.data(), bn.d, scale.data(), dScale.data(), dBias.data(), eps,
                                            useSaved ? smean.data() : nullptr, useSaved ? sinv.data() : nullptr);
    const std::string how = useSaved ? " (saved stats) " : " (recomputed stats) ";
    checkRun(s, compareTensor(dx, dxFd, old, ad, bd, 1e-5, &d), "BN backward dx vs finite differences" + how + label, d);
    check(compare(asDoubles(dScale), dsFd, dsOld, ap, bp, 1e-5, &d) && compare(asDoubles(dBias), dbFd, dbOld, ap, bp, 1e-5, &d),
          "BN backward dscale / dbias vs finite differences" + how + label, d);
  }
}

void testBatchNorm() {
  Rng rng(23);
  bnCase(true, kNHWC, CUDNN_BATCHNORM_SPATIAL, 2, 3, 4, 5, true, rng);  // cudnn_ops.cc's use
  bnCase(true, kNCHW, CUDNN_BATCHNORM_SPATIAL_PERSISTENT, 3, 2, 3, 3, false, rng);
  bnCase(true, kStrided, CUDNN_BATCHNORM_SPATIAL, 2, 4, 3, 2, false, rng);
  bnCase(false, kNCHW, CUDNN_BATCHNORM_PER_ACTIVATION, 4, 2, 2, 3, true, rng);

  // Null running and saved pointers are allowed (together).
  Tensor x, y, bn;
  makeTensor(x, 2, 3, 2, 2, kNHWC, &rng);
  makeTensor(y, 2, 3, 2, 2, kNHWC, &rng);
  api.cudnnCreateTensorDescriptor(&bn.d);
  api.cudnnDeriveBNTensorDescriptor(bn.d, x.d, CUDNN_BATCHNORM_SPATIAL);
  std::vector<float> scale(3, 1.0f), bias(3, 0.0f), rm(3, 0.0f);
  const float one = 1, zero = 0;
  int s = api.cudnnBatchNormalizationForwardTraining(handle, CUDNN_BATCHNORM_SPATIAL, &one, &zero, x.d, x.data.data(), y.d,
                                                      y.data.data(), bn.d, scale.data(), bias.data(), 1.0, nullptr,
                                                      nullptr, 1e-5, nullptr, nullptr);
  check(s == 0, "BN training with NULL running and saved statistics");
  s = api.cudnnBatchNormalizationForwardTraining(handle, CUDNN_BATCHNORM_SPATIAL, &one, &zero, x.d, x.data.data(), y.d,
                                                  y.data.data(), bn.d, scale.data(), bias.data(), 1.0, rm.data(), nullptr,
                                                  1e-5, nullptr, nullptr);
  checkFails(s, 2000, "cudnnBatchNormalizationForwardTraining", "resultRunningVariance", "BN running mean without variance");
  s = api.cudnnBatchNormalizationForwardTraining(handle, CUDNN_BATCHNORM_SPATIAL, &one, &zero, x.d, x.data.data(), y.d,
                                                  y.data.data(), bn.d, scale.data(), bias.data(), 1.0, nullptr, nullptr,
                                                  -1e-3, nullptr, nullptr);
  checkFails(s, 2000, "cudnnBatchNormalizationForwardTraining", "epsilon", "BN epsilon < CUDNN_BN_MIN_EPSILON");
  s = api.cudnnBatchNormalizationForwardInference(handle, CUDNN_BATCHNORM_SPATIAL, &one, &zero, x.d, x.data.data(), y.d,
                                                   y.data.data(), x.d, scale.data(), bias.data(), rm.data(), rm.data(), 1e-5);
  checkFails(s, 2000, "cudnnBatchNormalizationForwardInference", "bnScaleBiasMeanVarDesc", "BN wrong parameter dims");
}

// ---- descriptors, version, errors -------------------------------------------------------------------------
void testDescriptorsAndVersion() {
  check(api.cudnnGetVersion() == 92400, "cudnnGetVersion = 92400 (9.24.0)");
  check(api.cudnnGetCudartVersion() == 13000, "cudnnGetCudartVersion = 13000");
  check(std::string(api.cudnnGetErrorString(0)) == "CUDNN_STATUS_SUCCESS" &&
            std::string(api.cudnnGetErrorString(2000)) == "CUDNN_STATUS_BAD_PARAM" &&
            std::string(api.cudnnGetErrorString(3000)) == "CUDNN_STATUS_NOT_SUPPORTED" &&
            std::string(api.cudnnGetErrorString(4000)) == "CUDNN_STATUS_INTERNAL_ERROR",
        "cudnnGetErrorString v9 names");
  check(api.cudnnSetStream(handle, reinterpret_cast<cudaStream_t>(&gFakeStream)) == 0 &&
            api.cudnnSetStream(handle, nullptr) == 0,
        "cudnnSetStream accepts any stream");
  {
    // An emulated stream (stream_abi.h): every op waits for its queued work first.
    api.cudnnSetStream(handle, reinterpret_cast<cudaStream_t>(&gFakeStream));
    cudnnTensorDescriptor_t d = nullptr;
    api.cudnnCreateTensorDescriptor(&d);
    api.cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, 2, 1, 1);
    float buf[2] = {0, 0}, v = 3.0f;
    const int before = gFakeSyncs;
    const int st = api.cudnnSetTensor(handle, d, buf, &v);
    check(st == 0 && gFakeSyncs == before + 1 && buf[1] == 3.0f, "an op on an emulated stream drains it first");
    api.cudnnDestroyTensorDescriptor(d);
    api.cudnnSetStream(handle, nullptr);
  }

  cudnnTensorDescriptor_t t = nullptr;
  api.cudnnCreateTensorDescriptor(&t);
  int dt, n, c, h, w, sn, sc, sh, sw;
  int s = api.cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 2, 3, 4, 5);
  s = s ? s : get.tensor4d(t, &dt, &n, &c, &h, &w, &sn, &sc, &sh, &sw);
  check(s == 0 && dt == 0 && n == 2 && c == 3 && h == 4 && w == 5 && sn == 60 && sc == 1 && sh == 15 && sw == 3,
        "Tensor4d NHWC strides (60, 1, 15, 3)");
  s = api.cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NCHW, CUDNN_DATA_DOUBLE, 2, 3, 4, 5);
  s = s ? s : get.tensor4d(t, &dt, &n, &c, &h, &w, &sn, &sc, &sh, &sw);
  check(s == 0 && dt == CUDNN_DATA_DOUBLE && sn == 60 && sc == 20 && sh == 5 && sw == 1, "Tensor4d NCHW strides (60, 20, 5, 1), double kept");
  const int dims5[5] = {2, 3, 4, 5, 6}, strides5[5] = {400, 1, 90, 15, 2};
  s = api.cudnnSetTensorNdDescriptor(t, CUDNN_DATA_FLOAT, 5, dims5, strides5);
  int nb = 0, gd[8] = {}, gs[8] = {};
  s = s ? s : get.tensorNd(t, 3, &dt, &nb, gd, gs);
  check(s == 0 && nb == 5 && gd[0] == 2 && gd[2] == 4 && gs[1] == 1 && gs[2] == 90 && gd[3] == 0,
        "TensorNd 5-d general strides, first 3 returned");
  const int dims3[3] = {2, 3, 4}, strides3[3] = {12, 4, 1};
  check(api.cudnnSetTensorNdDescriptor(t, CUDNN_DATA_FLOAT, 3, dims3, strides3) == 0, "TensorNd 3-d accepted");
  // Limits as cuDNN 9.24 applies them: 2 dims is the minimum, 8 the maximum.
  const int dims9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 2}, strides9[9] = {2, 2, 2, 2, 2, 2, 2, 2, 1};
  check(api.cudnnSetTensorNdDescriptor(t, CUDNN_DATA_FLOAT, 2, dims3 + 1, strides3 + 1) == 0, "TensorNd 2-d accepted");
  checkFails(api.cudnnSetTensorNdDescriptor(t, CUDNN_DATA_FLOAT, 1, dims3, strides3), 2000, "cudnnSetTensorNdDescriptor",
             "nbDims", "TensorNd 1 dim is BAD_PARAM");
  checkFails(api.cudnnSetTensorNdDescriptor(t, CUDNN_DATA_FLOAT, 9, dims9, strides9), 3000, "cudnnSetTensorNdDescriptor",
             "nbDims", "TensorNd 9 dims not supported");
  checkFails(api.cudnnSetTensorNdDescriptor(t, CUDNN_DATA_INT64, 3, dims3, strides3), 2000, "cudnnSetTensorNdDescriptor",
             "dataType", "TensorNd INT64 rejected by the legacy API");
  // 0 is a valid stride along a dim of 1; negative strides are valid descriptors (cuDNN keeps
  // them) that the stand-in's ops refuse.
  const int dimsB[4] = {2, 1, 4, 5}, stridesB[4] = {20, 0, 5, 1};
  check(api.cudnnSetTensorNdDescriptor(t, CUDNN_DATA_FLOAT, 4, dimsB, stridesB) == 0, "TensorNd stride 0 along a dim of 1");
  const int stridesNeg[4] = {20, 20, -5, 1};
  s = api.cudnnSetTensorNdDescriptor(t, CUDNN_DATA_FLOAT, 4, dimsB, stridesNeg);
  s = s ? s : get.tensorNd(t, 4, &dt, &nb, gd, gs);
  check(s == 0 && gs[2] == -5, "TensorNd negative stride kept by the descriptor");
  {
    const float v = 1.0f;
    std::vector<float> buf(64, 0.0f);
    checkFails(api.cudnnSetTensor(handle, t, buf.data() + 20, &v), 3000, "cudnnSetTensor", "negative strides",
               "ops refuse negative strides");
  }
  // NCHW_VECT_C: vectorized types only, C a multiple of the vector; strides in vectors.
  s = api.cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NCHW_VECT_C, 5 /* INT8x4 */, 2, 8, 3, 5);
  s = s ? s : get.tensor4d(t, &dt, &n, &c, &h, &w, &sn, &sc, &sh, &sw);
  check(s == 0 && dt == 5 && sn == 30 && sc == 15 && sh == 5 && sw == 1, "Tensor4d NCHW_VECT_C INT8x4 strides (30, 15, 5, 1)");
  checkFails(api.cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NCHW_VECT_C, 5, 2, 6, 3, 5), 2000, "cudnnSetTensor4dDescriptor",
             "multiple of 4", "Tensor4d NCHW_VECT_C C not a multiple of 4");
  checkFails(api.cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NCHW_VECT_C, CUDNN_DATA_FLOAT, 2, 8, 3, 5), 2000,
             "cudnnSetTensor4dDescriptor", "vectorized", "Tensor4d NCHW_VECT_C with float");
  // Getters of never-set descriptors read zeros (cuDNN 9.24 does the same).
  {
    cudnnTensorDescriptor_t u = nullptr;
    api.cudnnCreateTensorDescriptor(&u);
    dt = n = c = h = w = sn = sc = sh = sw = -1;
    s = get.tensor4d(u, &dt, &n, &c, &h, &w, &sn, &sc, &sh, &sw);
    const int s2 = get.tensorNd(u, 8, &dt, &nb, gd, gs);
    check(s == 0 && s2 == 0 && dt == 0 && n == 0 && c == 0 && h == 0 && w == 0 && sn == 0 && sw == 0 && nb == 0,
          "getters of an unset tensor descriptor: zeros");
    const int d3[3] = {2, 3, 4}, st3[3] = {12, 4, 1};
    api.cudnnSetTensorNdDescriptor(u, CUDNN_DATA_FLOAT, 3, d3, st3);
    s = get.tensor4d(u, &dt, &n, &c, &h, &w, &sn, &sc, &sh, &sw);
    check(s == 0 && n == 2 && c == 3 && h == 4 && w == 0 && sh == 1 && sw == 0, "Tensor4d getter of a 3-d descriptor");
    api.cudnnDestroyTensorDescriptor(u);
    cudnnConvolutionDescriptor_t uc = nullptr;
    api.cudnnCreateConvolutionDescriptor(&uc);
    int ph = -1, pw = -1, u1 = -1, v1 = -1, dh = -1, dw = -1, mo = -1, ct = -1, mt = -1, g = -1;
    s = get.conv2d(uc, &ph, &pw, &u1, &v1, &dh, &dw, &mo, &ct);
    s = s ? s : get.mathType(uc, &mt);
    s = s ? s : get.groupCount(uc, &g);
    check(s == 0 && ph == 0 && pw == 0 && u1 == 0 && v1 == 0 && dh == 0 && dw == 0 && mo == 0 && ct == 0 && mt == 0 && g == 1,
          "getters of an unset convolution descriptor: zeros, one group");
    Tensor ux, uy;
    Filter uw;
    Rng r0(5);
    makeTensor(ux, 1, 2, 4, 4, kNHWC, &r0);
    makeTensor(uy, 1, 2, 4, 4, kNHWC, &r0);
    makeFilter(uw, 2, 2, 1, 1, true, &r0);
    const float one = 1, zero = 0;
    checkFails(api.cudnnConvolutionForward(handle, &one, ux.d, ux.data.data(), uw.d, uw.data.data(), uc, 1, nullptr, 0, &zero,
                                           uy.d, uy.data.data()),
               2000, "cudnnConvolutionForward", "never set", "conv with an unset convolution descriptor");
    checkFails(api.cudnnSetConvolution2dDescriptor(uc, 0, 0, 1, 1, 1, 1, 1, CUDNN_DATA_INT8), 2000,
               "cudnnSetConvolution2dDescriptor", "computeType", "conv compute type INT8 rejected");
    api.cudnnDestroyConvolutionDescriptor(uc);
    cudnnPoolingDescriptor_t up = nullptr;
    api.cudnnCreatePoolingDescriptor(&up);
    int pv[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
    s = get.pool2d(up, &pv[0], &pv[1], &pv[2], &pv[3], &pv[4], &pv[5], &pv[6], &pv[7]);
    bool zeros = true;
    for (int x : pv) zeros = zeros && x == 0;
    check(s == 0 && zeros, "getter of an unset pooling descriptor: zeros");
    check(api.cudnnSetPooling2dDescriptor(up, 0, 0, 3, 3, -1, -1, 1, 1) == 0, "pooling accepts negative padding (as cuDNN 9.24)");
    api.cudnnDestroyPoolingDescriptor(up);
    cudnnActivationDescriptor_t ua = nullptr;
    api.cudnnCreateActivationDescriptor(&ua);
    int am = -1, an = -1;
    double co = -1;
    s = get.act(ua, &am, &an, &co);
    check(s == 0 && am == CUDNN_ACTIVATION_SIGMOID && an == 0, "getter of an unset activation descriptor");
    api.cudnnDestroyActivationDescriptor(ua);
  }
  const int badStride[4] = {60, 20, 0, 1}, dims4[4] = {2, 3, 4, 5};
  s = api.cudnnSetTensorNdDescriptor(t, CUDNN_DATA_FLOAT, 4, dims4, badStride);
  checkFails(s, 2000, "cudnnSetTensorNdDescriptor", "strideA[2]", "TensorNd zero stride");
  s = api.cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 2, 0, 4, 5);
  checkFails(s, 2000, "cudnnSetTensor4dDescriptor", "c: expected > 0", "Tensor4d zero channel count");
  s = api.cudnnSetTensor4dDescriptor(t, 7, CUDNN_DATA_FLOAT, 2, 3, 4, 5);
  checkFails(s, 2000, "cudnnSetTensor4dDescriptor", "format", "Tensor4d invalid format");
  check(lastError().empty(), "cudnnGetLastErrorString is cleared by the read");

  cudnnFilterDescriptor_t f = nullptr;
  api.cudnnCreateFilterDescriptor(&f);
  int fmt = -1, k = 0;
  s = api.cudnnSetFilter4dDescriptor(f, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, 8, 3, 5, 3);
  s = s ? s : get.filter4d(f, &dt, &fmt, &k, &c, &h, &w);
  check(s == 0 && dt == 0 && fmt == CUDNN_TENSOR_NHWC && k == 8 && c == 3 && h == 5 && w == 3, "GetFilter4dDescriptor");

  cudnnConvolutionDescriptor_t cd = nullptr;
  api.cudnnCreateConvolutionDescriptor(&cd);
  int ph, pw, u, v, dh, dw, mode, ct, mt, g;
  s = api.cudnnSetConvolution2dDescriptor(cd, 1, 2, 3, 1, 2, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT);
  s = s ? s : api.cudnnSetConvolutionMathType(cd, CUDNN_FMA_MATH);
  s = s ? s : api.cudnnSetConvolutionGroupCount(cd, 1);
  s = s ? s : get.conv2d(cd, &ph, &pw, &u, &v, &dh, &dw, &mode, &ct);
  s = s ? s : get.mathType(cd, &mt);
  s = s ? s : get.groupCount(cd, &g);
  check(s == 0 && ph == 1 && pw == 2 && u == 3 && v == 1 && dh == 2 && dw == 1 && mode == 1 && ct == 0 && mt == 3 && g == 1,
        "GetConvolution2dDescriptor / MathType / GroupCount");
  checkFails(api.cudnnSetConvolution2dDescriptor(cd, -1, 0, 1, 1, 1, 1, 1, 0), 2000, "cudnnSetConvolution2dDescriptor",
             "pad_h", "conv negative padding");
  checkFails(api.cudnnSetConvolution2dDescriptor(cd, 0, 0, 1, 0, 1, 1, 1, 0), 2000, "cudnnSetConvolution2dDescriptor", "v:",
             "conv zero stride");
  checkFails(api.cudnnSetConvolution2dDescriptor(cd, 0, 0, 1, 1, 1, 0, 1, 0), 2000, "cudnnSetConvolution2dDescriptor",
             "dilation_w", "conv zero dilation");
  checkFails(api.cudnnSetConvolutionGroupCount(cd, 0), 2000, "cudnnSetConvolutionGroupCount", "groupCount", "conv zero groups");
  checkFails(api.cudnnSetConvolutionMathType(cd, 9), 2000, "cudnnSetConvolutionMathType", "mathType", "conv bad math type");

  // output dims: channel mismatch and empty output
  s = api.cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, 4, 4, 4);
  s = s ? s : api.cudnnSetConvolution2dDescriptor(cd, 0, 0, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT);
  checkFails(api.cudnnGetConvolution2dForwardOutputDim(cd, t, f, &n, &c, &h, &w), 2000,
             "cudnnGetConvolution2dForwardOutputDim", "filterDesc", "output dim: filter channels differ from x");
  api.cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, 3, 4, 4);
  checkFails(api.cudnnGetConvolution2dForwardOutputDim(cd, t, f, &n, &c, &h, &w), 2000,
             "cudnnGetConvolution2dForwardOutputDim", "larger than the padded input", "output dim: filter larger than input");
  // two groups with k = 5: the size query does not check k (as cuDNN), the ops need k % groups == 0
  {
    cudnnFilterDescriptor_t f5 = nullptr;
    api.cudnnCreateFilterDescriptor(&f5);
    api.cudnnSetFilter4dDescriptor(f5, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, 5, 2, 3, 3);
    api.cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, 4, 6, 6);
    api.cudnnSetConvolution2dDescriptor(cd, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT);
    api.cudnnSetConvolutionGroupCount(cd, 2);
    s = api.cudnnGetConvolution2dForwardOutputDim(cd, t, f5, &n, &c, &h, &w);
    check(s == 0 && c == 5 && h == 6, "output dim with groups 2 and k 5");
    cudnnTensorDescriptor_t y5 = nullptr;
    api.cudnnCreateTensorDescriptor(&y5);
    api.cudnnSetTensor4dDescriptor(y5, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, 5, 6, 6);
    std::vector<float> xb(144), wb(90), yb(180);
    const float one = 1, zero = 0;
    checkFails(api.cudnnConvolutionForward(handle, &one, t, xb.data(), f5, wb.data(), cd, 1, nullptr, 0, &zero, y5, yb.data()),
               2000, "cudnnConvolutionForward", "divisible by groupCount", "conv fwd k not divisible by groups");
    api.cudnnSetConvolutionGroupCount(cd, 1);
    api.cudnnDestroyTensorDescriptor(y5);
    api.cudnnDestroyFilterDescriptor(f5);
    api.cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, 3, 4, 4);
    api.cudnnSetConvolution2dDescriptor(cd, 0, 0, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT);
  }
  // a filter descriptor passed where a tensor descriptor belongs
  checkFails(api.cudnnGetConvolution2dForwardOutputDim(cd, reinterpret_cast<cudnnTensorDescriptor_t>(f), f, &n, &c, &h, &w),
             2000, "cudnnGetConvolution2dForwardOutputDim", "inputTensorDesc", "wrong descriptor kind");
  checkFails(api.cudnnSetStream(nullptr, nullptr), 2000, "cudnnSetStream", "handle", "NULL handle");

  api.cudnnDestroyConvolutionDescriptor(cd);
  api.cudnnDestroyFilterDescriptor(f);
  api.cudnnDestroyTensorDescriptor(t);
}

void testConvErrors() {
  Rng rng(29);
  Tensor x, y, yBad, xd;
  Filter w;
  makeTensor(x, 1, 3, 6, 6, kNHWC, &rng);
  makeTensor(y, 1, 4, 6, 6, kNHWC, &rng);
  makeTensor(yBad, 1, 4, 5, 6, kNHWC, &rng);
  makeFilter(w, 4, 3, 3, 3, true, &rng);
  api.cudnnCreateTensorDescriptor(&xd.d);
  api.cudnnSetTensor4dDescriptor(xd.d, CUDNN_TENSOR_NHWC, CUDNN_DATA_DOUBLE, 1, 3, 6, 6);
  ConvDescs cd;
  api.cudnnCreateConvolutionDescriptor(&cd.d);
  api.cudnnSetConvolution2dDescriptor(cd.d, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT);
  const float one = 1, zero = 0;
  const char* fwd = "cudnnConvolutionForward";
  checkFails(api.cudnnConvolutionForward(handle, &one, x.d, x.data.data(), w.d, w.data.data(), cd.d, 1, nullptr, 0, &zero,
                                         yBad.d, yBad.data.data()),
             2000, fwd, "yDesc", "conv fwd output dims mismatch");
  checkFails(api.cudnnConvolutionForward(handle, &one, xd.d, x.data.data(), w.d, w.data.data(), cd.d, 1, nullptr, 0, &zero,
                                         y.d, y.data.data()),
             3000, fwd, "CUDNN_DATA_DOUBLE", "conv fwd double data not supported");
  checkFails(api.cudnnConvolutionForward(handle, &one, x.d, nullptr, w.d, w.data.data(), cd.d, 1, nullptr, 0, &zero, y.d,
                                         y.data.data()),
             2000, fwd, "x:", "conv fwd NULL x");
  checkFails(api.cudnnConvolutionForward(handle, nullptr, x.d, x.data.data(), w.d, w.data.data(), cd.d, 1, nullptr, 0,
                                         &zero, y.d, y.data.data()),
             2000, fwd, "alpha", "conv fwd NULL alpha");
  checkFails(api.cudnnConvolutionForward(handle, &one, x.d, x.data.data(), w.d, w.data.data(), cd.d, 99, nullptr, 0, &zero,
                                         y.d, y.data.data()),
             2000, fwd, "algo", "conv fwd algo out of range");
  checkFails(api.cudnnConvolutionForward(handle, &one, x.d, x.data.data(), w.d, w.data.data(), cd.d,
                                         CUDNN_CONVOLUTION_FWD_ALGO_FFT, nullptr, 0, &zero, y.d, y.data.data()),
             3000, fwd, "algo", "conv fwd algorithm not offered");
  checkFails(api.cudnnConvolutionBackwardData(handle, &one, w.d, w.data.data(), yBad.d, yBad.data.data(), cd.d, 1, nullptr,
                                              0, &zero, x.d, x.data.data()),
             2000, "cudnnConvolutionBackwardData", "dyDesc", "conv bwd-data dy dims mismatch");
  checkFails(api.cudnnConvolutionBackwardFilter(handle, &one, x.d, x.data.data(), y.d, y.data.data(), cd.d, 1, nullptr, 0,
                                                &zero, reinterpret_cast<cudnnFilterDescriptor_t>(x.d), w.data.data()),
             2000, "cudnnConvolutionBackwardFilter", "dwDesc", "conv bwd-filter tensor passed as filter");
  cudnnConvolutionAlgoPerf_t perf[8];
  int returned = 0;
  checkFails(api.cudnnGetConvolutionForwardAlgorithm_v7(handle, x.d, w.d, cd.d, y.d, 0, &returned, perf), 2000,
             "cudnnGetConvolutionForwardAlgorithm_v7", "requestedAlgoCount", "v7 with zero requested");
  size_t ws = 0;
  checkFails(api.cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, x.d, y.d, cd.d, w.d, 42, &ws), 2000,
             "cudnnGetConvolutionBackwardFilterWorkspaceSize", "algo", "workspace query bad algo");
  Tensor db;
  makeTensor(db, 1, 3, 1, 1, kNCHW, &rng);
  checkFails(api.cudnnConvolutionBackwardBias(handle, &one, y.d, y.data.data(), &zero, db.d, db.data.data()), 2000,
             "cudnnConvolutionBackwardBias", "dbDesc", "bias gradient wrong channel count");
  Tensor A;
  makeTensor(A, 1, 2, 1, 1, kNCHW, &rng);
  checkFails(api.cudnnAddTensor(handle, &one, A.d, A.data.data(), &zero, y.d, y.data.data()), 2000, "cudnnAddTensor", "aDesc",
             "AddTensor non-broadcastable dims");
  cudnnPoolingDescriptor_t pd = nullptr;
  api.cudnnCreatePoolingDescriptor(&pd);
  checkFails(api.cudnnSetPooling2dDescriptor(pd, 0, 0, 0, 2, 0, 0, 1, 1), 2000, "cudnnSetPooling2dDescriptor", "windowHeight",
             "pooling zero window");
  api.cudnnSetPooling2dDescriptor(pd, 0, 0, 8, 2, 0, 0, 1, 1);
  int n, c, h, w2;
  checkFails(api.cudnnGetPooling2dForwardOutputDim(pd, x.d, &n, &c, &h, &w2), 2000, "cudnnGetPooling2dForwardOutputDim",
             "window", "pooling window larger than input");
  api.cudnnDestroyPoolingDescriptor(pd);
  checkFails(api.cudnnSoftmaxForward(handle, 5, 0, &one, x.d, x.data.data(), &zero, x.d, x.data.data()), 2000,
             "cudnnSoftmaxForward", "algo", "softmax bad algorithm");
  cudnnActivationDescriptor_t ad = nullptr;
  api.cudnnCreateActivationDescriptor(&ad);
  checkFails(api.cudnnActivationForward(handle, ad, &one, x.d, x.data.data(), &zero, x.d, x.data.data()), 2000,
             "cudnnActivationForward", "activationDesc", "activation descriptor never set");
  api.cudnnSetActivationDescriptor(ad, CUDNN_ACTIVATION_RELU, 0, 0.0);
  checkFails(api.cudnnActivationForward(handle, ad, &one, x.d, x.data.data(), &zero, y.d, y.data.data()), 2000,
             "cudnnActivationForward", "yDesc", "activation x/y dims mismatch");
  api.cudnnDestroyActivationDescriptor(ad);
}

template <class T>
bool resolve(void* lib, const char* name, T* out) {
  *out = reinterpret_cast<T>(dlsym(lib, name));
  if (!*out) std::printf("FAIL missing symbol %s\n", name), failed++;
  return *out != nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s path/to/libscse_cudnn_emu.so\n", argv[0]);
    return 2;
  }
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    std::printf("FAIL dlopen %s: %s\n0 passed, 1 failed\n", argv[1], dlerror());
    return 1;
  }
  bool all = true;
#define RESOLVE(name) all = resolve(lib, #name, &api.name) && all;
  SCSE_CUDNN_REQUIRED(RESOLVE)
  SCSE_CUDNN_OPTIONAL(RESOLVE)
#undef RESOLVE
  all = resolve(lib, "cudnnGetTensor4dDescriptor", &get.tensor4d) && all;
  all = resolve(lib, "cudnnGetTensorNdDescriptor", &get.tensorNd) && all;
  all = resolve(lib, "cudnnGetFilter4dDescriptor", &get.filter4d) && all;
  all = resolve(lib, "cudnnGetConvolution2dDescriptor", &get.conv2d) && all;
  all = resolve(lib, "cudnnGetConvolutionMathType", &get.mathType) && all;
  all = resolve(lib, "cudnnGetConvolutionGroupCount", &get.groupCount) && all;
  all = resolve(lib, "cudnnGetPooling2dDescriptor", &get.pool2d) && all;
  all = resolve(lib, "cudnnGetActivationDescriptor", &get.act) && all;
  check(all, "every required, optional and getter symbol resolves");
  if (!all) {
    std::printf("%d passed, %d failed\n", passed, failed);
    return 1;
  }
  check(api.cudnnCreate(&handle) == 0 && handle, "cudnnCreate");

  testDescriptorsAndVersion();
  testConvolutions();
  testConvAdjoint();
  testBiasAddSet();
  testActivations();
  testPooling();
  testSoftmax();
  testBatchNorm();
  testConvErrors();
  testFindAndTiming();

  check(api.cudnnDestroy(handle) == 0, "cudnnDestroy");
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
