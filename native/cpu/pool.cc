// Pooling over NHWC activations (OpenMP kernels):
//   maxPool2d(x, kernel, stride) -> [y, indices]; maxPool2dBackward(dy, indices, xShape[, kernel, stride]) -> dx
//   maxUnpool2d(x, indices, H, W) -> y;           maxUnpool2dBackward(dy, indices) -> dx
//   globalAvgPool(x) -> [N,1,1,C];                 globalAvgPoolBackward(dy, xShape) -> dx
// Indices follow PyTorch: int32 [N,OH,OW,C] holding h*W + w of the chosen input pixel within its
// (n, c) plane. Output sizes use floor ("valid" windows only): odd H/W drop the last row/col.
// Ties pick the first element in window scan order (row by row), so results are deterministic.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/dispatch.h"
#include "core/registry.h"
#include "cpu/parallel.h"
#include "math/pool.h"

namespace scse {
namespace {

constexpr int64_t kChanBlock = 64;  // channels per task in the scatter/gather kernels

struct Dims {
  int64_t N, H, W, C;
};

Dims nhwcArg(NTensor* t, const char* op, const char* arg) {
  expectRank(t, 4, op, arg);
  const Shape& s = t->shape();
  return {s[0], s[1], s[2], s[3]};
}

Shape shape4Arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* arg) {
  Shape s = shapeArg(info, i, op, arg);
  if (s.size() != 4) fail(op, std::string("argument '") + arg + "' must be a 4-D shape [N, H, W, C], got " + shapeStr(s));
  return s;
}

Napi::Object zeros(Napi::Env env, const Shape& s) {
  Napi::Object o = NTensor::New(env, s, DType::F32);
  float* p = NTensor::Unwrap(o)->f32();
  const int64_t n = numel(s);
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; i++) p[i] = 0.0f;
  return o;
}

// "holds 24 at [0, 1, 2, 2]": the value of indices at flat position `pos`, and where it is.
std::string indexAt(const NTensor* idx, int64_t pos) {
  const Shape& s = idx->shape();
  int64_t c = pos % s[3], w = (pos / s[3]) % s[2], h = (pos / (s[3] * s[2])) % s[1], nn = pos / (s[3] * s[2] * s[1]);
  return "holds " + std::to_string(elementI32(idx, pos)) + " at [" + std::to_string(nn) + ", " + std::to_string(h) + ", " +
         std::to_string(w) + ", " + std::to_string(c) + "]";
}

// The error for an index outside [0, plane) at flat position `pos` (CPU check and CUDA flag alike).
[[noreturn]] void badIndex(const NTensor* idx, int64_t pos, int64_t plane, const char* op, const std::string& what) {
  fail(op, "argument 'indices' " + indexAt(idx, pos) + ", outside [0, " + std::to_string(plane) + ") for " + what);
}

// Throws (naming op and argument) unless every index lies in [0, plane).
void checkIndices(const NTensor* idx, int64_t plane, const char* op, const std::string& what) {
  const int32_t* p = idx->i32();
  const int64_t n = idx->numel();
  int64_t bad = -1;
#pragma omp parallel for schedule(static) reduction(max : bad) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; i++) {
    if (p[i] < 0 || p[i] >= plane) bad = std::max(bad, i);
  }
  if (bad >= 0) badIndex(idx, bad, plane, op, what);
}

// Runs f(n, c0, c1) over every (batch item, channel block): each task owns whole (n, c) planes,
// so scatters into them need no atomics and accumulate in a fixed order.
template <typename F>
void forPlanes(int64_t N, int64_t C, int64_t workPerPlane, F&& f) {
  const int64_t blocks = (C + kChanBlock - 1) / kChanBlock;
#pragma omp parallel for schedule(static) if (N * C * workPerPlane > kParallelGrain)
  for (int64_t t = 0; t < N * blocks; t++) {
    int64_t n = t / blocks, c0 = (t % blocks) * kChanBlock;
    f(n, c0, std::min(C, c0 + kChanBlock));
  }
}

