// Algorithm selection for the three convolution directions: the heuristic lists (*_v7), the
// measured ones (Find*AlgorithmEx, which run the op once), and the workspace queries.
//
// The stand-in has one implementation per direction (conv_math.cc) behind several algorithm
// enumerants. It reports them as cuDNN's documentation describes them: BWD_DATA ALGO_0 and
// BWD_FILTER ALGO_0 / ALGO_3 as non-deterministic (cuDNN's "Reproducibility" section) and ranked
// first, as cuDNN's heuristics often rank them, so that callers' filtering is exercised; the
// FFT, Winograd and DIRECT variants as not supported (status NOT_SUPPORTED, ranked last).
#include <chrono>
#include <initializer_list>
#include <string>
#include <utility>

#include "cuda/emu/cudnn/conv.h"
#include "cuda/emu/cudnn/descriptors.h"
#include "cuda/emu/cudnn/emu.h"
#include "cuda/emu/cudnn/exports.h"

#pragma GCC visibility push(hidden)
namespace scse::cudnn_emu {
namespace {

struct AlgoInfo {
  int algo;
  bool implemented;
  int determinism;
};

constexpr AlgoInfo kForward[] = {
    {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, true, CUDNN_DETERMINISTIC},
    {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, true, CUDNN_DETERMINISTIC},
    {CUDNN_CONVOLUTION_FWD_ALGO_GEMM, true, CUDNN_DETERMINISTIC},
    {CUDNN_CONVOLUTION_FWD_ALGO_DIRECT, false, CUDNN_DETERMINISTIC},
    {CUDNN_CONVOLUTION_FWD_ALGO_FFT, false, CUDNN_DETERMINISTIC},
    {CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING, false, CUDNN_DETERMINISTIC},
    {CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD, false, CUDNN_DETERMINISTIC},
    {CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED, false, CUDNN_DETERMINISTIC},
};
constexpr AlgoInfo kBackwardData[] = {
    {CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, true, CUDNN_NON_DETERMINISTIC},
    {CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, true, CUDNN_DETERMINISTIC},
    {CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT, false, CUDNN_DETERMINISTIC},
    {CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING, false, CUDNN_DETERMINISTIC},
    {CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD, false, CUDNN_DETERMINISTIC},
    {CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED, false, CUDNN_DETERMINISTIC},
};
constexpr AlgoInfo kBackwardFilter[] = {
    {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, true, CUDNN_NON_DETERMINISTIC},
    {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, true, CUDNN_DETERMINISTIC},
    {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3, true, CUDNN_NON_DETERMINISTIC},
    {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT, false, CUDNN_DETERMINISTIC},
    {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD, false, CUDNN_DETERMINISTIC},
    {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED, false, CUDNN_DETERMINISTIC},
    {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING, false, CUDNN_DETERMINISTIC},
};
static_assert(sizeof kForward / sizeof kForward[0] == CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
static_assert(sizeof kBackwardData / sizeof kBackwardData[0] == CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT);
static_assert(sizeof kBackwardFilter / sizeof kBackwardFilter[0] == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT);

struct AlgoTable {
  const AlgoInfo* list;
  int count;
  const char* name;
};

AlgoTable tableOf(ConvDir dir) {
  switch (dir) {
    case ConvDir::kForward:
      return {kForward, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, "cudnnConvolutionFwdAlgo_t"};
    case ConvDir::kBackwardData:
      return {kBackwardData, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, "cudnnConvolutionBwdDataAlgo_t"};
    default:
      return {kBackwardFilter, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, "cudnnConvolutionBwdFilterAlgo_t"};
  }
}

// The problem of a query: in/out tensors, filter, descriptor, checked as the op itself checks them.
int checkProblem(const char* fn, cudnnHandle_t h, const char* inArg, cudnnTensorDescriptor_t inDesc, const char* wArg,
                 cudnnFilterDescriptor_t wDesc, cudnnConvolutionDescriptor_t convDesc, const char* outArg,
                 cudnnTensorDescriptor_t outDesc, ConvGeom* g) {
  Layout in, out;
  if (int s = beginWork(fn, h)) return s;
  if (int s = checkTensor(fn, inArg, inDesc, &in)) return s;
  if (int s = checkFilter(fn, wArg, wDesc, nullptr)) return s;
  if (int s = checkConvolution(fn, "convDesc", convDesc)) return s;
  if (int s = checkTensor(fn, outArg, outDesc, &out)) return s;
  if (int s = checkConvCompute(fn, *convDesc)) return s;
  if (int s = convGeometry(fn, inArg, in, wArg, *wDesc, *convDesc, g)) return s;
  if (int s = checkConvGroups(fn, wArg, *g)) return s;
  return checkConvOutput(fn, outArg, *g, out);
}

// Fills perf[0, min(requested, count)) in rank order; `timeMs` < 0 for heuristic answers.
int fillPerf(const char* fn, ConvDir dir, const ConvGeom& g, int mathType, int requested, int* returned,
             cudnnConvolutionAlgoPerf_t* perf, float timeMs) {
  if (requested < 1) return fail(kBadParam, fn, "requestedAlgoCount: expected >= 1, got " + std::to_string(requested));
  if (int s = checkPointer(fn, "returnedAlgoCount", returned)) return s;
  if (int s = checkPointer(fn, "perfResults", perf)) return s;
  const AlgoTable t = tableOf(dir);
  const int n = requested < t.count ? requested : t.count;
  for (int i = 0; i < n; i++) {
    const AlgoInfo& a = t.list[i];
    cudnnConvolutionAlgoPerf_t p{};
    p.algo = a.algo;
    p.status = a.implemented ? kSuccess : kNotSupported;
    p.time = a.implemented ? timeMs : -1.0f;
    p.memory = a.implemented ? convWorkspaceBytes(dir, g, a.algo) : 0;
    p.determinism = a.determinism;
    p.mathType = mathType;  // the descriptor's: the stand-in computes in plain (FMA-free) float64
    perf[i] = p;
  }
  *returned = n;
  return kSuccess;
}

// Find*Ex run the op: its data pointers are checked here so that messages name the Find call.
int checkRunPointers(const char* fn, std::initializer_list<std::pair<const char*, const void*>> ptrs) {
  for (const auto& p : ptrs)
    if (int s = checkPointer(fn, p.first, p.second)) return s;
  return kSuccess;
}

int firstImplemented(ConvDir dir) {
  const AlgoTable t = tableOf(dir);
  for (int i = 0; i < t.count; i++)
    if (t.list[i].implemented) return t.list[i].algo;
  return 0;
}

int workspaceQuery(const char* fn, ConvDir dir, const ConvGeom& g, int algo, size_t* bytes) {
  if (int s = checkPointer(fn, "sizeInBytes", bytes)) return s;
  if (int s = checkConvAlgo(fn, dir, algo)) return s;
  *bytes = convWorkspaceBytes(dir, g, algo);
  return kSuccess;
}

// Runs `op` once and returns its wall time in milliseconds (Find*Ex report measured times).
template <class F>
float timed(F&& op, int* status) {
  const auto t0 = std::chrono::steady_clock::now();
  *status = op();
  const auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<float, std::milli>(t1 - t0).count();
}

}  // namespace

int convAlgoCount(ConvDir dir) { return tableOf(dir).count; }

int checkConvAlgo(const char* fn, ConvDir dir, int algo) {
  const AlgoTable t = tableOf(dir);
  if (algo < 0 || algo >= t.count) {
    return fail(kBadParam, fn,
                "algo: expected a " + std::string(t.name) + " in [0, " + std::to_string(t.count) + "), got " +
                    std::to_string(algo));
  }
  for (int i = 0; i < t.count; i++) {
    if (t.list[i].algo == algo && !t.list[i].implemented) {
      return fail(kNotSupported, fn,
                  "algo: " + std::string(t.name) + " " + std::to_string(algo) +
                      " is not offered by the CPU stand-in (see its *_v7 list)");
    }
  }
  return kSuccess;
}

}  // namespace scse::cudnn_emu
#pragma GCC visibility pop

using namespace scse::cudnn;
using namespace scse::cudnn_emu;

extern "C" {

cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t handle, cudnnTensorDescriptor_t xDesc,
                                                     cudnnFilterDescriptor_t wDesc, cudnnConvolutionDescriptor_t convDesc,
                                                     cudnnTensorDescriptor_t yDesc, int requestedAlgoCount,
                                                     int* returnedAlgoCount, cudnnConvolutionFwdAlgoPerf_t* perfResults) {
  const char* fn = "cudnnGetConvolutionForwardAlgorithm_v7";
  ConvGeom g;
  if (int s = checkProblem(fn, handle, "srcDesc", xDesc, "filterDesc", wDesc, convDesc, "destDesc", yDesc, &g)) return s;
  return fillPerf(fn, ConvDir::kForward, g, convDesc->mathType, requestedAlgoCount, returnedAlgoCount, perfResults, -1.0f);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t handle, cudnnFilterDescriptor_t wDesc,
                                                          cudnnTensorDescriptor_t dyDesc,
                                                          cudnnConvolutionDescriptor_t convDesc,
                                                          cudnnTensorDescriptor_t dxDesc, int requestedAlgoCount,
                                                          int* returnedAlgoCount,
                                                          cudnnConvolutionBwdDataAlgoPerf_t* perfResults) {
  const char* fn = "cudnnGetConvolutionBackwardDataAlgorithm_v7";
  ConvGeom g;
  if (int s = checkProblem(fn, handle, "gradDesc", dxDesc, "filterDesc", wDesc, convDesc, "diffDesc", dyDesc, &g)) return s;
  return fillPerf(fn, ConvDir::kBackwardData, g, convDesc->mathType, requestedAlgoCount, returnedAlgoCount, perfResults,
                  -1.0f);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t handle, cudnnTensorDescriptor_t xDesc,
                                                            cudnnTensorDescriptor_t dyDesc,
                                                            cudnnConvolutionDescriptor_t convDesc,
                                                            cudnnFilterDescriptor_t dwDesc, int requestedAlgoCount,
                                                            int* returnedAlgoCount,
                                                            cudnnConvolutionBwdFilterAlgoPerf_t* perfResults) {
  const char* fn = "cudnnGetConvolutionBackwardFilterAlgorithm_v7";
  ConvGeom g;
  if (int s = checkProblem(fn, handle, "srcDesc", xDesc, "gradDesc", dwDesc, convDesc, "diffDesc", dyDesc, &g)) return s;
  return fillPerf(fn, ConvDir::kBackwardFilter, g, convDesc->mathType, requestedAlgoCount, returnedAlgoCount,
                  perfResults, -1.0f);
}

cudnnStatus_t cudnnFindConvolutionForwardAlgorithmEx(cudnnHandle_t handle, cudnnTensorDescriptor_t xDesc, const void* x,
                                                     cudnnFilterDescriptor_t wDesc, const void* w,
                                                     cudnnConvolutionDescriptor_t convDesc,
                                                     cudnnTensorDescriptor_t yDesc, void* y, int requestedAlgoCount,
                                                     int* returnedAlgoCount, cudnnConvolutionFwdAlgoPerf_t* perfResults,
                                                     void* workSpace, size_t workSpaceSizeInBytes) {
  const char* fn = "cudnnFindConvolutionForwardAlgorithmEx";
  ConvGeom g;
  if (int s = checkProblem(fn, handle, "xDesc", xDesc, "wDesc", wDesc, convDesc, "yDesc", yDesc, &g)) return s;
  if (int s = checkRunPointers(fn, {{"x", x}, {"w", w}, {"y", y}})) return s;
  if (requestedAlgoCount < 1)  // before running anything
    return fillPerf(fn, ConvDir::kForward, g, convDesc->mathType, requestedAlgoCount, returnedAlgoCount, perfResults, 0);
  const float one = 1.0f, zero = 0.0f;
  int status = kSuccess;
  const float ms = timed(
      [&] {
        return cudnnConvolutionForward(handle, &one, xDesc, x, wDesc, w, convDesc, firstImplemented(ConvDir::kForward),
                                       workSpace, workSpaceSizeInBytes, &zero, yDesc, y);
      },
      &status);
  if (status != kSuccess) return status;
  return fillPerf(fn, ConvDir::kForward, g, convDesc->mathType, requestedAlgoCount, returnedAlgoCount, perfResults, ms);
}

cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithmEx(cudnnHandle_t handle, cudnnFilterDescriptor_t wDesc,
                                                          const void* w, cudnnTensorDescriptor_t dyDesc, const void* dy,
                                                          cudnnConvolutionDescriptor_t convDesc,
                                                          cudnnTensorDescriptor_t dxDesc, void* dx,
                                                          int requestedAlgoCount, int* returnedAlgoCount,
                                                          cudnnConvolutionBwdDataAlgoPerf_t* perfResults,
                                                          void* workSpace, size_t workSpaceSizeInBytes) {
  const char* fn = "cudnnFindConvolutionBackwardDataAlgorithmEx";
  ConvGeom g;
  if (int s = checkProblem(fn, handle, "dxDesc", dxDesc, "wDesc", wDesc, convDesc, "dyDesc", dyDesc, &g)) return s;
  if (int s = checkRunPointers(fn, {{"w", w}, {"dy", dy}, {"dx", dx}})) return s;
  if (requestedAlgoCount < 1)
    return fillPerf(fn, ConvDir::kBackwardData, g, convDesc->mathType, requestedAlgoCount, returnedAlgoCount,
                    perfResults, 0);
  const float one = 1.0f, zero = 0.0f;
  int status = kSuccess;
  const float ms = timed(
      [&] {
        return cudnnConvolutionBackwardData(handle, &one, wDesc, w, dyDesc, dy, convDesc,
                                            firstImplemented(ConvDir::kBackwardData), workSpace, workSpaceSizeInBytes,
                                            &zero, dxDesc, dx);
      },
      &status);
  if (status != kSuccess) return status;
  return fillPerf(fn, ConvDir::kBackwardData, g, convDesc->mathType, requestedAlgoCount, returnedAlgoCount, perfResults,
                  ms);
}

cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithmEx(cudnnHandle_t handle, cudnnTensorDescriptor_t xDesc,
                                                            const void* x, cudnnTensorDescriptor_t dyDesc,
                                                            const void* dy, cudnnConvolutionDescriptor_t convDesc,
                                                            cudnnFilterDescriptor_t dwDesc, void* dw,
                                                            int requestedAlgoCount, int* returnedAlgoCount,
                                                            cudnnConvolutionBwdFilterAlgoPerf_t* perfResults,
                                                            void* workSpace, size_t workSpaceSizeInBytes) {
  const char* fn = "cudnnFindConvolutionBackwardFilterAlgorithmEx";
  ConvGeom g;
  if (int s = checkProblem(fn, handle, "xDesc", xDesc, "dwDesc", dwDesc, convDesc, "dyDesc", dyDesc, &g)) return s;
  if (int s = checkRunPointers(fn, {{"x", x}, {"dy", dy}, {"dw", dw}})) return s;
  if (requestedAlgoCount < 1)
    return fillPerf(fn, ConvDir::kBackwardFilter, g, convDesc->mathType, requestedAlgoCount, returnedAlgoCount,
                    perfResults, 0);
  const float one = 1.0f, zero = 0.0f;
  int status = kSuccess;
  const float ms = timed(
      [&] {
        return cudnnConvolutionBackwardFilter(handle, &one, xDesc, x, dyDesc, dy, convDesc,
                                              firstImplemented(ConvDir::kBackwardFilter), workSpace,
                                              workSpaceSizeInBytes, &zero, dwDesc, dw);
      },
      &status);
  if (status != kSuccess) return status;
  return fillPerf(fn, ConvDir::kBackwardFilter, g, convDesc->mathType, requestedAlgoCount, returnedAlgoCount,
                  perfResults, ms);
}

cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t handle, cudnnTensorDescriptor_t xDesc,
                                                      cudnnFilterDescriptor_t wDesc,
                                                      cudnnConvolutionDescriptor_t convDesc,
                                                      cudnnTensorDescriptor_t yDesc, int algo, size_t* sizeInBytes) {
  const char* fn = "cudnnGetConvolutionForwardWorkspaceSize";
  ConvGeom g;
  if (int s = checkProblem(fn, handle, "xDesc", xDesc, "wDesc", wDesc, convDesc, "yDesc", yDesc, &g)) return s;
  return workspaceQuery(fn, ConvDir::kForward, g, algo, sizeInBytes);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t handle, cudnnFilterDescriptor_t wDesc,
                                                           cudnnTensorDescriptor_t dyDesc,
                                                           cudnnConvolutionDescriptor_t convDesc,
                                                           cudnnTensorDescriptor_t dxDesc, int algo,
                                                           size_t* sizeInBytes) {
  const char* fn = "cudnnGetConvolutionBackwardDataWorkspaceSize";
  ConvGeom g;
  if (int s = checkProblem(fn, handle, "dxDesc", dxDesc, "wDesc", wDesc, convDesc, "dyDesc", dyDesc, &g)) return s;
  return workspaceQuery(fn, ConvDir::kBackwardData, g, algo, sizeInBytes);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t handle, cudnnTensorDescriptor_t xDesc,
                                                             cudnnTensorDescriptor_t dyDesc,
                                                             cudnnConvolutionDescriptor_t convDesc,
                                                             cudnnFilterDescriptor_t dwDesc, int algo,
                                                             size_t* sizeInBytes) {
  const char* fn = "cudnnGetConvolutionBackwardFilterWorkspaceSize";
  ConvGeom g;
  if (int s = checkProblem(fn, handle, "xDesc", xDesc, "dwDesc", dwDesc, convDesc, "dyDesc", dyDesc, &g)) return s;
  return workspaceQuery(fn, ConvDir::kBackwardFilter, g, algo, sizeInBytes);
}

}  // extern "C"
