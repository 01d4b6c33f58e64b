// See conv_fft.h. Overlap-save: output tile (ty, tx) covers vh×vw output pixels and reads the
// T×T input tile starting vh·ty − ph, vw·tx − pw (vh = T − KH + 1): on that tile the circular
// correlation with the zero-padded kernel equals the linear one for the first vh×vw outputs.
//
// Data layouts, chosen so that each stage is one GEMM (or one per frequency) with no transposes:
// a chunk of ct tiles is gathered as G[j][i][c][t] (tile column j, row i, channel c, tile t);
//   row DFT      R[v][part][i][c][t] = F_row (2V × T) · G           (v < V = T/2 + 1, part re/im)
//   column DFT   S[v][u][part][c][t] = F_col (2T × 2T) · R[v]       (per v)
//   channel mix  Z[v][u][part][o][t] = Wb[v][u] (2O × 2C) · S[v][u] (per frequency)
//   inverse      P[v][part][i][o][t] = I_col (2vh × 2T) · Z[v], then Q[j][i][o][t] = I_row (vw × 2V) · P
// and Q is scattered into y. Only the half spectrum v ≤ T/2 is kept (the tiles are real).
#include "cpu/conv_fft.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <vector>

#include "core/tensor.h"
#include "cpu/gemm.h"
#include "cpu/parallel.h"

