// Stride-1, dilation-1 convolutions by tiled Fourier transforms (overlap-save), for the large
// kernels of the paper's networks (5×5 U-Net/QuickNAT, 7×7 SD-Net). A direct convolution costs
// 2·KH·KW·IC·OC flops per output pixel; here each T×T input tile is transformed once per channel,
// the channels are mixed by one complex GEMM per frequency, and each output tile is transformed
// back once per channel: 5–7× fewer flops on 4×256×256×64 layers. Every stage is a GEMM (the
// transforms are DFT matrices, not butterflies), so all the arithmetic runs in oneDNN's sgemm.
// Results are fp32 with rounding errors of the order of a direct convolution's (no reduced
// precision); conv.cc picks this path by a flop estimate (fftConvPreferred) or by convAlgorithm().
// One difference in kind: a NaN or Inf input pixel spreads to its whole output tile (every
// frequency mixes every pixel), not only to the pixels whose window holds it.
#pragma once
#include <cstdint>

namespace scse {

// y [N, OH, OW, OC] = correlation of x [N, IH, IW, IC] (zero-padded by ph on top, pw on the left;
// anything beyond the input is zero) with w OHWI [OC, KH, KW, IC].
struct FftConvGeom {
  int64_t N, IH, IW, IC, OC, KH, KW, OH, OW, ph, pw;
};

// True when the weights' spectrum at the smallest usable tile stays within 256 MiB (it grows with
// IC·OC): wider layers stay on the direct kernels even when the route is forced.
bool fftConvFits(const FftConvGeom& g);

// True when the transform route's flop estimate beats the direct convolution's by a margin that
// covers its extra memory passes (and fftConvFits).
bool fftConvPreferred(const FftConvGeom& g);

// Caps the tiles transformed together (0 = automatic, ~64 MiB per buffer): lets tests cover
// several chunks and a partial last one on small inputs.
void fftConvSetChunkCap(int64_t tiles);

// y = conv(x, w) + bias (bias may be null).
void fftConvForward(const FftConvGeom& g, const float* x, const float* w, const float* bias, float* y);
// dw (OHWI) and, when db is not null, db [OC] from x and dy [N, OH, OW, OC].
void fftConvBackwardWeights(const FftConvGeom& g, const float* x, const float* dy, float* dw, float* db);

}  // namespace scse
