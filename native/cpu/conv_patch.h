// Transposed convolutions whose kernel equals their stride (no padding, no output padding,
// dilation 1), like U-Net's 2×2 / stride-2 upsampler: every input pixel writes its own kH×kW
// output patch, so the op is a GEMM X[pixels, IC] · W[IC, kH·kW·OC] followed by a rearrangement.
// oneDNN 2.6 runs this shape as a generic strided deconvolution at 40–70 GFLOP/s; as GEMMs on
// blocks of input rows it runs near the machine's GEMM speed (conv.cc routes it here).
#pragma once
#include <cstdint>

namespace scse {

struct PatchGeom {
  int64_t N, IH, IW, IC, OC, KH, KW;  // output: [N, IH·KH, IW·KW, OC]
};

// y = convTranspose(x, w) + bias (bias may be null); x [N,IH,IW,IC], w [IC,KH,KW,OC].
void patchDeconvForward(const PatchGeom& g, const float* x, const float* w, const float* bias, float* y);
// dw [IC,KH,KW,OC] and (when db is not null) db [OC] from x and dy [N,IH·KH,IW·KW,OC].
void patchDeconvBackwardWeights(const PatchGeom& g, const float* x, const float* dy, float* dw, float* db);

}  // namespace scse
