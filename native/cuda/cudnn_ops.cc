// See cudnn_ops.h. Host code only (built by the host compiler into scse_cuda): cuDNN calls go
// through the dlopen'ed function table (cudnn_loader.h); our own kernels (bias add and gradient,
// batch-norm bookkeeping) through ops.h and norm_kernels.h.
#include "cuda/cudnn_ops.h"

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "cuda/context.h"
#include "cuda/cudnn.h"
#include "cuda/cudnn_descriptors.h"
#include "cuda/cudnn_loader.h"
#include "cuda/device.h"
#include "cuda/norm_kernels.h"
#include "cuda/ops.h"
#include "math/eltwise.h"

namespace scse::cuda {
namespace {

using namespace scse::cudnn;
using namespace scse::cuda::cudnn_desc;  // descriptors, Equiv, SCSE_CUDNN (shared with the conformance hooks)

const float kOne = 1.0f, kZero = 0.0f;  // alpha/beta: host pointers to float for float tensors
constexpr size_t kMaxEntries = 512;      // per device and kind; bounds pathological shape sweeps

const Api& apiFor(const char* op) {
  const Api* a = cudnnApi();
  if (!a) throw CudaError(std::string(op) + ": cuDNN is not available: " + cudnnLoad().reason);
  return *a;
}

enum Dir : char { kFwd = 'f', kBwdData = 'd', kBwdFilter = 'w' };

// Non-deterministic algorithms (cuDNN docs, "Reproducibility"): excluded whatever the heuristics
// report, on top of requiring perf.determinism == CUDNN_DETERMINISTIC.
bool excludedAlgo(Dir dir, int algo) {
  if (dir == kBwdData) return algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_0;
  if (dir == kBwdFilter) return algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 || algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3;
  return false;
}

// One direction of one equivalent convolution: descriptors, the chosen algorithm, its workspace.
struct ConvKernel : ConvDescriptors {
  using ConvDescriptors::ConvDescriptors;
  int algo = 0;
  size_t wsBytes = 0;
};

using BnEntry = BnDescriptors;

struct DeviceState {
  std::mutex m;  // held for every use of the handle and the caches
  cudnnHandle_t handle = nullptr;
  std::unordered_map<std::string, std::unique_ptr<ConvKernel>> conv;
  std::unordered_map<std::string, std::unique_ptr<BnEntry>> bn;
  CudnnCacheStats stats;
};

std::mutex gStatesMutex;
std::vector<DeviceState*>* gStates = nullptr;  // index = device; never freed (CUDA may be gone at exit)

DeviceState& stateFor(int device) {
  std::lock_guard<std::mutex> lock(gStatesMutex);
  if (!gStates) gStates = new std::vector<DeviceState*>();
  if (size_t(device) >= gStates->size()) gStates->resize(size_t(device) + 1, nullptr);
  DeviceState*& s = (*gStates)[size_t(device)];
  if (!s) s = new DeviceState();
  return *s;
}

// The device's handle, created on first use and bound to the device's stream. Call with s.m held,
// after deviceStream(device) (which makes the device current).
cudnnHandle_t handleFor(DeviceState& s, const Api& a, void* stream, const char* op) {
  if (!s.handle) {
    cudnnHandle_t h = nullptr;
    SCSE_CUDNN(a, op, cudnnCreate, &h);
    const int st = a.cudnnSetStream(h, static_cast<cudaStream_t>(stream));
    if (st != CUDNN_STATUS_SUCCESS) {
      a.cudnnDestroy(h);
      cudnn_desc::check(st, op, "cudnnSetStream");
    }
    s.handle = h;
  }
  return s.handle;
}

// Picks the first algorithm of cuDNN's heuristic ranking that ran the query successfully, is
// deterministic, not excluded, and (unless TF32 is allowed) does not use tensor-op math.
std::unique_ptr<ConvKernel> makeConvKernel(const Api& a, cudnnHandle_t h, const Equiv& e, Dir dir, const char* op) {
  auto k = std::make_unique<ConvKernel>(a, op);
  setConvDescriptors(*k, a, e, op);
  checkConvOutput(*k, a, e, op);

  cudnnConvolutionAlgoPerf_t perf[8] = {};
  int returned = 0;
  if (dir == kFwd) {
    SCSE_CUDNN(a, op, cudnnGetConvolutionForwardAlgorithm_v7, h, k->in.d, k->w.d, k->conv.d, k->out.d,
               CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf);
  } else if (dir == kBwdData) {
    SCSE_CUDNN(a, op, cudnnGetConvolutionBackwardDataAlgorithm_v7, h, k->w.d, k->out.d, k->conv.d, k->in.d,
               CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &returned, perf);
  } else {
    SCSE_CUDNN(a, op, cudnnGetConvolutionBackwardFilterAlgorithm_v7, h, k->in.d, k->out.d, k->conv.d, k->w.d,
               CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &returned, perf);
  }
  const cudnnConvolutionAlgoPerf_t* chosen = nullptr;
  for (int i = 0; i < returned && i < 8 && !chosen; i++) {
    const cudnnConvolutionAlgoPerf_t& pf = perf[i];
    const bool tensorOps = pf.mathType == CUDNN_TENSOR_OP_MATH || pf.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
    if (pf.status == CUDNN_STATUS_SUCCESS && pf.determinism == CUDNN_DETERMINISTIC && !excludedAlgo(dir, pf.algo) &&
        (e.tf32 || !tensorOps)) {
      chosen = &pf;
    }
  }
  if (!chosen) {
    throw CudaError(std::string(op) + ": cuDNN offers no deterministic " + (e.tf32 ? "" : "fp32 (FMA) ") + "algorithm for " +
                    dimsText({e.N, e.inH, e.inW, e.inC}) + " -> " + dimsText({e.N, e.outH, e.outW, e.outC}) + ", kernel " +
                    dimsText({e.KH, e.KW}) + " (" + std::to_string(returned) + " candidates)");
  }
  k->algo = chosen->algo;
  // With TF32 allowed the descriptor takes the algorithm's own math type (as PyTorch does); strict
  // mode keeps CUDNN_FMA_MATH on the descriptor, so nothing can switch to tensor cores.
  if (e.tf32) SCSE_CUDNN(a, op, cudnnSetConvolutionMathType, k->conv.d, chosen->mathType);
  if (dir == kFwd) {
    SCSE_CUDNN(a, op, cudnnGetConvolutionForwardWorkspaceSize, h, k->in.d, k->w.d, k->conv.d, k->out.d, k->algo, &k->wsBytes);
  } else if (dir == kBwdData) {
    SCSE_CUDNN(a, op, cudnnGetConvolutionBackwardDataWorkspaceSize, h, k->w.d, k->out.d, k->conv.d, k->in.d, k->algo,
               &k->wsBytes);
  } else {
    SCSE_CUDNN(a, op, cudnnGetConvolutionBackwardFilterWorkspaceSize, h, k->in.d, k->out.d, k->conv.d, k->w.d, k->algo,
               &k->wsBytes);
  }
  return k;
}

ConvKernel& convKernel(DeviceState& s, const Api& a, cudnnHandle_t h, const Equiv& e, Dir dir, const char* op) {
  const std::string key = e.key(dir);
  auto it = s.conv.find(key);
  if (it != s.conv.end()) {
    s.stats.hits++;
    return *it->second;
  }
  s.stats.misses++;
  auto k = makeConvKernel(a, h, e, dir, op);
  if (s.conv.size() >= kMaxEntries) s.conv.clear();
  return *s.conv.emplace(key, std::move(k)).first->second;
}

// Runs one direction: in/out/w are the equivalent convolution's tensors (see Equiv).
void runConv(int device, const ConvParams& p, Dir dir, const void* in, const void* w, const void* out, void* result,
             const char* op) {
  const Api& a = apiFor(op);
  void* stream = deviceStream(device);  // makes the device current
  DeviceState& s = stateFor(device);
  std::lock_guard<std::mutex> lock(s.m);
  cudnnHandle_t h = handleFor(s, a, stream, op);
  ConvKernel& k = convKernel(s, a, h, equivOf(p), dir, op);
  std::unique_ptr<DeviceBuffer> ws;
  if (k.wsBytes > 0) ws = std::make_unique<DeviceBuffer>(device, k.wsBytes);
  void* wsPtr = ws ? ws->get() : nullptr;
  if (dir == kFwd) {
    SCSE_CUDNN(a, op, cudnnConvolutionForward, h, &kOne, k.in.d, in, k.w.d, w, k.conv.d, k.algo, wsPtr, k.wsBytes, &kZero,
               k.out.d, result);
  } else if (dir == kBwdData) {
    SCSE_CUDNN(a, op, cudnnConvolutionBackwardData, h, &kOne, k.w.d, w, k.out.d, out, k.conv.d, k.algo, wsPtr, k.wsBytes,
               &kZero, k.in.d, result);
  } else {
    SCSE_CUDNN(a, op, cudnnConvolutionBackwardFilter, h, &kOne, k.in.d, in, k.out.d, out, k.conv.d, k.algo, wsPtr,
               k.wsBytes, &kZero, k.w.d, result);
  }
}

BnEntry& bnEntry(DeviceState& s, const Api& a, const BnDims& d, const char* op) {
  const std::string key = "bn," + std::to_string(d.N) + "," + std::to_string(d.H) + "," + std::to_string(d.W) + "," +
                          std::to_string(d.C);
  auto it = s.bn.find(key);
  if (it != s.bn.end()) {
    s.stats.hits++;
    return *it->second;
  }
  s.stats.misses++;
  auto e = std::make_unique<BnEntry>(a, op);
  setBnDescriptors(*e, a, d, op);
  if (s.bn.size() >= kMaxEntries) s.bn.clear();
  return *s.bn.emplace(key, std::move(e)).first->second;
}

}  // namespace

// ---- convolution ------------------------------------------------------------------------------------
void convForward(int device, const ConvParams& p, const float* x, const float* w, const float* bias, float* y) {
  const char* op = p.transposed ? "convTranspose2d" : "conv2d";
  if (!p.transposed) runConv(device, p, kFwd, x, w, nullptr, y, op);
  else runConv(device, p, kBwdData, nullptr, w, x, y, op);
  // y += bias (broadcast over N, OH, OW; in place is safe: each element is read, then written, by one thread)
  if (bias) binary(device, math::kBinAdd, y, {p.N, p.OH, p.OW, p.OC}, bias, {p.OC}, y);
}

void convBackwardData(int device, const ConvParams& p, const float* dy, const float* w, float* dx) {
  const char* op = p.transposed ? "convTranspose2dBackwardData" : "conv2dBackwardData";
  if (!p.transposed) runConv(device, p, kBwdData, nullptr, w, dy, dx, op);
  else runConv(device, p, kFwd, dy, w, nullptr, dx, op);
}

void convBackwardWeights(int device, const ConvParams& p, const float* x, const float* dy, float* dw, float* dbias) {
  const char* op = p.transposed ? "convTranspose2dBackwardWeights" : "conv2dBackwardWeights";
  if (!p.transposed) runConv(device, p, kBwdFilter, x, nullptr, dy, dw, op);
  else runConv(device, p, kBwdFilter, dy, nullptr, x, dw, op);
  if (dbias) sumTo(device, dy, {p.N * p.OH * p.OW, p.OC}, dbias, {p.OC});
}

// ---- batch norm ---------------------------------------------------------------------------------------
void batchNormTrain(int device, const BnDims& d, const float* x, const float* gamma, const float* beta,
                    float* runningMean, float* runningVar, double momentum, double eps, float* y, float* mean, float* var,
                    float* invStd) {
  const char* op = "batchNorm";
  const float epsF = float(eps);  // the CPU op uses eps as float
  const Api& a = apiFor(op);
  void* stream = deviceStream(device);
  std::unique_ptr<DeviceBuffer> invScratch;
  if (!invStd) {
    invScratch = std::make_unique<DeviceBuffer>(device, size_t(d.C) * sizeof(float));
    invStd = static_cast<float*>(invScratch->get());
  }
  {
    DeviceState& s = stateFor(device);
    std::lock_guard<std::mutex> lock(s.m);
    cudnnHandle_t h = handleFor(s, a, stream, op);
    BnEntry& e = bnEntry(s, a, d, op);
    // No running averages from cuDNN (null pointers; the factor is then unused): ours follow.
    SCSE_CUDNN(a, op, cudnnBatchNormalizationForwardTraining, h, CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, e.x.d, x, e.x.d,
               y, e.bn.d, gamma, beta, 1.0, nullptr, nullptr, double(epsF), mean, invStd);
  }
  detail::bnFinishTraining(device, d.C, d.N * d.H * d.W, epsF, float(momentum), mean, invStd, var, runningMean,
                           runningVar);
}

void batchNormInfer(int device, const BnDims& d, const float* x, const float* gamma, const float* beta, const float* mean,
                    const float* var, double eps, float* y) {
  const char* op = "batchNorm";
  const Api& a = apiFor(op);
  void* stream = deviceStream(device);
  DeviceState& s = stateFor(device);
  std::lock_guard<std::mutex> lock(s.m);
  cudnnHandle_t h = handleFor(s, a, stream, op);
  BnEntry& e = bnEntry(s, a, d, op);
  SCSE_CUDNN(a, op, cudnnBatchNormalizationForwardInference, h, CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, e.x.d, x, e.x.d, y,
             e.bn.d, gamma, beta, mean, var, double(float(eps)));
}

void batchNormBackward(int device, const BnDims& d, const float* x, const float* mean, const float* var,
                       const float* invStd, const float* gamma, const float* dy, double eps, bool globalStats, float* dx,
                       float* dgamma, float* dbeta) {
  const char* op = "batchNormBackward";
  const float epsF = float(eps);
  std::unique_ptr<DeviceBuffer> invScratch;
  if (globalStats || !invStd) {
    invScratch = std::make_unique<DeviceBuffer>(device, size_t(d.C) * sizeof(float));
    detail::bnInvStd(device, d.C, var, epsF, static_cast<float*>(invScratch->get()));
    invStd = static_cast<const float*>(invScratch->get());
  }
  if (globalStats) {
    detail::bnGlobalBackward(device, d.N * d.H * d.W, d.C, x, mean, invStd, gamma, dy, dx, dgamma, dbeta);
    return;
  }
  const Api& a = apiFor(op);
  void* stream = deviceStream(device);
  DeviceState& s = stateFor(device);
  std::lock_guard<std::mutex> lock(s.m);
  cudnnHandle_t h = handleFor(s, a, stream, op);
  BnEntry& e = bnEntry(s, a, d, op);
  SCSE_CUDNN(a, op, cudnnBatchNormalizationBackward, h, CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, &kOne, &kZero, e.x.d, x,
             e.x.d, dy, e.x.d, dx, e.bn.d, gamma, dgamma, dbeta, double(epsF), mean, invStd);
}

CudnnCacheStats cudnnCacheStats(int device) {
  {
    std::lock_guard<std::mutex> lock(gStatesMutex);
    if (!gStates || device < 0 || size_t(device) >= gStates->size() || !(*gStates)[size_t(device)]) return {};
  }
  DeviceState& s = stateFor(device);
  std::lock_guard<std::mutex> lock(s.m);
  CudnnCacheStats r = s.stats;
  r.entries = s.conv.size() + s.bn.size();
  return r;
}

}  // namespace scse::cuda
