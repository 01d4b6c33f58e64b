// The cuDNN descriptors of our convolutions and batch norm (cudnn_ops.h), built from a loaded
// function table alone: no cudnnHandle, no device. cudnn_ops.cc builds them for its kernels; the
// conformance hooks (core/cudnn_conformance_hooks.cc) build the very same ones against the real
// libcudnn.so.9 and the CPU stand-in, and read them back. Plain C++ header.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>

#include "cuda/cudnn.h"
#include "cuda/cudnn_ops.h"

namespace scse::cuda::cudnn_desc {

// Throws CudaError "<op>: <call>: CUDNN_STATUS_... (code): <message>" for a non-success status
// (names through the loader's mapping: 8.x and 9.x numbering differ).
void check(int status, const char* op, const char* call);
#define SCSE_CUDNN(api, op, fn, ...) ::scse::cuda::cudnn_desc::check((api).fn(__VA_ARGS__), op, #fn)

// "[1, 2, 3]"
std::string dimsText(std::initializer_list<int64_t> v);
// cuDNN's legacy API takes int sizes and int strides: every size and element count must fit.
int toInt(int64_t v, const char* op);
void checkElements(int64_t n, int64_t c, int64_t h, int64_t w, const char* op);

// ---- descriptors (RAII: cudnn_ops.cc's caches destroy them only when trimmed, never at exit) ----
struct TensorDesc {
  const cudnn::Api* a;
  cudnn::cudnnTensorDescriptor_t d = nullptr;
  TensorDesc(const cudnn::Api& api, const char* op);
  ~TensorDesc();
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
  // NHWC float tensor with logical dims (n, c, h, w)
  void nhwc(int64_t n, int64_t c, int64_t h, int64_t w, const char* op);
};

struct FilterDesc {
  const cudnn::Api* a;
  cudnn::cudnnFilterDescriptor_t d = nullptr;
  FilterDesc(const cudnn::Api& api, const char* op);
  ~FilterDesc();
  FilterDesc(const FilterDesc&) = delete;
  FilterDesc& operator=(const FilterDesc&) = delete;
};

struct ConvDesc {
  const cudnn::Api* a;
  cudnn::cudnnConvolutionDescriptor_t d = nullptr;
  ConvDesc(const cudnn::Api& api, const char* op);
  ~ConvDesc();
  ConvDesc(const ConvDesc&) = delete;
  ConvDesc& operator=(const ConvDesc&) = delete;
};

// ---- the equivalent convolution ------------------------------------------------------------------
// cuDNN knows one convolution (cross-correlation) `in` -> `out` with a KRSC filter [K][R][S][C]
// (filter format NHWC). A convolution is that with in = x, out = y, K = OC, C = IC (OHWI). A
// transposed convolution is its data gradient: in = y, out = x, K = IC, C = OC, i.e. our
// [IC,KH,KW,OC] weights as they are. The op's directions then map to cuDNN's three calls:
//            forward            backward data          backward weights
//   conv     Forward(x -> y)    BackwardData(dy -> dx)  BackwardFilter(x, dy)
//   convT    BackwardData(x->y) Forward(dy -> dx)       BackwardFilter(in = dy, out = x)
// so the descriptors are the same for every direction of one ConvParams.
struct Equiv {
  int64_t N, inC, inH, inW, outC, outH, outW, K, C, KH, KW;
  int64_t padH, padW, sH, sW, dH, dW;
  bool tf32;
  std::string key(char dir) const;  // cache key of one direction
};
Equiv equivOf(const ConvParams& p);

struct ConvDescriptors {
  ConvDescriptors(const cudnn::Api& a, const char* op) : in(a, op), out(a, op), w(a, op), conv(a, op) {}
  TensorDesc in, out;
  FilterDesc w;
  ConvDesc conv;
};
// NHWC float `in` and `out`, the NHWC (KRSC) float filter, cross-correlation with fp32 compute and
// the math type before any algorithm is chosen: CUDNN_FMA_MATH (strict fp32) unless e.tf32.
void setConvDescriptors(ConvDescriptors& d, const cudnn::Api& a, const Equiv& e, const char* op);
// cuDNN's output size for `in` must be `out`: throws otherwise (it is not, e.g., for a transposed
// convolution whose outputPadding is not smaller than its stride: cuDNN cannot express that one).
void checkConvOutput(const ConvDescriptors& d, const cudnn::Api& a, const Equiv& e, const char* op);

// Batch norm over x [N,H,W,C] (NHWC) per channel: x's descriptor and the one cuDNN derives from
// it for scale, bias, mean and variance (SPATIAL mode: 1xCx1x1).
struct BnDescriptors {
  BnDescriptors(const cudnn::Api& a, const char* op) : x(a, op), bn(a, op) {}
  TensorDesc x, bn;
};
void setBnDescriptors(BnDescriptors& d, const cudnn::Api& a, const BnDims& dims, const char* op);

}  // namespace scse::cuda::cudnn_desc