// ---- max pooling -----------------------------------------------------------------------------
Napi::Value MaxPool2d(const Napi::CallbackInfo& info) {
  const char* op = "maxPool2d";
  NTensor* x = tensorArg(info, 0, op, "x");
  int64_t k = intArg(info, 1, op, "kernel");
  int64_t s = intArg(info, 2, op, "stride");
  Dims d = nhwcArg(x, op, "x");
  if (k < 1) fail(op, "argument 'kernel' must be >= 1, got " + std::to_string(k));
  if (s < 1) fail(op, "argument 'stride' must be >= 1, got " + std::to_string(s));
  if (d.H < k || d.W < k) {
    fail(op, "argument 'x' " + shapeStr(x->shape()) + " is smaller than the " + std::to_string(k) + "x" + std::to_string(k) + " kernel");
  }
  if (d.H * d.W > INT32_MAX) fail(op, "argument 'x' planes are too large for int32 indices");
  const int64_t OH = math::poolOutSize(d.H, k, s), OW = math::poolOutSize(d.W, k, s), C = d.C;
  SCSE_ON_CUDA(deviceOf(op, {{"x", x}}), cudaops::maxPool2d(info.Env(), x, k, s, OH, OW));
  Napi::Env env = info.Env();
  Napi::Object yo = NTensor::New(env, {d.N, OH, OW, C}, DType::F32);
  Napi::Object io = NTensor::New(env, {d.N, OH, OW, C}, DType::I32);
  float* y = NTensor::Unwrap(yo)->f32();
  int32_t* ix = NTensor::Unwrap(io)->i32();
  const float* xs = x->f32();
  parallelFor(d.N * OH, OW * C * k * k, [&](int64_t r) {
    const int64_t n = r / OH, oh = r % OH;
    for (int64_t ow = 0; ow < OW; ow++) {
      float* yr = y + (r * OW + ow) * C;
      int32_t* ir = ix + (r * OW + ow) * C;
      const int64_t h0 = oh * s, w0 = ow * s;
      for (int64_t kh = 0; kh < k; kh++) {
        for (int64_t kw = 0; kw < k; kw++) {
          const int64_t h = h0 + kh, w = w0 + kw;
          const float* xr = xs + ((n * d.H + h) * d.W + w) * C;
          const int32_t pos = int32_t(h * d.W + w);
          if (kh == 0 && kw == 0) {
            for (int64_t c = 0; c < C; c++) {
              yr[c] = xr[c];
              ir[c] = pos;
            }
            continue;
          }
          // strictly greater keeps the first maximum; a NaN wins (and stays) like in PyTorch
          for (int64_t c = 0; c < C; c++) {
            const float v = xr[c];
            if (math::maxPoolTakes(v, yr[c])) {
              yr[c] = v;
              ir[c] = pos;
            }
          }
        }
      }
    }
  });
  Napi::Array r = Napi::Array::New(env, 2);
  r.Set(0u, yo);
  r.Set(1u, io);
  return r;
}

// dx = 0, then dx[n, indices, c] += dy (overlapping windows may pick one pixel twice). The
// forward's kernel and stride are optional on the CPU (checked against the shapes when given)
// and required on CUDA, whose kernel gathers over each pixel's windows.
Napi::Value MaxPool2dBackward(const Napi::CallbackInfo& info) {
  const char* op = "maxPool2dBackward";
  NTensor* dy = tensorArg(info, 0, op, "dy");
  NTensor* idx = tensorArg(info, 1, op, "indices", DType::I32);
  Shape xs = shape4Arg(info, 2, op, "xShape");
  Dims o = nhwcArg(dy, op, "dy");
  expectSameShape(dy, idx, op, "dy", "indices");
  if (xs[0] != o.N || xs[3] != o.C) {
    fail(op, "argument 'xShape' " + shapeStr(xs) + " must match 'dy' " + shapeStr(dy->shape()) + " in batch and channels");
  }
  const bool geometry = info.Length() > 3 && !info[3].IsUndefined() && !info[3].IsNull();
  int64_t k = 0, s = 0;
  if (geometry) {
    k = intArg(info, 3, op, "kernel");
    s = intArg(info, 4, op, "stride");
    if (k < 1 || s < 1) fail(op, "arguments 'kernel' and 'stride' must be >= 1, got " + std::to_string(k) + " and " + std::to_string(s));
    if (xs[1] < k || xs[2] < k || o.H != math::poolOutSize(xs[1], k, s) || o.W != math::poolOutSize(xs[2], k, s)) {
      fail(op, "argument 'dy' " + shapeStr(dy->shape()) + " is not the output of a " + std::to_string(k) + "x" + std::to_string(k) +
                   " stride " + std::to_string(s) + " pooling of 'xShape' " + shapeStr(xs));
    }
  }
  const int64_t plane = xs[1] * xs[2], C = o.C, P = o.H * o.W;
  const std::string what = "input planes of " + std::to_string(xs[1]) + "x" + std::to_string(xs[2]);
  const Device dev = deviceOf(op, {{"dy", dy}, {"indices", idx}});
  if (dev.isCuda() && !geometry) fail(op, "arguments 'kernel' and 'stride' (of the forward) are required on CUDA");
  SCSE_ON_CUDA(dev, cudaops::maxPool2dBackward(info.Env(), dy, idx, xs, k, s, [&](int slot, int64_t pos) {
    if (slot == 0) badIndex(idx, pos, plane, op, what);
    fail(op, "argument 'indices' " + indexAt(idx, pos) + ", which is not in its own " + std::to_string(k) + "x" +
                 std::to_string(k) + " stride " + std::to_string(s) +
                 " window (indices must come from maxPool2d with the same kernel and stride)");
  }));
  checkIndices(idx, plane, op, what);
  Napi::Object dxo = zeros(info.Env(), xs);
  float* dx = NTensor::Unwrap(dxo)->f32();
  const float* g = dy->f32();
  const int32_t* ip = idx->i32();
  forPlanes(o.N, C, P, [&](int64_t n, int64_t c0, int64_t c1) {
    float* dxn = dx + n * plane * C;
    for (int64_t p = 0; p < P; p++) {
      const int64_t off = (n * P + p) * C;
      for (int64_t c = c0; c < c1; c++) dxn[int64_t(ip[off + c]) * C + c] += g[off + c];
    }
  });
  return dxo;
}

