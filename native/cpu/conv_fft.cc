// See conv_fft.h. Overlap-save: output tile (ty, tx) covers vh×vw output pixels and reads the
// T×T input tile starting vh·ty − ph, vw·tx − pw (vh = T − KH + 1): on that tile the circular
// correlation with the zero-padded kernel equals the linear one for the first vh×vw outputs.
//
// Data layouts keep the channels innermost, as in the NHWC activations, so tiles are gathered and
// scattered as whole pixels (memcpy) and every stage is a plain GEMM. A chunk of n tiles:
//   gather       G[j][i][t][c]          (tile column j, row i, tile t, channel c)
//   row DFT      R[v][part][i][t][c] = F_row (2V × T) · G            (v < V = T/2 + 1, part re/im)
//   column DFT   S[v][u][part][t][c] = F_col (2T × 2T) · R[v]        (per v)
//   channel mix  Z[v][u][part][t][o] from S[v][u] and the weights' spectrum, 4 real GEMMs per
//                frequency (Zr = Sr·Wrᵀ + Si·Wiᵀ, Zi = Si·Wrᵀ − Sr·Wiᵀ: multiplication by conj(W))
//   inverse      P[v][part][i][t][o] = I_col (2vh × 2T) · Z[v], then Q[j][i][t][o] = I_row (vw × 2V) · P
// and Q's pixels are copied into y. Only the half spectrum v ≤ T/2 is kept (the tiles are real).
#include "cpu/conv_fft.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "core/tensor.h"
#include "cpu/column_sums.h"
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

// The weights' spectrum (T·(T/2+1) frequencies × 2·IC·OC floats) is the one buffer that grows with
// both channel counts: tiles whose spectrum would exceed this are not considered (wide layers get
// smaller tiles, and the flop estimate then decides).
constexpr double kMaxSpectrumBytes = 256.0 * (1 << 20);
double spectrumBytes(int64_t T, const FftConvGeom& g) { return double(T) * double(T / 2 + 1) * 2.0 * g.IC * g.OC * 4.0; }

