// cudnnConvolutionForward / BackwardData / BackwardFilter / BackwardBias: validation as cuDNN
// does it (descriptor kinds, float data, the x/w/y geometry, the algorithm and its workspace),
// then the packed kernels of conv_math.cc and the alpha/beta blend into the strided output.
#include <string>
#include <vector>

#include "cuda/emu/cudnn/conv.h"
#include "cuda/emu/cudnn/descriptors.h"
#include "cuda/emu/cudnn/emu.h"
#include "cuda/emu/cudnn/exports.h"
#include "cuda/emu/cudnn/walk.h"

#pragma GCC visibility push(hidden)
namespace scse::cudnn_emu {

int checkConvCompute(const char* fn, const cudnnConvolutionStruct& conv) {
  if (conv.computeType == CUDNN_DATA_FLOAT) return kSuccess;
  return fail(kNotSupported, fn,
              "convDesc: computeType " + dataTypeText(conv.computeType) +
                  " with float data is not supported (expected CUDNN_DATA_FLOAT (0))");
}

namespace {

struct Checked {
  Layout in, out, filter;
  ConvGeom g;
};

// The checks common to the three directions. `inArg`/`outArg` name the convolution's input and
// output tensors as the function calls them (x/y, dx/dy).
int checkConvCall(const char* fn, cudnnHandle_t h, const void* alpha, const void* beta, const char* inArg,
                  cudnnTensorDescriptor_t inDesc, const char* wArg, cudnnFilterDescriptor_t wDesc,
                  cudnnConvolutionDescriptor_t convDesc, const char* outArg, cudnnTensorDescriptor_t outDesc,
                  ConvDir dir, int algo, size_t wsBytes, Checked* c) {
  if (int s = beginWork(fn, h)) return s;
  if (int s = checkPointer(fn, "alpha", alpha)) return s;
  if (int s = checkPointer(fn, "beta", beta)) return s;
  if (int s = checkTensor(fn, inArg, inDesc, &c->in)) return s;
  if (int s = checkFilter(fn, wArg, wDesc, &c->filter)) return s;
  if (int s = checkConvolution(fn, "convDesc", convDesc)) return s;
  if (int s = checkTensor(fn, outArg, outDesc, &c->out)) return s;
  if (int s = checkConvCompute(fn, *convDesc)) return s;
  if (int s = convGeometry(fn, inArg, c->in, wArg, *wDesc, *convDesc, &c->g)) return s;
  if (int s = checkConvGroups(fn, wArg, c->g)) return s;
  if (int s = checkConvOutput(fn, outArg, c->g, c->out)) return s;
  if (int s = checkConvAlgo(fn, dir, algo)) return s;
  const size_t need = convWorkspaceBytes(dir, c->g, algo);
  if (wsBytes < need) {
    return fail(kBadParam, fn,
                "workSpaceSizeInBytes: algorithm " + std::to_string(algo) + " needs " + std::to_string(need) +
                    " bytes, got " + std::to_string(wsBytes));
  }
  return kSuccess;
}

}  // namespace
}  // namespace scse::cudnn_emu
#pragma GCC visibility pop

using namespace scse::cudnn;
using namespace scse::cudnn_emu;

extern "C" {

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t handle, const void* alpha, cudnnTensorDescriptor_t xDesc,
                                      const void* x, cudnnFilterDescriptor_t wDesc, const void* w,
                                      cudnnConvolutionDescriptor_t convDesc, int algo, void* workSpace,
                                      size_t workSpaceSizeInBytes, const void* beta, cudnnTensorDescriptor_t yDesc,
                                      void* y) {
  const char* fn = "cudnnConvolutionForward";
  (void)workSpace;
  Checked c;
  if (int s = checkConvCall(fn, handle, alpha, beta, "xDesc", xDesc, "wDesc", wDesc, convDesc, "yDesc", yDesc,
                            ConvDir::kForward, algo, workSpaceSizeInBytes, &c))
    return s;
  if (int s = checkPointer(fn, "x", x)) return s;
  if (int s = checkPointer(fn, "w", w)) return s;
  if (int s = checkPointer(fn, "y", y)) return s;
  return guarded(fn, [&] {
    const std::vector<double> xp = packActivations(c.in, static_cast<const float*>(x));
    const std::vector<double> wp = packFilter(c.g, c.filter, static_cast<const float*>(w));
    const std::vector<double> yp = convForwardPacked(c.g, xp.data(), wp.data());
    unpackActivations(c.out, yp.data(), scalar(alpha), scalar(beta), static_cast<float*>(y));
  });
}

cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t handle, const void* alpha, cudnnFilterDescriptor_t wDesc,
                                           const void* w, cudnnTensorDescriptor_t dyDesc, const void* dy,
                                           cudnnConvolutionDescriptor_t convDesc, int algo, void* workSpace,
                                           size_t workSpaceSizeInBytes, const void* beta, cudnnTensorDescriptor_t dxDesc,
                                           void* dx) {
  const char* fn = "cudnnConvolutionBackwardData";
  (void)workSpace;
  Checked c;
  if (int s = checkConvCall(fn, handle, alpha, beta, "dxDesc", dxDesc, "wDesc", wDesc, convDesc, "dyDesc", dyDesc,
                            ConvDir::kBackwardData, algo, workSpaceSizeInBytes, &c))
    return s;
  if (int s = checkPointer(fn, "w", w)) return s;
  if (int s = checkPointer(fn, "dy", dy)) return s;
  if (int s = checkPointer(fn, "dx", dx)) return s;
  return guarded(fn, [&] {
    const std::vector<double> wp = packFilter(c.g, c.filter, static_cast<const float*>(w));
    const std::vector<double> dyp = packActivations(c.out, static_cast<const float*>(dy));
    const std::vector<double> dxp = convBackwardDataPacked(c.g, dyp.data(), wp.data());
    unpackActivations(c.in, dxp.data(), scalar(alpha), scalar(beta), static_cast<float*>(dx));
  });
}

cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t handle, const void* alpha, cudnnTensorDescriptor_t xDesc,
                                             const void* x, cudnnTensorDescriptor_t dyDesc, const void* dy,
                                             cudnnConvolutionDescriptor_t convDesc, int algo, void* workSpace,
                                             size_t workSpaceSizeInBytes, const void* beta,
                                             cudnnFilterDescriptor_t dwDesc, void* dw) {
  const char* fn = "cudnnConvolutionBackwardFilter";
  (void)workSpace;
  Checked c;
  if (int s = checkConvCall(fn, handle, alpha, beta, "xDesc", xDesc, "dwDesc", dwDesc, convDesc, "dyDesc", dyDesc,
                            ConvDir::kBackwardFilter, algo, workSpaceSizeInBytes, &c))
    return s;
  if (int s = checkPointer(fn, "x", x)) return s;
  if (int s = checkPointer(fn, "dy", dy)) return s;
  if (int s = checkPointer(fn, "dw", dw)) return s;
  return guarded(fn, [&] {
    const std::vector<double> xp = packActivations(c.in, static_cast<const float*>(x));
    const std::vector<double> dyp = packActivations(c.out, static_cast<const float*>(dy));
    const std::vector<double> dwp = convBackwardFilterPacked(c.g, xp.data(), dyp.data());
    unpackFilter(c.g, c.filter, dwp.data(), scalar(alpha), scalar(beta), static_cast<float*>(dw));
  });
}

// db[0, k, 0, 0] = alpha * sum over n, h, w of dy[n, k, h, w] + beta * db (4-d or 5-d).
cudnnStatus_t cudnnConvolutionBackwardBias(cudnnHandle_t handle, const void* alpha, cudnnTensorDescriptor_t dyDesc,
                                           const void* dy, const void* beta, cudnnTensorDescriptor_t dbDesc, void* db) {
  const char* fn = "cudnnConvolutionBackwardBias";
  Layout dyL, dbL;
  if (int s = beginWork(fn, handle)) return s;
  if (int s = checkPointer(fn, "alpha", alpha)) return s;
  if (int s = checkPointer(fn, "beta", beta)) return s;
  if (int s = checkTensor(fn, "dyDesc", dyDesc, &dyL)) return s;
  if (int s = checkTensor(fn, "dbDesc", dbDesc, &dbL)) return s;
  if (dyL.nb != 4 && dyL.nb != 5)
    return fail(kNotSupported, fn, "dyDesc: expected a 4-d or 5-d tensor, got " + std::to_string(dyL.nb) + " dims");
  bool ok = dbL.nb == dyL.nb;
  for (int i = 0; ok && i < dbL.nb; i++) ok = dbL.dim[i] == (i == 1 ? dyL.dim[1] : 1);
  if (!ok) {
    int64_t want[kMaxDims];
    for (int i = 0; i < dyL.nb; i++) want[i] = i == 1 ? dyL.dim[1] : 1;
    return fail(kBadParam, fn,
                "dbDesc: expected dims " + dimsText(dyL.nb, want) + " (1 x C of dyDesc " + dimsText(dyL.nb, dyL.dim) +
                    "), got " + dimsText(dbL.nb, dbL.dim));
  }
  if (int s = checkPointer(fn, "dy", dy)) return s;
  if (int s = checkPointer(fn, "db", db)) return s;
  return guarded(fn, [&] {
    const float* src = static_cast<const float*>(dy);
    float* dst = static_cast<float*>(db);
    std::vector<double> sum(size_t(dbL.span()), 0.0);  // indexed like db
    walk<2>(dyL, {&dyL, &dbL}, [&](const auto& o) { sum[size_t(o[1])] += double(src[o[0]]); });
    const double a = scalar(alpha), b = scalar(beta);
    walk<1>(dbL, {&dbL}, [&](const auto& o) { dst[o[0]] = blend(sum[size_t(o[0])], a, b, dst[o[0]]); });
  });
}

}  // extern "C"