// ---- max unpooling ---------------------------------------------------------------------------
// y = 0, y[n, indices, c] = x. If two entries name the same pixel the later one (scan order) wins.
Napi::Value MaxUnpool2d(const Napi::CallbackInfo& info) {
  const char* op = "maxUnpool2d";
  NTensor* x = tensorArg(info, 0, op, "x");
  NTensor* idx = tensorArg(info, 1, op, "indices", DType::I32);
  int64_t H = intArg(info, 2, op, "outputSize[0]");
  int64_t W = intArg(info, 3, op, "outputSize[1]");
  Dims d = nhwcArg(x, op, "x");
  expectSameShape(x, idx, op, "x", "indices");
  if (H < 1 || W < 1) fail(op, "argument 'outputSize' must be positive, got [" + std::to_string(H) + ", " + std::to_string(W) + "]");
  const int64_t plane = H * W, C = d.C, P = d.H * d.W;
  const std::string what = "output size [" + std::to_string(H) + ", " + std::to_string(W) + "]";
  SCSE_ON_CUDA(deviceOf(op, {{"x", x}, {"indices", idx}}),
               cudaops::maxUnpool2d(info.Env(), x, idx, H, W, [&](int, int64_t pos) { badIndex(idx, pos, plane, op, what); }));
  checkIndices(idx, plane, op, what);
  Napi::Object yo = zeros(info.Env(), {d.N, H, W, C});
  float* y = NTensor::Unwrap(yo)->f32();
  const float* xs = x->f32();
  const int32_t* ip = idx->i32();
  forPlanes(d.N, C, P, [&](int64_t n, int64_t c0, int64_t c1) {
    float* yn = y + n * plane * C;
    for (int64_t p = 0; p < P; p++) {
      const int64_t off = (n * P + p) * C;
      for (int64_t c = c0; c < c1; c++) yn[int64_t(ip[off + c]) * C + c] = xs[off + c];
    }
  });
  return yo;
}

// dx = dy gathered at the indices (PyTorch's convention, also when indices repeat)
Napi::Value MaxUnpool2dBackward(const Napi::CallbackInfo& info) {
  const char* op = "maxUnpool2dBackward";
  NTensor* dy = tensorArg(info, 0, op, "dy");
  NTensor* idx = tensorArg(info, 1, op, "indices", DType::I32);
  Dims o = nhwcArg(dy, op, "dy");
  Dims d = nhwcArg(idx, op, "indices");
  if (d.N != o.N || d.C != o.C) {
    fail(op, "argument 'indices' " + shapeStr(idx->shape()) + " must match 'dy' " + shapeStr(dy->shape()) + " in batch and channels");
  }
  const int64_t plane = o.H * o.W, C = d.C, P = d.H * d.W;
  const std::string what = "output size [" + std::to_string(o.H) + ", " + std::to_string(o.W) + "]";
  SCSE_ON_CUDA(deviceOf(op, {{"dy", dy}, {"indices", idx}}),
               cudaops::maxUnpool2dBackward(info.Env(), dy, idx, [&](int, int64_t pos) { badIndex(idx, pos, plane, op, what); }));
  checkIndices(idx, plane, op, what);
  Napi::Object dxo = NTensor::New(info.Env(), idx->shape(), DType::F32);
  float* dx = NTensor::Unwrap(dxo)->f32();
  const float* g = dy->f32();
  const int32_t* ip = idx->i32();
  parallelFor(d.N * P, C, [&](int64_t r) {
    const float* gn = g + (r / P) * plane * C;
    for (int64_t c = 0; c < C; c++) dx[r * C + c] = gn[int64_t(ip[r * C + c]) * C + c];
  });
  return dxo;
}

