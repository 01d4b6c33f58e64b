// What norm_act_se.cc (batch norm + activation + SE in one op) borrows from norm_act.cc (batch
// norm + activation): the activation argument, the batch statistics and the per-channel vectors
// of the normalizing passes.
#pragma once
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/check.h"
#include "core/tensor.h"
#include "math/norm.h"

namespace scse::normact {

using math::NormAct;

// The activation code (0 none, 1 ReLU, 2 PReLU) at argument i and, for PReLU, the slope at i + 1
// ([1] or [C]; the argument must be null otherwise), for an input of `shape` with C channels.
// Returns the slope per channel (zeros when unused).
NormAct actArgs(const Napi::CallbackInfo& info, size_t i, int64_t C, const Shape& shape, const char* op, NTensor** slopeOut,
                std::vector<float>* slopes);

// PReLU's slope gradient from its per-channel sums: summed for a shared slope ([1]), else per channel.
Napi::Value slopeGrad(Napi::Env env, const NTensor* slope, const double* perChannel, int64_t C);

// The backward of a batch norm whose statistics are the batch's (over `count` values per channel),
// from Σg and Σg·(x − mean) per channel (g = dL/dz): dx = scale·g + B·(x − mean) + D, that is
// scale·(g − Σg/count − x̂·Σ(g·x̂)/count).
void dxCoefficients(const float* scale, const float* var, float eps, const double* sg, const double* sgx, double count, int64_t C,
                    float* B, float* D);

// dgamma = Σg·x̂ and dbeta = Σg as [C] tensors.
std::pair<Napi::Object, Napi::Object> gammaBetaGrads(Napi::Env env, const double* sg, const double* sgx, const float* var, float eps,
                                                     int64_t C);

// Batch mean and biased variance per channel of x [N, H, W, C], as batchNormActTrain computes them.
void batchStatistics(const float* x, int64_t N, int64_t H, int64_t W, int64_t C, float* mean, float* var);

// Per-channel scale = gamma / sqrt(var + eps), shared by every pass.
inline std::vector<float> scales(const float* gamma, const float* var, float eps, int64_t C) {
  std::vector<float> s(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; c++) s[c] = math::bnScale(gamma[c], var[c], eps);
  return s;
}

// Calls f(std::integral_constant<NormAct, A>) for the runtime activation `act`, so every row
// kernel is compiled once per activation, without a branch on it in its channel loop.
template <class F>
void withAct(NormAct act, F&& f) {
  switch (act) {
    case NormAct::None: return f(std::integral_constant<NormAct, NormAct::None>{});
    case NormAct::Relu: return f(std::integral_constant<NormAct, NormAct::Relu>{});
    case NormAct::Prelu: return f(std::integral_constant<NormAct, NormAct::Prelu>{});
  }
}

// Per-channel vectors of the statistics and parameters, offset to one part's channels.
struct Chan {
  const float *mean, *scale, *beta, *slope;
  Chan at(int64_t off) const { return {mean + off, scale + off, beta + off, slope + off}; }
};

}  // namespace scse::normact
