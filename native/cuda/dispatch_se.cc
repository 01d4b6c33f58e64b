// CUDA twins of native/cpu/se.cc: the fused SE kernels of se.cu (se_kernels.h). The forward
// reports NaN/Inf in x (or the parameters) through an error flag, with the CPU op's message.
#include "cuda/dispatch.h"
#include "cuda/dispatch_util.h"
#include "cuda/device.h"
#include "cuda/ops.h"
#include "cuda/se_kernels.h"

namespace scse::cudaops {

using detail::dev;
using detail::Flags;
using detail::optF32;
using detail::Out;

namespace {
// se.cu keeps per-warp channel partials in shared memory (8 warps; the backward two arrays):
// 64·C bytes against the 48 KiB every device gives without opting in.
constexpr int64_t kMaxCudaChannels = 768;

cuda::SeDeviceArgs deviceArgs(const SeTensors& a) {
  if (a.C > kMaxCudaChannels) {
    fail("squeezeExcite", "the fused CUDA kernels take at most " + std::to_string(kMaxCudaChannels) +
                              " channels, got C = " + std::to_string(a.C) + " (use impl: 'composed')");
  }
  cuda::SeDeviceArgs d{};
  d.mode = a.mode;
  d.N = a.N, d.P = a.H * a.W, d.C = a.C, d.Cr = a.Cr;
  d.x = a.x->devF32();
  d.w1 = optF32(a.w1), d.b1 = optF32(a.b1), d.w2 = optF32(a.w2), d.b2 = optF32(a.b2);
  d.wsq = optF32(a.wsq), d.bsq = optF32(a.bsq);
  return d;
}
}  // namespace

Napi::Value seForward(Napi::Env env, const SeTensors& a, const BadFn& bad) {
  const Device where = a.x->device();
  const int64_t Cr = std::max<int64_t>(a.Cr, 1);
  Out y(where, a.x->shape()), z(where, {a.N, a.C}), hpre(where, {a.N, Cr}), s(where, {a.N, a.C}), q(where, {a.N, a.H, a.W});
  // An empty batch has nothing to compute, and se.cu's grids (N blocks in y) would be empty
  // launches, which CUDA rejects; the CPU op returns the empty outputs.
  if (a.N == 0) return arrayOf(env, {y.handle(env), z.handle(env), hpre.handle(env), s.handle(env), q.handle(env)});
  cuda::SeDeviceArgs d = deviceArgs(a);
  d.z = z.f32(), d.hpre = hpre.f32(), d.s = s.f32(), d.q = q.f32();
  Flags flags(dev(a.x), 1);
  d.bad = flags.get();
  void* stream = cuda::deviceStream(dev(a.x));  // also makes the device current on this thread
  cuda::check(cuda::seForwardLaunch(d, y.f32(), stream), "seForward");
  flags.check(bad);  // waits for the kernels, as the CPU op's check does
  return arrayOf(env, {y.handle(env), z.handle(env), hpre.handle(env), s.handle(env), q.handle(env)});
}

Napi::Value seBackward(Napi::Env env, const SeTensors& a, NTensor* dy, NTensor* z, NTensor* hpre, NTensor* s, NTensor* q) {
  const Device where = a.x->device();
  const bool ch = a.w1 != nullptr, sp = a.wsq != nullptr, bias = a.b1 != nullptr;
  cuda::SeDeviceArgs d = deviceArgs(a);
  d.z = z->devF32(), d.hpre = hpre->devF32(), d.s = s->devF32(), d.q = q->devF32();
  Out dx(where, a.x->shape());
  // parameter gradients (zeroed by the launcher); absent ones stay unallocated
  std::unique_ptr<Out> dw1, db1, dw2, db2, dwsq, dbsq;
  if (ch) dw1 = std::make_unique<Out>(where, Shape{a.Cr, a.C}), dw2 = std::make_unique<Out>(where, Shape{a.C, a.Cr});
  if (ch && bias) db1 = std::make_unique<Out>(where, Shape{a.Cr}), db2 = std::make_unique<Out>(where, Shape{a.C});
  if (sp) dwsq = std::make_unique<Out>(where, Shape{1, 1, 1, a.C}), dbsq = std::make_unique<Out>(where, Shape{1});
  cuda::DeviceBuffer ds(dev(a.x), size_t(a.N * a.C) * sizeof(float)), dqpre(dev(a.x), size_t(a.N * a.H * a.W) * sizeof(float));
  auto ptr = [](const std::unique_ptr<Out>& o) { return o ? o->f32() : nullptr; };
  cuda::SeDeviceGrads g{};
  g.dy = dy->devF32();
  g.dx = dx.f32();
  g.dw1 = ptr(dw1), g.db1 = ptr(db1), g.dw2 = ptr(dw2), g.db2 = ptr(db2), g.dwsq = ptr(dwsq), g.dbsq = ptr(dbsq);
  g.ds = static_cast<float*>(ds.get()), g.dqpre = static_cast<float*>(dqpre.get());
  if (a.N == 0) {
    // Empty batch: no launch (empty grids are errors); the parameter gradients are zeros, as on the CPU.
    auto zero = [&](const std::unique_ptr<Out>& o, int64_t n) {
      if (o) cuda::fillF32(dev(a.x), o->f32(), 0.0f, n);
    };
    zero(dw1, a.Cr * a.C), zero(db1, a.Cr), zero(dw2, a.C * a.Cr), zero(db2, a.C), zero(dwsq, a.C), zero(dbsq, 1);
  } else {
    void* stream = cuda::deviceStream(dev(a.x));
    cuda::check(cuda::seBackwardLaunch(d, g, stream), "seBackward");
  }
  auto handle = [&](const std::unique_ptr<Out>& o) { return o ? Napi::Value(o->handle(env)) : env.Null(); };
  return arrayOf(env, {dx.handle(env), handle(dw1), handle(db1), handle(dw2), handle(db2), handle(dwsq), handle(dbsq)});
}

}  // namespace scse::cudaops