// ---- global average pooling ------------------------------------------------------------------
Napi::Value GlobalAvgPool(const Napi::CallbackInfo& info) {
  const char* op = "globalAvgPool";
  NTensor* x = tensorArg(info, 0, op, "x");
  Dims d = nhwcArg(x, op, "x");
  if (d.H * d.W == 0) fail(op, "argument 'x' " + shapeStr(x->shape()) + " has empty planes");
  SCSE_ON_CUDA(deviceOf(op, {{"x", x}}), cudaops::globalAvgPool(info.Env(), x));
  const int64_t P = d.H * d.W, C = d.C, NC = d.N * C;
  Napi::Object yo = NTensor::New(info.Env(), {d.N, 1, 1, C}, DType::F32);
  float* y = NTensor::Unwrap(yo)->f32();
  const float* xs = x->f32();
  // Threads split the pixel rows and sum into private double buffers [N, C], added up at the end:
  // parallel even for N = 1 and deterministic for a fixed thread count.
  const int nt = omp_get_max_threads();
  std::vector<double> partial(size_t(nt) * size_t(NC), 0.0);
#pragma omp parallel if (x->numel() > kParallelGrain)
  {
    double* acc = partial.data() + size_t(omp_get_thread_num()) * size_t(NC);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < d.N * P; r++) {
      double* an = acc + (r / P) * C;
      const float* xr = xs + r * C;
      for (int64_t c = 0; c < C; c++) an[c] += xr[c];
    }
  }
  const double inv = 1.0 / double(P);
  for (int64_t i = 0; i < NC; i++) {
    double s = 0;
    for (int t = 0; t < nt; t++) s += partial[size_t(t) * size_t(NC) + size_t(i)];
    y[i] = float(s * inv);
  }
  return yo;
}

// dx[n, h, w, c] = dy[n, c] / (H * W)
Napi::Value GlobalAvgPoolBackward(const Napi::CallbackInfo& info) {
  const char* op = "globalAvgPoolBackward";
  NTensor* dy = tensorArg(info, 0, op, "dy");
  Shape xs = shape4Arg(info, 1, op, "xShape");
  const int64_t N = xs[0], P = xs[1] * xs[2], C = xs[3];
  expectShape(dy, {N, 1, 1, C}, op, "dy");
  if (P == 0) fail(op, "argument 'xShape' " + shapeStr(xs) + " has empty planes");
  SCSE_ON_CUDA(deviceOf(op, {{"dy", dy}}), cudaops::globalAvgPoolBackward(info.Env(), dy, xs));
  Napi::Object dxo = NTensor::New(info.Env(), xs, DType::F32);
  float* dx = NTensor::Unwrap(dxo)->f32();
  const float* g = dy->f32();
  const float inv = float(1.0 / double(P));
  parallelFor(N * P, C, [&](int64_t r) {
    const float* gn = g + (r / P) * C;
    float* dr = dx + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; c++) dr[c] = gn[c] * inv;
  });
  return dxo;
}

}  // namespace

void registerPool(Napi::Env, Napi::Object exports) {
  SCSE_EXPORT(exports, "maxPool2d", MaxPool2d);
  SCSE_EXPORT(exports, "maxPool2dBackward", MaxPool2dBackward);
  SCSE_EXPORT(exports, "maxUnpool2d", MaxUnpool2d);
  SCSE_EXPORT(exports, "maxUnpool2dBackward", MaxUnpool2dBackward);
  SCSE_EXPORT(exports, "globalAvgPool", GlobalAvgPool);
  SCSE_EXPORT(exports, "globalAvgPoolBackward", GlobalAvgPoolBackward);
}

}  // namespace scse
