// See conv_patch.h. Work is split into blocks of one input row (n, y): IW pixels whose outputs
// are the KH output rows y·KH .. y·KH+KH−1. Each thread runs single-threaded GEMMs on its blocks
// through a row buffer Z [IW, KH·KW·OC] that stays in cache (≤ 1 MiB for U-Net's shapes).
#include "cpu/conv_patch.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/gemm.h"
#include "cpu/parallel.h"

namespace scse {
namespace {

// Pointer to output row (n, oy) of a [N, IH·KH, IW·KW, OC] tensor.
inline int64_t outRow(const PatchGeom& g, int64_t n, int64_t oy) { return (n * g.IH * g.KH + oy) * g.IW * g.KW * g.OC; }

}  // namespace

void patchDeconvForward(const PatchGeom& g, const float* x, const float* w, const float* bias, float* y) {
  const int64_t cols = g.KH * g.KW * g.OC, rows = g.N * g.IH, seg = g.KW * g.OC;
  GemmStatus st;
#pragma omp parallel if (rows * g.IW * cols > kParallelGrain)
  {
    std::vector<float> z(size_t(g.IW * cols));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      st.run('N', 'N', g.IW, cols, g.IC, x + r * g.IW * g.IC, g.IC, w, cols, 0.0f, z.data(), cols);
      const int64_t n = r / g.IH, iy = r % g.IH;
      // z[ix][(a, b, oc)] -> y[n][iy·KH + a][ix·KW + b][oc]: KW·OC contiguous floats per (ix, a)
      for (int64_t a = 0; a < g.KH; a++) {
        float* yr = y + outRow(g, n, iy * g.KH + a);
        for (int64_t ix = 0; ix < g.IW; ix++) {
          const float* zs = z.data() + ix * cols + a * seg;
          float* yd = yr + ix * seg;
          if (bias) {
            for (int64_t b = 0; b < g.KW; b++) {
              for (int64_t c = 0; c < g.OC; c++) yd[b * g.OC + c] = zs[b * g.OC + c] + bias[c];
            }
          } else {
            std::memcpy(yd, zs, size_t(seg) * sizeof(float));
          }
        }
      }
    }
  }
  st.check("convTranspose2d");
}

void patchDeconvBackwardWeights(const PatchGeom& g, const float* x, const float* dy, float* dw, float* db) {
  const int64_t cols = g.KH * g.KW * g.OC, rows = g.N * g.IH, seg = g.KW * g.OC;
  const int nt = omp_get_max_threads();
  // per-thread partial sums, added in thread order: deterministic for a given thread count
  std::vector<float> dwPart(size_t(nt) * g.IC * cols, 0.0f);
  std::vector<double> dbPart(size_t(nt) * g.OC, 0.0);
  GemmStatus st;
#pragma omp parallel if (rows * g.IW * cols > kParallelGrain)
  {
    const int t = omp_get_thread_num();
    float* dwT = dwPart.data() + size_t(t) * g.IC * cols;
    double* dbT = dbPart.data() + size_t(t) * g.OC;
    std::vector<float> z(size_t(g.IW * cols));
    std::vector<float> colSum(size_t(g.OC));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const int64_t n = r / g.IH, iy = r % g.IH;
      // gather dy's patches of this input row: z[ix][(a, b, oc)] = dy[n][iy·KH + a][ix·KW + b][oc]
      for (int64_t a = 0; a < g.KH; a++) {
        const float* dr = dy + outRow(g, n, iy * g.KH + a);
        for (int64_t ix = 0; ix < g.IW; ix++) std::memcpy(z.data() + ix * cols + a * seg, dr + ix * seg, size_t(seg) * sizeof(float));
      }
      st.run('T', 'N', g.IC, cols, g.IW, x + r * g.IW * g.IC, g.IC, z.data(), cols, 1.0f, dwT, cols);
      if (db) {
        std::fill(colSum.begin(), colSum.end(), 0.0f);
        for (int64_t i = 0; i < g.IW * g.KH * g.KW; i++) {
          const float* zr = z.data() + i * g.OC;
          for (int64_t c = 0; c < g.OC; c++) colSum[c] += zr[c];
        }
        for (int64_t c = 0; c < g.OC; c++) dbT[c] += colSum[c];
      }
    }
  }
  st.check("convTranspose2d");
  const int64_t nw = g.IC * cols;
  for (int64_t i = 0; i < nw; i++) {
    float s = 0;
    for (int t = 0; t < nt; t++) s += dwPart[size_t(t) * nw + i];
    dw[i] = s;
  }
  if (db) {
    for (int64_t c = 0; c < g.OC; c++) {
      double s = 0;
      for (int t = 0; t < nt; t++) s += dbPart[size_t(t) * g.OC + c];
      db[c] = float(s);
    }
  }
}

}  // namespace scse