// The tile side with the lowest flop estimate, from the smallest even side above the kernel up to
// 64 (or that smallest side, for larger kernels).
Plan makePlan(const FftConvGeom& g) {
  Plan best;
  double bestCost = 0;
  const int64_t tMin = (std::max(g.KH, g.KW) + 2) & ~int64_t(1), tMax = std::max<int64_t>(64, tMin);
  for (int64_t T = tMin; T <= tMax; T += 2) {
    if (T > tMin && spectrumBytes(T, g) > kMaxSpectrumBytes) break;
    const int64_t vh = T - g.KH + 1, vw = T - g.KW + 1;
    const int64_t th = (g.OH + vh - 1) / vh, tw = (g.OW + vw - 1) / vw;
    const double cost = double(g.N * th * tw) * tileFlops(T, vh, vw, g.IC, g.OC);
    if (best.T == 0 || cost < bestCost) {
      best.T = T, best.V = T / 2 + 1, best.vh = vh, best.vw = vw, best.th = th, best.tw = tw, best.tiles = g.N * th * tw;
      bestCost = cost;
    }
    if (vh >= g.OH && vw >= g.OW) break;  // one tile already covers the image
  }
  // About 64 MiB per work buffer (fewer tiles per chunk for wide layers, at least one): enough
  // tiles for efficient per-frequency GEMMs at the networks' widths.
  const int64_t perTile = std::max(best.T * best.T, 2 * best.V * best.T) * std::max(g.IC, g.OC);
  best.chunk = std::clamp<int64_t>((int64_t(16) << 20) / perTile, 1, 256);
  // One load: convAlgorithm() on another thread could reset the cap between a test and a second
  // load, and a chunk of 0 tiles would never advance the tile loop.
  const int64_t cap = gChunkCap.load();
  if (cap > 0) best.chunk = std::min(best.chunk, cap);
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
// Tile t's (n, ty, tx).
struct TileIdx {
  int64_t n, ty, tx;
};
inline TileIdx tileOf(const Plan& p, int64_t t) { return {t / (p.th * p.tw), (t / p.tw) % p.th, t % p.tw}; }

// G[j][i][t][c] for tiles t0 .. t0+n: src[b][ty·vh + i − offH][tx·vw + j − offW][c] where
// i < limH and j < limW and the pixel lies inside src [N, H, W, C]; zero elsewhere. One work item
// is row i of one tile: a contiguous run of input pixels, each copied whole.
void gather(const float* src, int64_t H, int64_t W, int64_t C, const Plan& p, int64_t t0, int64_t n, int64_t offH,
            int64_t offW, int64_t limH, int64_t limW, float* G) {
  const int64_t T = p.T, pixel = C * sizeof(float);
  parallelFor(T * n, T * C, [&](int64_t item) {
    const int64_t i = item / n, t = item % n;
    const TileIdx ti = tileOf(p, t0 + t);
    const int64_t r = ti.ty * p.vh + i - offH, col0 = ti.tx * p.vw - offW;
    const bool rowInside = i < limH && r >= 0 && r < H;
    const int64_t jlo = rowInside ? std::clamp<int64_t>(-col0, 0, limW) : 0;
    const int64_t jhi = rowInside ? std::clamp<int64_t>(W - col0, jlo, limW) : 0;
    const float* row = src + (ti.n * H + (rowInside ? r : 0)) * W * C;
    float* dst = G + (i * n + t) * C;  // + j·T·n·C
    const int64_t step = T * n * C;
    for (int64_t j = 0; j < jlo; j++) std::memset(dst + j * step, 0, pixel);
    for (int64_t j = jlo; j < jhi; j++) std::memcpy(dst + j * step, row + (col0 + j) * C, pixel);
    for (int64_t j = jhi; j < T; j++) std::memset(dst + j * step, 0, pixel);
  });
}

// Q[j][i][t][o] -> y[b][ty·vh + i][tx·vw + j][o] (+ bias), inside y only.
void scatter(const float* Q, const FftConvGeom& g, const Plan& p, int64_t t0, int64_t n, const float* bias, float* y) {
  const int64_t O = g.OC;
  parallelFor(p.vh * n, p.vw * O, [&](int64_t item) {
    const int64_t i = item / n, t = item % n;
    const TileIdx ti = tileOf(p, t0 + t);
    const int64_t r = ti.ty * p.vh + i, col0 = ti.tx * p.vw;
    if (r >= g.OH) return;
    const int64_t jhi = std::min(p.vw, g.OW - col0);
    float* row = y + ((ti.n * g.OH + r) * g.OW + col0) * O;
    const float* src = Q + (i * n + t) * O;  // + j·vh·n·O
    const int64_t step = p.vh * n * O;
    for (int64_t j = 0; j < jhi; j++) {
      const float* q = src + j * step;
      float* d = row + j * O;
      if (bias) {
        for (int64_t o = 0; o < O; o++) d[o] = q[o] + bias[o];
      } else {
        std::memcpy(d, q, O * sizeof(float));
      }
    }
  });
}

// The transform matrices of one plan.
struct Mats {
  std::vector<float> rowF, colF, colI, rowI;
  Mats(const Plan& p) : rowF(rowForward(p.T, p.V, p.T)), colF(colForward(p.T, p.T)), colI(colInverse(p.T, p.vh)), rowI(rowInverse(p.T, p.V, p.vw)) {}
};

// C_v = A (M × K) · B_v (K × cols) for v < V, with B_v = B + v·K·cols and C_v = C + v·M·cols
// row-major (leading dimension cols): the column-DFT stages. Split into column blocks as well as
// over v, so that every thread gets work where V (T/2 + 1, 12-20 here) is below the thread count.
void slabGemms(int64_t V, int64_t M, int64_t K, int64_t cols, const float* A, const float* B, float* C) {
  const int64_t threads = omp_get_max_threads();
  const int64_t split = std::clamp<int64_t>((2 * threads + V - 1) / V, 1, std::max<int64_t>(1, cols / 256));
  const int64_t width = ((cols + split - 1) / split + 15) / 16 * 16, blocks = (cols + width - 1) / width;
  GemmStatus st;
  parallelFor(V * blocks, 2 * M * K * width, [&](int64_t item) {
    const int64_t v = item / blocks, c0 = (item % blocks) * width, w = std::min(width, cols - c0);
    st.run('N', 'N', M, w, K, 1.0f, A, K, B + v * K * cols + c0, cols, 0.0f, C + v * M * cols + c0, cols);
  });
  st.check(kOp);
}

// G (T·T·n·C) -> S[v][u][part][t][c] through tmp (2V·T·n·C); S may be G's buffer.
void forwardTransform(const Plan& p, const Mats& m, int64_t C, int64_t nt, const float* G, float* tmp, float* S) {
  const int64_t T = p.T, V = p.V, n = C * nt;
  sgemm(kOp, 'N', 'N', 2 * V, T * n, T, m.rowF.data(), T, G, T * n, 0.0f, tmp, T * n);
  slabGemms(V, 2 * T, 2 * T, n, m.colF.data(), tmp, S);
}

// ---- weights ------------------------------------------------------------------------------------
// Rows of IC floats between the weights' OHWI order [o][kh][kw] and the transforms' [kw][kh][o]
// (kernel columns outermost, so the row DFT over kw is one GEMM): toOhwi picks the direction.
void reorderTaps(const FftConvGeom& g, const float* src, float* dst, bool toOhwi) {
  const int64_t O = g.OC, C = g.IC, KH = g.KH, KW = g.KW;
  parallelFor(O * KH * KW, C, [&](int64_t r) {
    const int64_t o = r / (KH * KW), kh = (r / KW) % KH, kw = r % KW, t = (kw * KH + kh) * O + o;
    const float* from = src + (toOhwi ? t : r) * C;
    std::copy(from, from + C, dst + (toOhwi ? r : t) * C);
  });
}

// DFT(w[o][c]) zero-padded to T×T, for every frequency: Wf[v][u][part][o][c].
void weightSpectrum(const FftConvGeom& g, const Plan& p, const float* w, float* Wf) {
  const int64_t T = p.T, V = p.V, O = g.OC, C = g.IC, KH = g.KH, KW = g.KW, OC = O * C;
  auto w2b = buffer(KW * KH * OC), rwb = buffer(2 * V * KH * OC);
  float *w2 = fptr(*w2b), *rw = fptr(*rwb);  // [q][p][o][c], [v][part][p][o][c]
  reorderTaps(g, w, w2, false);
  const std::vector<float> rowF = rowForward(T, V, KW), colF = colForward(T, KH);
  sgemm(kOp, 'N', 'N', 2 * V, KH * OC, KW, rowF.data(), KW, w2, KH * OC, 0.0f, rw, KH * OC);
  slabGemms(V, 2 * T, 2 * KH, OC, colF.data(), rw, Wf);
}

}  // namespace

