// See cudnn_descriptors.h. Moved out of cudnn_ops.cc unchanged, so that the conformance hooks
// build exactly what the ops build.
#include "cuda/cudnn_descriptors.h"

#include <climits>

#include "cuda/cudnn_loader.h"
#include "cuda/device.h"

namespace scse::cuda::cudnn_desc {

using namespace scse::cudnn;

void check(int status, const char* op, const char* call) {
  if (status != CUDNN_STATUS_SUCCESS) throw CudaError(std::string(op) + ": " + call + ": " + describeStatus(status));
}

std::string dimsText(std::initializer_list<int64_t> v) {
  std::string s = "[";
  for (int64_t d : v) s += (s.size() > 1 ? ", " : "") + std::to_string(d);
  return s + "]";
}

int toInt(int64_t v, const char* op) {
  if (v < 0 || v > INT_MAX) throw CudaError(std::string(op) + ": size " + std::to_string(v) + " does not fit cuDNN's int sizes");
  return int(v);
}

void checkElements(int64_t n, int64_t c, int64_t h, int64_t w, const char* op) {
  if (n * c * h * w > INT_MAX) {
    throw CudaError(std::string(op) + ": tensor " + dimsText({n, h, w, c}) + " has more than 2^31-1 elements (cuDNN's limit)");
  }
}

TensorDesc::TensorDesc(const Api& api, const char* op) : a(&api) { SCSE_CUDNN(api, op, cudnnCreateTensorDescriptor, &d); }
TensorDesc::~TensorDesc() { a->cudnnDestroyTensorDescriptor(d); }
void TensorDesc::nhwc(int64_t n, int64_t c, int64_t h, int64_t w, const char* op) {
  checkElements(n, c, h, w, op);
  SCSE_CUDNN(*a, op, cudnnSetTensor4dDescriptor, d, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, toInt(n, op), toInt(c, op),
             toInt(h, op), toInt(w, op));
}

FilterDesc::FilterDesc(const Api& api, const char* op) : a(&api) { SCSE_CUDNN(api, op, cudnnCreateFilterDescriptor, &d); }
FilterDesc::~FilterDesc() { a->cudnnDestroyFilterDescriptor(d); }

ConvDesc::ConvDesc(const Api& api, const char* op) : a(&api) { SCSE_CUDNN(api, op, cudnnCreateConvolutionDescriptor, &d); }
ConvDesc::~ConvDesc() { a->cudnnDestroyConvolutionDescriptor(d); }

std::string Equiv::key(char dir) const {
  std::string k(1, dir);
  for (int64_t v : {N, inC, inH, inW, outC, outH, outW, K, C, KH, KW, padH, padW, sH, sW, dH, dW, int64_t(tf32)}) {
    k += ',' + std::to_string(v);
  }
  return k;
}

Equiv equivOf(const ConvParams& p) {
  Equiv e{};
  e.N = p.N, e.KH = p.KH, e.KW = p.KW;
  e.padH = p.padH, e.padW = p.padW, e.sH = p.strideH, e.sW = p.strideW, e.dH = p.dilationH, e.dW = p.dilationW;
  e.tf32 = p.allowTf32;
  if (!p.transposed) {
    e.inC = p.IC, e.inH = p.IH, e.inW = p.IW, e.outC = p.OC, e.outH = p.OH, e.outW = p.OW, e.K = p.OC, e.C = p.IC;
  } else {
    e.inC = p.OC, e.inH = p.OH, e.inW = p.OW, e.outC = p.IC, e.outH = p.IH, e.outW = p.IW, e.K = p.IC, e.C = p.OC;
  }
  return e;
}

void setConvDescriptors(ConvDescriptors& k, const Api& a, const Equiv& e, const char* op) {
  k.in.nhwc(e.N, e.inC, e.inH, e.inW, op);
  k.out.nhwc(e.N, e.outC, e.outH, e.outW, op);
  checkElements(e.K, e.C, e.KH, e.KW, op);
  SCSE_CUDNN(a, op, cudnnSetFilter4dDescriptor, k.w.d, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, toInt(e.K, op), toInt(e.C, op),
             toInt(e.KH, op), toInt(e.KW, op));
  SCSE_CUDNN(a, op, cudnnSetConvolution2dDescriptor, k.conv.d, toInt(e.padH, op), toInt(e.padW, op), toInt(e.sH, op),
             toInt(e.sW, op), toInt(e.dH, op), toInt(e.dW, op), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT);
  SCSE_CUDNN(a, op, cudnnSetConvolutionMathType, k.conv.d, e.tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH);
}

void checkConvOutput(const ConvDescriptors& k, const Api& a, const Equiv& e, const char* op) {
  int n = 0, c = 0, oh = 0, ow = 0;
  SCSE_CUDNN(a, op, cudnnGetConvolution2dForwardOutputDim, k.conv.d, k.in.d, k.w.d, &n, &c, &oh, &ow);
  if (n != e.N || c != e.outC || oh != e.outH || ow != e.outW) {
    throw CudaError(std::string(op) + ": cuDNN's convolution maps " + dimsText({e.N, e.inH, e.inW, e.inC}) + " to " +
                    dimsText({n, oh, ow, c}) + ", not the expected " + dimsText({e.N, e.outH, e.outW, e.outC}) +
                    " (a transposed convolution needs outputPadding < stride on CUDA)");
  }
}

void setBnDescriptors(BnDescriptors& e, const Api& a, const BnDims& d, const char* op) {
  e.x.nhwc(d.N, d.C, d.H, d.W, op);
  SCSE_CUDNN(a, op, cudnnDeriveBNTensorDescriptor, e.bn.d, e.x.d, CUDNN_BATCHNORM_SPATIAL);
}

}  // namespace scse::cuda::cudnn_desc
