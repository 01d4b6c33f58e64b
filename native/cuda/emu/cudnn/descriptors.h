// The stand-in's descriptor objects (the opaque structs behind cudnn.h's handle types) and the
// argument checks every entry point shares. Each struct starts with a tag so that a descriptor
// of the wrong kind (C lets any pointer through) or a destroyed one is reported as BAD_PARAM
// instead of being misread.
#pragma once
#include <cstdint>
#include <new>
#include <string>

#include "cuda/emu/cudnn/emu.h"
#include "cuda/emu/cudnn/walk.h"

namespace scse::cudnn {

enum class EmuKind : uint32_t {
  kHandle = 0x48444e4c,  // "HDNL"
  kTensor = 0x54454e53,  // "TENS"
  kFilter = 0x46494c54,  // "FILT"
  kConvolution = 0x434f4e56,
  kPooling = 0x504f4f4c,
  kActivation = 0x41435456,
  kDead = 0xdeadbeef,  // written by the destroy functions
};

struct cudnnContext {
  EmuKind kind = EmuKind::kHandle;
  cudaStream_t stream = nullptr;  // recorded only: all work runs synchronously on the caller's thread
};

struct cudnnTensorStruct {
  EmuKind kind = EmuKind::kTensor;
  int dataType = CUDNN_DATA_FLOAT;
  int nbDims = 0;  // 0 = never set
  int dim[CUDNN_DIM_MAX] = {};
  int stride[CUDNN_DIM_MAX] = {};
};

// 4-d filters only (cudnnSetFilter4dDescriptor): dims k, c, h, w (= K, C, R, S).
struct cudnnFilterStruct {
  EmuKind kind = EmuKind::kFilter;
  int dataType = CUDNN_DATA_FLOAT;
  int format = CUDNN_TENSOR_NCHW;
  int nbDims = 0;  // 0 = never set, else 4
  int dim[4] = {};
};

// Created as cuDNN 9.24 creates one (its getters read these back before any set): all zeros but
// one group. Strides of 0 mark it as never set for the ops.
struct cudnnConvolutionStruct {
  EmuKind kind = EmuKind::kConvolution;
  int padH = 0, padW = 0, strideH = 0, strideW = 0, dilationH = 0, dilationW = 0;
  int mode = CUDNN_CONVOLUTION;
  int computeType = CUDNN_DATA_FLOAT;
  int mathType = CUDNN_DEFAULT_MATH;
  int groupCount = 1;
};

struct cudnnPoolingStruct {
  EmuKind kind = EmuKind::kPooling;
  bool set = false;
  int mode = CUDNN_POOLING_MAX, nanOpt = CUDNN_NOT_PROPAGATE_NAN;
  int windowH = 0, windowW = 0, padH = 0, padW = 0, strideH = 0, strideW = 0;
};

struct cudnnActivationStruct {
  EmuKind kind = EmuKind::kActivation;
  bool set = false;
  int mode = CUDNN_ACTIVATION_SIGMOID, nanOpt = CUDNN_NOT_PROPAGATE_NAN;
  double coef = 0.0;
};

}  // namespace scse::cudnn

namespace scse::cudnn_emu {

// A filter seen as a strided tensor with dims [K, C, R, S] (KCRS for NCHW, KRSC for NHWC).
Layout filterLayout(const cudnnFilterStruct& f);
Layout tensorLayout(const cudnnTensorStruct& t);

// Argument checks. Each returns kSuccess, or records "fn: arg: <problem>" and returns the
// status cuDNN gives (BAD_PARAM for null or wrong-kind arguments, NOT_SUPPORTED for data types
// other than float, which is all the stand-in computes).
int checkHandle(const char* fn, cudnnHandle_t h);
// checkHandle, then waits for the work queued on the handle's stream (an emulated CUDA stream,
// stream_abi.h): every op that reads or writes device memory starts with it.
int beginWork(const char* fn, cudnnHandle_t h);
int checkPointer(const char* fn, const char* arg, const void* p);
// A set tensor descriptor; with `needFloat`, of CUDNN_DATA_FLOAT and without negative strides
// (which cuDNN's descriptors accept but the stand-in's ops do not handle). Fills *out if non-null.
int checkTensor(const char* fn, const char* arg, cudnnTensorDescriptor_t d, Layout* out, bool needFloat = true);
int checkFilter(const char* fn, const char* arg, cudnnFilterDescriptor_t d, Layout* out, bool needFloat = true);
// The descriptor kind, and with `needSet` that it was set (setters and getters pass false).
int checkConvolution(const char* fn, const char* arg, cudnnConvolutionDescriptor_t d, bool needSet = true);
int checkPooling(const char* fn, const char* arg, cudnnPoolingDescriptor_t d, bool needSet = true);
int checkActivation(const char* fn, const char* arg, cudnnActivationDescriptor_t d, bool needSet = true);
// Same dims (strides may differ): x/y, dy/dx pairs of the elementwise ops.
int checkSameDims(const char* fn, const char* argA, const Layout& a, const char* argB, const Layout& b);
// Descriptor kind only (for the getters and setters, which accept unset descriptors).
bool isTensor(cudnnTensorDescriptor_t d);
bool isFilter(cudnnFilterDescriptor_t d);
bool isConvolution(cudnnConvolutionDescriptor_t d);
bool isPooling(cudnnPoolingDescriptor_t d);
bool isActivation(cudnnActivationDescriptor_t d);

// cudnnCreate*Descriptor: a new D in *out (`arg` names the out-pointer in errors).
template <class D>
int createDescriptor(const char* fn, const char* arg, D** out) {
  if (int s = checkPointer(fn, arg, out)) return s;
  *out = new (std::nothrow) D();
  if (!*out) return fail(kHostAllocFailed, fn, "out of host memory");
  return kSuccess;
}

// cudnnDestroy*Descriptor: NULL is accepted (as cuDNN does); a pointer that `is` does not
// recognise as `what` is BAD_PARAM; the tag is overwritten so a stale use is caught.
template <class D>
int destroyDescriptor(const char* fn, const char* arg, D* d, bool (*is)(D*), const char* what) {
  if (!d) return kSuccess;
  if (!is(d)) return fail(kBadParam, fn, std::string(arg) + ": expected " + what + ", got another object");
  d->kind = EmuKind::kDead;
  delete d;
  return kSuccess;
}

}  // namespace scse::cudnn_emu