bool fftConvFits(const FftConvGeom& g) { return spectrumBytes(makePlan(g).T, g) <= kMaxSpectrumBytes; }

void fftConvSetChunkCap(int64_t tiles) { gChunkCap = tiles > 0 ? tiles : 0; }

bool fftConvPreferred(const FftConvGeom& g) {
  if (g.KH < 3 || g.KW < 3) return false;
  const Plan p = makePlan(g);
  const double direct = 2.0 * g.KH * g.KW * g.IC * g.OC * double(g.N * g.OH * g.OW);
  const double fft = double(p.tiles) * tileFlops(p.T, p.vh, p.vw, g.IC, g.OC);
  // The transform route also moves each activation through a few buffers and transforms the
  // weights on every call. Measured here: it wins from ~0.5 Gflop up (4×32×32 with 5×5 and 7×7
  // kernels and 64-192 channels) and loses below (4×16×16×64 5×5) and where the estimate says
  // so (one input channel).
  return direct >= 5e8 && 2.0 * fft < direct && spectrumBytes(p.T, g) <= kMaxSpectrumBytes;
}

void fftConvForward(const FftConvGeom& g, const float* x, const float* w, const float* bias, float* y) {
  const Plan p = makePlan(g);
  const Mats m(p);
  const int64_t T = p.T, V = p.V, C = g.IC, O = g.OC, F = T * V, OC = O * C, ct = p.chunk;
  auto wf = buffer(F * 2 * OC);
  const float* Wf = fptr(*wf);
  weightSpectrum(g, p, w, fptr(*wf));
  auto a = buffer(std::max({T * T * C, 2 * V * T * C, 2 * V * p.vh * O}) * ct);
  auto b = buffer(std::max({2 * V * T * C, 2 * V * T * O, p.vw * p.vh * O}) * ct);
  float *A = fptr(*a), *B = fptr(*b);
  for (int64_t t0 = 0; t0 < p.tiles; t0 += ct) {
    const int64_t n = std::min(ct, p.tiles - t0);
    gather(x, g.IH, g.IW, C, p, t0, n, g.ph, g.pw, T, T, A);
    forwardTransform(p, m, C, n, A, B, A);  // S in A
    // Z (in B) = conj(Wf)·S per frequency
    GemmStatus st;
    parallelFor(F, 8 * OC * n, [&](int64_t f) {
      const float *sr = A + f * 2 * n * C, *si = sr + n * C, *wr = Wf + f * 2 * OC, *wi = wr + OC;
      float *zr = B + f * 2 * n * O, *zi = zr + n * O;
      st.run('N', 'T', n, O, C, 1.0f, sr, C, wr, C, 0.0f, zr, O);
      st.run('N', 'T', n, O, C, 1.0f, si, C, wi, C, 1.0f, zr, O);
      st.run('N', 'T', n, O, C, 1.0f, si, C, wr, C, 0.0f, zi, O);
      st.run('N', 'T', n, O, C, -1.0f, sr, C, wi, C, 1.0f, zi, O);
    });
    st.check(kOp);
    // Z (in B) -> P (in A) -> Q (in B)
    slabGemms(V, 2 * p.vh, 2 * T, n * O, m.colI.data(), B, A);
    sgemm(kOp, 'N', 'N', p.vw, p.vh * n * O, 2 * V, m.rowI.data(), 2 * V, A, p.vh * n * O, 0.0f, B, p.vh * n * O);
    scatter(B, g, p, t0, n, bias, y);
  }
}

