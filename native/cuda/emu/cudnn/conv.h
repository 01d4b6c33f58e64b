// One 2-d convolution as the stand-in computes it: the geometry that x, w and the convolution
// descriptor define (validated as cudnnGetConvolution2dForwardOutputDim does), and the three
// directions on packed float64 buffers (conv_math.cc). The entry points (conv.cc) pack their
// strided float tensors into those buffers and blend the results back.
#pragma once
#include <cstdint>
#include <vector>

#include "cuda/emu/cudnn/descriptors.h"

namespace scse::cudnn_emu {

struct ConvGeom {
  int64_t N = 0, C = 0, H = 0, W = 0;  // x: [N, C, H, W]
  int64_t K = 0, Cg = 0, R = 0, S = 0; // w: [K, Cg, R, S]; Cg = C / groups
  int64_t OH = 0, OW = 0;              // y: [N, K, OH, OW]
  int64_t padH = 0, padW = 0, strideH = 1, strideW = 1, dilationH = 1, dilationW = 1;
  int64_t groups = 1;
  bool flip = false;  // CUDNN_CONVOLUTION: the filter is applied rotated by 180 degrees
};

// Validates x (4-d), w and conv against each other and fills *g. `xArg`/`wArg` name the
// arguments in messages. Data types are not checked here.
int convGeometry(const char* fn, const char* xArg, const Layout& x, const char* wArg, const cudnnFilterStruct& w,
                 const cudnnConvolutionStruct& conv, ConvGeom* g);
// The output tensor must be [N, K, OH, OW].
int checkConvOutput(const char* fn, const char* yArg, const ConvGeom& g, const Layout& y);
// The ops also need K divisible by the group count (the output size query does not check it).
int checkConvGroups(const char* fn, const char* wArg, const ConvGeom& g);

// Packed float64 buffers: activations NHWC ([N][H][W][C] and [N][OH][OW][K]); the filter KRSC
// ([K][R][S][Cg]), already rotated when g.flip, so the kernels always cross-correlate.
std::vector<double> packActivations(const Layout& t, const float* src);  // t: [N, C, H, W]
std::vector<double> packFilter(const ConvGeom& g, const Layout& f, const float* src);
// dst = alpha*packed + beta*dst, back into the strided tensor / filter.
void unpackActivations(const Layout& t, const double* packed, double alpha, double beta, float* dst);
void unpackFilter(const ConvGeom& g, const Layout& f, const double* packed, double alpha, double beta, float* dst);

// y[n,oh,ow,k] = sum_{r,s,c} x[n, oh*sH - pH + r*dH, ow*sW - pW + s*dW, g*Cg + c] * w[k,r,s,c]
std::vector<double> convForwardPacked(const ConvGeom& g, const double* x, const double* w);
// dx = the adjoint of the forward map in x, applied to dy
std::vector<double> convBackwardDataPacked(const ConvGeom& g, const double* dy, const double* w);
// dw = the adjoint of the forward map in w, applied to dy
std::vector<double> convBackwardFilterPacked(const ConvGeom& g, const double* x, const double* dy);

}  // namespace scse::cudnn_emu

namespace scse::cudnn_emu {

enum class ConvDir { kForward, kBackwardData, kBackwardFilter };

// The algorithm enumerants of a direction: CUDNN_CONVOLUTION_*_ALGO_COUNT.
int convAlgoCount(ConvDir dir);
// BAD_PARAM for a value outside the enum, NOT_SUPPORTED for an algorithm the stand-in does not
// offer (the ones its heuristics list reports as not supported; see conv_algo.cc).
int checkConvAlgo(const char* fn, ConvDir dir, int algo);
// Scratch the stand-in needs for an algorithm: none (it allocates its own host buffers).
inline size_t convWorkspaceBytes(ConvDir, const ConvGeom&, int) { return 0; }

// The computeType of the convolution descriptor must be float for float data (FLOAT_CONFIG).
int checkConvCompute(const char* fn, const cudnnConvolutionStruct& conv);

}  // namespace scse::cudnn_emu