namespace scse {
namespace {

constexpr const char* kOp = "conv2d (Fourier route)";
std::atomic<int64_t> gChunkCap{0};

struct Plan {
  int64_t T = 0, V = 0;    // tile side, half-spectrum width
  int64_t vh = 0, vw = 0;  // valid outputs per tile: rows, columns
  int64_t th = 0, tw = 0;  // tiles per image: rows, columns
  int64_t tiles = 0;       // N·th·tw
  int64_t chunk = 0;       // tiles transformed together
};

// Flops of one tile through all stages with channel counts C in, O out.
double tileFlops(int64_t T, int64_t vh, int64_t vw, int64_t C, int64_t O) {
  const double V = double(T / 2 + 1), t = double(T);
  return 2 * (2 * V) * t * t * C        // row DFT
         + V * 2 * (2 * t) * (2 * t) * C  // column DFT
         + t * V * 2 * (2.0 * O) * (2.0 * C)  // channel mix
         + V * 2 * (2.0 * vh) * (2 * t) * O  // inverse column DFT
         + 2.0 * vw * (2 * V) * vh * O;       // inverse row DFT
}

Plan makePlan(const FftConvGeom& g) {
  Plan best;
  double bestCost = 0;
  const int64_t kmax = std::max(g.KH, g.KW);
  for (int64_t T = (kmax + 2) & ~int64_t(1); T <= 64; T += 2) {
    const int64_t vh = T - g.KH + 1, vw = T - g.KW + 1;
    const int64_t th = (g.OH + vh - 1) / vh, tw = (g.OW + vw - 1) / vw;
    const double cost = double(g.N * th * tw) * tileFlops(T, vh, vw, g.IC, g.OC);
    if (best.T == 0 || cost < bestCost) {
      best.T = T, best.V = T / 2 + 1, best.vh = vh, best.vw = vw, best.th = th, best.tw = tw, best.tiles = g.N * th * tw;
      bestCost = cost;
    }
    if (vh >= g.OH && vw >= g.OW) break;  // one tile already covers the image
  }
  // About 64 MiB per work buffer: enough tiles for efficient per-frequency GEMMs.
  const int64_t perTile = std::max(best.T * best.T, 2 * best.V * best.T) * std::max(g.IC, g.OC);
  best.chunk = std::clamp<int64_t>((int64_t(16) << 20) / perTile, 16, 256);
  if (gChunkCap > 0) best.chunk = std::min(best.chunk, gChunkCap.load());
  best.chunk = std::min(best.chunk, best.tiles);
  return best;
}

// ---- DFT matrices (angles from exact integer products mod T, in double) -------------------------
double angle(int64_t a, int64_t b, int64_t T) { return 2.0 * M_PI * double((a * b) % T) / double(T); }

// 2V × n: row (v, re) = cos, (v, im) = −sin of 2π·v·q/T, for inputs q < n.
std::vector<float> rowForward(int64_t T, int64_t V, int64_t n) {
  std::vector<float> m(size_t(2 * V * n));
  for (int64_t v = 0; v < V; v++) {
    for (int64_t q = 0; q < n; q++) {
      m[size_t((2 * v) * n + q)] = float(std::cos(angle(v, q, T)));
      m[size_t((2 * v + 1) * n + q)] = float(-std::sin(angle(v, q, T)));
    }
  }
  return m;
}

// 2T × 2n, rows (u, part'), columns (part, i): the complex DFT over i < n, e^{−iθ}·(re + i·im).
std::vector<float> colForward(int64_t T, int64_t n) {
  std::vector<float> m(size_t(4 * T * n));
  for (int64_t u = 0; u < T; u++) {
    float* re = m.data() + (2 * u) * 2 * n;
    float* im = re + 2 * n;
    for (int64_t i = 0; i < n; i++) {
      const float c = float(std::cos(angle(u, i, T))), s = float(std::sin(angle(u, i, T)));
      re[i] = c, re[n + i] = s;    // re' = c·re + s·im
      im[i] = -s, im[n + i] = c;   // im' = −s·re + c·im
    }
  }
  return m;
}

// 2n × 2T, rows (part, i) for outputs i < n, columns (u, part'): (1/T)·Σ_u e^{+iθ}·(re + i·im).
std::vector<float> colInverse(int64_t T, int64_t n) {
  std::vector<float> m(size_t(4 * n * T));
  for (int64_t i = 0; i < n; i++) {
    float* re = m.data() + i * 2 * T;
    float* im = m.data() + (n + i) * 2 * T;
    for (int64_t u = 0; u < T; u++) {
      const float c = float(std::cos(angle(u, i, T)) / T), s = float(std::sin(angle(u, i, T)) / T);
      re[2 * u] = c, re[2 * u + 1] = -s;
      im[2 * u] = s, im[2 * u + 1] = c;
    }
  }
  return m;
}

// n × 2V, columns (v, part): the real inverse over a Hermitian half spectrum (bins 0 and T/2 once,
// the others twice), (1/T)·Σ_v c_v·(re·cos φ − im·sin φ).
std::vector<float> rowInverse(int64_t T, int64_t V, int64_t n) {
  std::vector<float> m(size_t(n * 2 * V));
  for (int64_t j = 0; j < n; j++) {
    for (int64_t v = 0; v < V; v++) {
      const double cv = (v == 0 || 2 * v == T) ? 1.0 : 2.0;
      m[size_t(j * 2 * V + 2 * v)] = float(cv * std::cos(angle(v, j, T)) / T);
      m[size_t(j * 2 * V + 2 * v + 1)] = float(-cv * std::sin(angle(v, j, T)) / T);
    }
  }
  return m;
}

float* fptr(Storage& s) { return static_cast<float*>(s.ptr); }
std::unique_ptr<Storage> buffer(int64_t floats) { return std::make_unique<Storage>(size_t(floats) * sizeof(float)); }

// ---- tiles --------------------------------------------------------------------------------------
// The tile transposes between pixel-major activations ([pixel][channel]) and the tile-minor
// slabs of the transforms ([channel][tile]) go through 16×16 blocks in a local buffer, so every
// memory access is a run of 16 floats (a cache line) instead of one float per line.
constexpr int64_t kBlk = 16;

// Tile t's (n, ty, tx).
struct TileIdx {
  int64_t n, ty, tx;
};
inline TileIdx tileOf(const Plan& p, int64_t t) { return {t / (p.th * p.tw), (t / p.tw) % p.th, t % p.tw}; }

// G[j][i][c][tt] for tiles t0 .. t0+ct: src[n][ty·vh + i − offH][tx·vw + j − offW][c] where
// i < limH and j < limW and the pixel lies inside src [N, H, W, C]; zero elsewhere. One work item
// is tile row i of 16 tiles: 16 contiguous input row segments in, runs of 16 floats out.
void gather(const float* src, int64_t H, int64_t W, int64_t C, const Plan& p, int64_t t0, int64_t ct, int64_t offH,
            int64_t offW, int64_t limH, int64_t limW, float* G) {
  const int64_t T = p.T, kb = (ct + kBlk - 1) / kBlk;
  parallelFor(T * kb, T * C * kBlk, [&](int64_t item) {
    const int64_t i = item / kb, k0 = (item % kb) * kBlk, nk = std::min(kBlk, ct - k0);
    const float* row[kBlk];  // tile k's input row (row 0 when the tile row lies outside)
    int64_t col0[kBlk], jlo[kBlk], jhi[kBlk];  // input column of tile column 0; tile columns inside the input
    for (int64_t k = 0; k < nk; k++) {
      const TileIdx ti = tileOf(p, t0 + k0 + k);
      const int64_t r = ti.ty * p.vh + i - offH;
      const bool rowInside = i < limH && r >= 0 && r < H;
      col0[k] = ti.tx * p.vw - offW;
      jlo[k] = rowInside ? std::clamp<int64_t>(-col0[k], 0, limW) : 0;
      jhi[k] = rowInside ? std::clamp<int64_t>(W - col0[k], jlo[k], limW) : 0;
      row[k] = src + (ti.n * H + (rowInside ? r : 0)) * W * C;
    }
    float blk[kBlk][kBlk];
    for (int64_t j = 0; j < T; j++) {
      float* dst = G + (j * T + i) * C * ct + k0;
      for (int64_t c0 = 0; c0 < C; c0 += kBlk) {
        const int64_t nc = std::min(kBlk, C - c0);
        for (int64_t k = 0; k < nk; k++) {
          if (j >= jlo[k] && j < jhi[k]) {
            const float* s = row[k] + (col0[k] + j) * C + c0;
            for (int64_t c = 0; c < nc; c++) blk[c][k] = s[c];
          } else {
            for (int64_t c = 0; c < nc; c++) blk[c][k] = 0.0f;
          }
        }
        for (int64_t c = 0; c < nc; c++) std::copy(blk[c], blk[c] + nk, dst + (c0 + c) * ct);
      }
    }
  });
}

// Q[j][i][o][tt] -> y[n][ty·vh + i][tx·vw + j][o] (+ bias), inside y only. One work item is
// output row i of 16 tiles.
void scatter(const float* Q, const FftConvGeom& g, const Plan& p, int64_t t0, int64_t ct, const float* bias, float* y) {
  const int64_t O = g.OC, kb = (ct + kBlk - 1) / kBlk;
  parallelFor(p.vh * kb, p.vw * O * kBlk, [&](int64_t item) {
    const int64_t i = item / kb, k0 = (item % kb) * kBlk, nk = std::min(kBlk, ct - k0);
    float* row[kBlk];
    int64_t jhi[kBlk];
    for (int64_t k = 0; k < nk; k++) {
      const TileIdx ti = tileOf(p, t0 + k0 + k);
      const int64_t r = ti.ty * p.vh + i, col0 = ti.tx * p.vw;
      jhi[k] = r < g.OH ? std::min(p.vw, g.OW - col0) : 0;
      row[k] = y + ((ti.n * g.OH + std::min(r, g.OH - 1)) * g.OW + col0) * O;
    }
    float blk[kBlk][kBlk];
    for (int64_t j = 0; j < p.vw; j++) {
      const float* s = Q + (j * p.vh + i) * O * ct + k0;
      for (int64_t o0 = 0; o0 < O; o0 += kBlk) {
        const int64_t no = std::min(kBlk, O - o0);
        for (int64_t o = 0; o < no; o++) std::copy(s + (o0 + o) * ct, s + (o0 + o) * ct + nk, blk[o]);
        for (int64_t k = 0; k < nk; k++) {
          if (j >= jhi[k]) continue;
          float* d = row[k] + j * O + o0;
          if (bias) {
            for (int64_t o = 0; o < no; o++) d[o] = blk[o][k] + bias[o0 + o];
          } else {
            for (int64_t o = 0; o < no; o++) d[o] = blk[o][k];
          }
        }
      }
    }
  });
}

// The transform matrices of one plan.
struct Mats {
  std::vector<float> rowF, colF, colI, rowI;
  Mats(const Plan& p) : rowF(rowForward(p.T, p.V, p.T)), colF(colForward(p.T, p.T)), colI(colInverse(p.T, p.vh)), rowI(rowInverse(p.T, p.V, p.vw)) {}
};

// G (T·T·C·ct) -> S[v][u][part][c][t] through tmp (2V·T·C·ct); S may be G's buffer.
void forwardTransform(const Plan& p, const Mats& m, int64_t C, int64_t ct, const float* G, float* tmp, float* S) {
  const int64_t T = p.T, V = p.V, n = C * ct;
  sgemm(kOp, 'N', 'N', 2 * V, T * n, T, m.rowF.data(), T, G, T * n, 0.0f, tmp, T * n);
  GemmStatus st;
  parallelFor(V, 4 * T * T * n, [&](int64_t v) {
    st.run('N', 'N', 2 * T, n, 2 * T, m.colF.data(), 2 * T, tmp + v * 2 * T * n, n, 0.0f, S + v * 2 * T * n, n);
  });
  st.check(kOp);
}

// ---- weights ------------------------------------------------------------------------------------
// conj(DFT(w[o][c])) as the real 2O × 2C block matrix [[Wr, Wi], [−Wi, Wr]] for every frequency:
// Wb[v][u][part_o][o][part_c][c], so that [Yr; Yi] = Wb · [Xr; Xi].
void weightSpectrum(const FftConvGeom& g, const Plan& p, const float* w, float* Wb) {
  const int64_t T = p.T, V = p.V, O = g.OC, C = g.IC, KH = g.KH, KW = g.KW, OC = O * C;
  auto w2b = buffer(KW * KH * OC), rwb = buffer(2 * V * KH * OC), swb = buffer(2 * V * T * OC);
  float *w2 = fptr(*w2b), *rw = fptr(*rwb), *sw = fptr(*swb);  // [q][p][o][c], [v][part][p][o][c], [v][u][part][o][c]
  parallelFor(O * KH * KW, C, [&](int64_t r) {
    const int64_t o = r / (KH * KW), kh = (r / KW) % KH, kw = r % KW;
    std::copy(w + r * C, w + (r + 1) * C, w2 + ((kw * KH + kh) * O + o) * C);
  });
  const std::vector<float> rowF = rowForward(T, V, KW), colF = colForward(T, KH);
  sgemm(kOp, 'N', 'N', 2 * V, KH * OC, KW, rowF.data(), KW, w2, KH * OC, 0.0f, rw, KH * OC);
  GemmStatus st;
  parallelFor(V, 8 * T * KH * OC, [&](int64_t v) {
    st.run('N', 'N', 2 * T, OC, 2 * KH, colF.data(), 2 * KH, rw + v * 2 * KH * OC, OC, 0.0f, sw + v * 2 * T * OC, OC);
  });
  st.check(kOp);
  parallelFor(V * T, 4 * OC, [&](int64_t f) {
    const float* wr = sw + f * 2 * OC;
    const float* wi = wr + OC;
    float* b = Wb + f * 4 * OC;
    for (int64_t o = 0; o < O; o++) {
      float* top = b + o * 2 * C;
      float* bot = b + (O + o) * 2 * C;
      for (int64_t c = 0; c < C; c++) {
        const float re = wr[o * C + c], im = wi[o * C + c];
        top[c] = re, top[C + c] = im;
        bot[c] = -im, bot[C + c] = re;
      }
    }
  });
}

}  // namespace

void fftConvSetChunkCap(int64_t tiles) { gChunkCap = tiles > 0 ? tiles : 0; }

bool fftConvPreferred(const FftConvGeom& g) {
  if (g.KH < 3 || g.KW < 3) return false;
  const Plan p = makePlan(g);
  const double direct = 2.0 * g.KH * g.KW * g.IC * g.OC * double(g.N * g.OH * g.OW);
  const double fft = double(p.tiles) * tileFlops(p.T, p.vh, p.vw, g.IC, g.OC);
  // The transform route also moves each activation through ~6 buffers and transforms the weights
  // on every call; measured here, it loses below ~64 tiles (e.g. 4×32×32) whatever the flops.
  return p.tiles >= 64 && 2.0 * fft < direct;
}

void fftConvForward(const FftConvGeom& g, const float* x, const float* w, const float* bias, float* y) {
  const Plan p = makePlan(g);
  const Mats m(p);
  const int64_t T = p.T, V = p.V, C = g.IC, O = g.OC, F = T * V;
  auto wb = buffer(F * 4 * O * C);
  weightSpectrum(g, p, w, fptr(*wb));
  const int64_t ct = p.chunk;
  auto a = buffer(std::max({T * T * C, 2 * V * T * C, 2 * V * p.vh * O}) * ct);
  auto b = buffer(std::max({2 * V * T * C, 2 * V * T * O, p.vw * p.vh * O}) * ct);
  float *A = fptr(*a), *B = fptr(*b);
  for (int64_t t0 = 0; t0 < p.tiles; t0 += ct) {
    const int64_t n = std::min(ct, p.tiles - t0);
    gather(x, g.IH, g.IW, C, p, t0, n, g.ph, g.pw, T, T, A);
    forwardTransform(p, m, C, n, A, B, A);  // S in A
    GemmStatus st;
    parallelFor(F, 8 * O * C * n, [&](int64_t f) {
      st.run('N', 'N', 2 * O, n, 2 * C, fptr(*wb) + f * 4 * O * C, 2 * C, A + f * 2 * C * n, n, 0.0f, B + f * 2 * O * n, n);
    });
    st.check(kOp);
    // Z (in B) -> P (in A) -> Q (in B)
    parallelFor(V, 8 * p.vh * T * O * n, [&](int64_t v) {
      st.run('N', 'N', 2 * p.vh, O * n, 2 * T, m.colI.data(), 2 * T, B + v * 2 * T * O * n, O * n, 0.0f,
             A + v * 2 * p.vh * O * n, O * n);
    });
    st.check(kOp);
    sgemm(kOp, 'N', 'N', p.vw, p.vh * O * n, 2 * V, m.rowI.data(), 2 * V, A, p.vh * O * n, 0.0f, B, p.vh * O * n);
    scatter(B, g, p, t0, n, bias, y);
  }
}

void fftConvBackwardWeights(const FftConvGeom& g, const float* x, const float* dy, float* dw, float* db) {
  const Plan p = makePlan(g);
  const Mats m(p);
  const int64_t T = p.T, V = p.V, C = g.IC, O = g.OC, F = T * V, OC = O * C, KH = g.KH, KW = g.KW;
  const int64_t ct = p.chunk;
  auto acc = buffer(F * 4 * OC);  // per frequency [part_o][o][part_c][c] = [Dr; Di]·[Xr; Xi]^T
  auto bx = buffer(std::max(T * T * C, 2 * V * T * C) * ct);
  auto bd = buffer(std::max(T * T * O, 2 * V * T * O) * ct);
  auto tmp = buffer(2 * V * T * std::max(C, O) * ct);
  float *X = fptr(*bx), *D = fptr(*bd), *Acc = fptr(*acc);
  for (int64_t t0 = 0; t0 < p.tiles; t0 += ct) {
    const int64_t n = std::min(ct, p.tiles - t0);
    gather(x, g.IH, g.IW, C, p, t0, n, g.ph, g.pw, T, T, X);
    forwardTransform(p, m, C, n, X, fptr(*tmp), X);
    gather(dy, g.OH, g.OW, O, p, t0, n, 0, 0, p.vh, p.vw, D);
    forwardTransform(p, m, O, n, D, fptr(*tmp), D);
    const float beta = t0 == 0 ? 0.0f : 1.0f;
    GemmStatus st;
    parallelFor(F, 8 * OC * n, [&](int64_t f) {
      st.run('N', 'T', 2 * O, 2 * C, n, D + f * 2 * O * n, n, X + f * 2 * C * n, n, beta, Acc + f * 4 * OC, 2 * C);
    });
    st.check(kOp);
  }
  // conj(DY)·X = (Dr·Xr + Di·Xi) + i·(Dr·Xi − Di·Xr): E[v][u][part][o][c]
  auto e = buffer(F * 2 * OC);
  float* E = fptr(*e);
  parallelFor(F, 4 * OC, [&](int64_t f) {
    const float* a = Acc + f * 4 * OC;
    float* re = E + f * 2 * OC;
    float* im = re + OC;
    for (int64_t o = 0; o < O; o++) {
      const float* top = a + o * 2 * C;
      const float* bot = a + (O + o) * 2 * C;
      for (int64_t c = 0; c < C; c++) {
        re[o * C + c] = top[c] + bot[C + c];
        im[o * C + c] = top[C + c] - bot[c];
      }
    }
  });
  // back to the KH×KW taps: P[v][part][p][o][c], then Qw[q][p][o][c]
  const std::vector<float> colI = colInverse(T, KH), rowI = rowInverse(T, V, KW);
  auto pwb = buffer(2 * V * KH * OC), qwb = buffer(KW * KH * OC);
  float *pw = fptr(*pwb), *qw = fptr(*qwb);
  GemmStatus st;
  parallelFor(V, 8 * KH * T * OC, [&](int64_t v) {
    st.run('N', 'N', 2 * KH, OC, 2 * T, colI.data(), 2 * T, E + v * 2 * T * OC, OC, 0.0f, pw + v * 2 * KH * OC, OC);
  });
  st.check(kOp);
  sgemm(kOp, 'N', 'N', KW, KH * OC, 2 * V, rowI.data(), 2 * V, pw, KH * OC, 0.0f, qw, KH * OC);
  parallelFor(O * KH * KW, C, [&](int64_t r) {
    const int64_t o = r / (KH * KW), kh = (r / KW) % KH, kw = r % KW;
    const float* src = qw + ((kw * KH + kh) * O + o) * C;
    std::copy(src, src + C, dw + r * C);
  });
  if (db) {
    const int64_t pixels = g.N * g.OH * g.OW;
    std::vector<double> sum(size_t(O), 0.0);
#pragma omp parallel if (pixels * O > kParallelGrain)
    {
      std::vector<double> part(size_t(O), 0.0);
#pragma omp for schedule(static) nowait
      for (int64_t px = 0; px < pixels; px++) {
        for (int64_t o = 0; o < O; o++) part[o] += dy[px * O + o];
      }
#pragma omp critical
      for (int64_t o = 0; o < O; o++) sum[o] += part[o];
    }
    for (int64_t o = 0; o < O; o++) db[o] = float(sum[o]);
  }
}

}  // namespace scse