void fftConvBackwardWeights(const FftConvGeom& g, const float* x, const float* dy, float* dw, float* db) {
  const Plan p = makePlan(g);
  const Mats m(p);
  const int64_t T = p.T, V = p.V, C = g.IC, O = g.OC, F = T * V, OC = O * C, KH = g.KH, KW = g.KW, ct = p.chunk;
  auto bx = buffer(std::max(T * T * C, 2 * V * T * C) * ct);
  auto bd = buffer(std::max(T * T * O, 2 * V * T * O) * ct);
  auto tmp = buffer(2 * V * T * std::max(C, O) * ct);
  // E[v][u][part][o][c] = Σ_tiles conj(DY)·X, whose inverse transform is the correlation of dy with x
  auto e = buffer(F * 2 * OC);
  float *X = fptr(*bx), *D = fptr(*bd), *E = fptr(*e);
  for (int64_t t0 = 0; t0 < p.tiles; t0 += ct) {
    const int64_t n = std::min(ct, p.tiles - t0);
    gather(x, g.IH, g.IW, C, p, t0, n, g.ph, g.pw, T, T, X);
    forwardTransform(p, m, C, n, X, fptr(*tmp), X);
    gather(dy, g.OH, g.OW, O, p, t0, n, 0, 0, p.vh, p.vw, D);
    forwardTransform(p, m, O, n, D, fptr(*tmp), D);
    const float beta = t0 == 0 ? 0.0f : 1.0f;
    GemmStatus st;
    parallelFor(F, 8 * OC * n, [&](int64_t f) {
      const float *xr = X + f * 2 * n * C, *xi = xr + n * C, *dr = D + f * 2 * n * O, *di = dr + n * O;
      float *er = E + f * 2 * OC, *ei = er + OC;
      st.run('T', 'N', O, C, n, 1.0f, dr, O, xr, C, beta, er, C);   // Er += Drᵀ·Xr + Diᵀ·Xi
      st.run('T', 'N', O, C, n, 1.0f, di, O, xi, C, 1.0f, er, C);
      st.run('T', 'N', O, C, n, 1.0f, dr, O, xi, C, beta, ei, C);   // Ei += Drᵀ·Xi − Diᵀ·Xr
      st.run('T', 'N', O, C, n, -1.0f, di, O, xr, C, 1.0f, ei, C);
    });
    st.check(kOp);
  }
  // back to the KH×KW taps: P[v][part][p][o][c], then Qw[q][p][o][c]
  const std::vector<float> colI = colInverse(T, KH), rowI = rowInverse(T, V, KW);
  auto pwb = buffer(2 * V * KH * OC), qwb = buffer(KW * KH * OC);
  float *pw = fptr(*pwb), *qw = fptr(*qwb);
  slabGemms(V, 2 * KH, 2 * T, OC, colI.data(), E, pw);
  sgemm(kOp, 'N', 'N', KW, KH * OC, 2 * V, rowI.data(), 2 * V, pw, KH * OC, 0.0f, qw, KH * OC);
  reorderTaps(g, qw, dw, true);
  if (db) columnSums(dy, g.N * g.OH * g.OW, O, db);
}

}  // namespace scse
