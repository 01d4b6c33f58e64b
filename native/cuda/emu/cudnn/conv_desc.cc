// Convolution descriptors (create, set, get, math type, groups), the forward output size, and
// the geometry check the convolution entry points share (conv.h).
#include <new>
#include <string>

#include "cuda/emu/cudnn/conv.h"
#include "cuda/emu/cudnn/descriptors.h"
#include "cuda/emu/cudnn/emu.h"
#include "cuda/emu/cudnn/exports.h"

#pragma GCC visibility push(hidden)
namespace scse::cudnn_emu {
namespace {
std::string num(int64_t v) { return std::to_string(v); }
}  // namespace

int convGeometry(const char* fn, const char* xArg, const Layout& x, const char* wArg, const cudnnFilterStruct& w,
                 const cudnnConvolutionStruct& conv, ConvGeom* g) {
  if (x.nb != 4) {
    return fail(kBadParam, fn,
                std::string(xArg) + ": expected a 4-d tensor for a 2-d convolution, got " + num(x.nb) + " dims " +
                    dimsText(x.nb, x.dim));
  }
  ConvGeom r;
  r.N = x.dim[0], r.C = x.dim[1], r.H = x.dim[2], r.W = x.dim[3];
  r.K = w.dim[0], r.Cg = w.dim[1], r.R = w.dim[2], r.S = w.dim[3];
  r.padH = conv.padH, r.padW = conv.padW, r.strideH = conv.strideH, r.strideW = conv.strideW;
  r.dilationH = conv.dilationH, r.dilationW = conv.dilationW;
  r.groups = conv.groupCount;
  r.flip = conv.mode == CUDNN_CONVOLUTION;
  if (r.Cg * r.groups != r.C) {
    return fail(kBadParam, fn,
                std::string(wArg) + ": expected " + num(r.C) + " / groupCount " + num(r.groups) +
                    " input channels (from " + xArg + " " + dimsText(x.nb, x.dim) + "), got c = " + num(r.Cg));
  }
  // The extent of a dilated filter, and the outputs of cuDNN's formula (floor division).
  const int64_t extentH = (r.R - 1) * r.dilationH + 1, extentW = (r.S - 1) * r.dilationW + 1;
  const int64_t spanH = r.H + 2 * r.padH - extentH, spanW = r.W + 2 * r.padW - extentW;
  if (spanH < 0 || spanW < 0) {
    r.OH = r.OW = 0;
    *g = r;  // cuDNN still reports n and c (and 0 x 0) for an empty output
    return fail(kBadParam, fn,
                "the dilated filter (" + num(extentH) + " x " + num(extentW) + ") is larger than the padded input (" +
                    num(r.H + 2 * r.padH) + " x " + num(r.W + 2 * r.padW) + "): the output would be empty");
  }
  r.OH = 1 + spanH / r.strideH;
  r.OW = 1 + spanW / r.strideW;
  *g = r;
  return kSuccess;
}

int checkConvGroups(const char* fn, const char* wArg, const ConvGeom& g) {
  if (g.K % g.groups == 0) return kSuccess;
  return fail(kBadParam, fn,
              std::string(wArg) + ": expected k divisible by groupCount " + num(g.groups) + ", got k = " + num(g.K));
}

int checkConvOutput(const char* fn, const char* yArg, const ConvGeom& g, const Layout& y) {
  const int64_t want[4] = {g.N, g.K, g.OH, g.OW};
  bool ok = y.nb == 4;
  for (int i = 0; ok && i < 4; i++) ok = y.dim[i] == want[i];
  if (ok) return kSuccess;
  return fail(kBadParam, fn,
              std::string(yArg) + ": expected the convolution's output dims " + dimsText(4, want) + ", got " +
                  dimsText(y.nb, y.dim));
}

}  // namespace scse::cudnn_emu
#pragma GCC visibility pop

using namespace scse::cudnn;
using namespace scse::cudnn_emu;

extern "C" {

cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* d) {
  return createDescriptor("cudnnCreateConvolutionDescriptor", "convDesc", d);
}

cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d) {
  if (!d) return kSuccess;
  if (int s = checkConvolution("cudnnDestroyConvolutionDescriptor", "convDesc", d, false)) return s;
  d->kind = EmuKind::kDead;
  delete d;
  return kSuccess;
}

cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int padH, int padW, int u, int v,
                                              int dilationH, int dilationW, int mode, int computeType) {
  const char* fn = "cudnnSetConvolution2dDescriptor";
  if (int s = checkConvolution(fn, "convDesc", d, false)) return s;
  const struct {
    const char* name;
    int value, min;
  } args[] = {{"pad_h", padH, 0}, {"pad_w", padW, 0}, {"u", u, 1}, {"v", v, 1}, {"dilation_h", dilationH, 1},
              {"dilation_w", dilationW, 1}};
  for (const auto& a : args) {
    if (a.value < a.min)
      return fail(kBadParam, fn, std::string(a.name) + ": expected >= " + num(a.min) + ", got " + num(a.value));
  }
  if (mode != CUDNN_CONVOLUTION && mode != CUDNN_CROSS_CORRELATION) {
    return fail(kBadParam, fn,
                "mode: expected CUDNN_CONVOLUTION (0) or CUDNN_CROSS_CORRELATION (1), got " + num(mode));
  }
  if (!validComputeType(computeType)) {
    return fail(kBadParam, fn,
                "computeType: expected CUDNN_DATA_FLOAT, DOUBLE, HALF, INT32 or FAST_FLOAT_FOR_FP8, got " +
                    dataTypeText(computeType));
  }
  d->padH = padH, d->padW = padW, d->strideH = u, d->strideW = v, d->dilationH = dilationH, d->dilationW = dilationW;
  d->mode = mode;
  d->computeType = computeType;
  return kSuccess;
}

cudnnStatus_t cudnnGetConvolution2dDescriptor(const cudnnConvolutionDescriptor_t d, int* padH, int* padW, int* u, int* v,
                                              int* dilationH, int* dilationW, int* mode, int* computeType) {
  const char* fn = "cudnnGetConvolution2dDescriptor";
  if (int s = checkConvolution(fn, "convDesc", d, false)) return s;
  int* outs[8] = {padH, padW, u, v, dilationH, dilationW, mode, computeType};
  for (int* p : outs)
    if (int s = checkPointer(fn, "output", p)) return s;
  *padH = d->padH, *padW = d->padW, *u = d->strideH, *v = d->strideW;
  *dilationH = d->dilationH, *dilationW = d->dilationW, *mode = d->mode, *computeType = d->computeType;
  return kSuccess;
}

cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, int mathType) {
  const char* fn = "cudnnSetConvolutionMathType";
  if (int s = checkConvolution(fn, "convDesc", d, false)) return s;
  if (mathType < CUDNN_DEFAULT_MATH || mathType > CUDNN_FMA_MATH) {
    return fail(kBadParam, fn,
                "mathType: expected CUDNN_DEFAULT_MATH (0), CUDNN_TENSOR_OP_MATH (1), "
                "CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION (2) or CUDNN_FMA_MATH (3), got " +
                    num(mathType));
  }
  d->mathType = mathType;
  return kSuccess;
}

cudnnStatus_t cudnnGetConvolutionMathType(cudnnConvolutionDescriptor_t d, int* mathType) {
  const char* fn = "cudnnGetConvolutionMathType";
  if (int s = checkConvolution(fn, "convDesc", d, false)) return s;
  if (int s = checkPointer(fn, "mathType", mathType)) return s;
  *mathType = d->mathType;
  return kSuccess;
}

cudnnStatus_t cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t d, int groupCount) {
  const char* fn = "cudnnSetConvolutionGroupCount";
  if (int s = checkConvolution(fn, "convDesc", d, false)) return s;
  if (groupCount < 1) return fail(kBadParam, fn, "groupCount: expected >= 1, got " + num(groupCount));
  d->groupCount = groupCount;
  return kSuccess;
}

cudnnStatus_t cudnnGetConvolutionGroupCount(cudnnConvolutionDescriptor_t d, int* groupCount) {
  const char* fn = "cudnnGetConvolutionGroupCount";
  if (int s = checkConvolution(fn, "convDesc", d, false)) return s;
  if (int s = checkPointer(fn, "groupCount", groupCount)) return s;
  *groupCount = d->groupCount;
  return kSuccess;
}

cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(cudnnConvolutionDescriptor_t convDesc, cudnnTensorDescriptor_t xDesc,
                                                    cudnnFilterDescriptor_t wDesc, int* n, int* c, int* h, int* w) {
  const char* fn = "cudnnGetConvolution2dForwardOutputDim";
  Layout x;
  ConvGeom g;
  if (int s = checkConvolution(fn, "convDesc", convDesc)) return s;
  if (int s = checkTensor(fn, "inputTensorDesc", xDesc, &x, false)) return s;
  if (int s = checkFilter(fn, "filterDesc", wDesc, nullptr, false)) return s;
  int* outs[4] = {n, c, h, w};
  for (int* p : outs)
    if (int s = checkPointer(fn, "output", p)) return s;
  const int s = convGeometry(fn, "inputTensorDesc", x, "filterDesc", *wDesc, *convDesc, &g);
  if (s == kSuccess || g.N > 0) *n = int(g.N), *c = int(g.K), *h = int(g.OH), *w = int(g.OW);
  return s;
}

}  // extern "C"
