// Deterministic column sums on the GPU, without float atomics: for every column c of a virtual
// [rows, cols] matrix given by a functor f(r, c) -> double, out(c, sum_r f(r, c)).
//
// Stage 1 cuts the rows into fixed chunks of `firstChunkRows`; one block sums one chunk for a group
// of columns: its threads form a (rows x columns) grid, each thread adds every tr-th row of its
// chunk in double, then a fixed shared-memory tree adds the tr partial sums. Later stages reduce
// the [chunks, cols] partials the same way (chunks of kLaterChunkRows) until one row is left.
// Which thread adds what depends only on the shape, never on timing or on the GPU model, so the
// result is the same on every run and every device. (It is not the CPU's order: CPU and GPU sums
// agree to rounding, both accumulating in double.)
#pragma once
#include "cuda/kernels.cuh"

namespace scse::cuda::detail {

constexpr int kReduceThreads = 256;
constexpr int64_t kLaterChunkRows = 256;

// Columns per block: a power of two up to 32 that covers `cols` when it is small (coalesced reads
// along a row); the remaining threads of the block (also a power of two) walk the rows.
inline int reduceColumnsPerBlock(int64_t cols) {
  int tc = 1;
  while (tc < 32 && tc < cols) tc *= 2;
  return tc;
}

template <class F>
__global__ void reduceStageKernel(F f, int64_t rows, int64_t cols, int64_t chunkRows, int64_t chunks, int tc,
                                  double* partial) {
  __shared__ double sh[kReduceThreads];
  const int tx = int(threadIdx.x) % tc, ty = int(threadIdx.x) / tc, tr = kReduceThreads / tc;
  const int64_t colBlocks = (cols + tc - 1) / tc, tiles = chunks * colBlocks;
  // Every thread of a block runs the same number of tile iterations (the bound depends on
  // blockIdx only), so the __syncthreads below are reached by all of them.
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int64_t chunk = tile / colBlocks, c = (tile % colBlocks) * tc + tx;
    const int64_t r0 = chunk * chunkRows, r1 = r0 + chunkRows < rows ? r0 + chunkRows : rows;
    double acc = 0.0;
    if (c < cols) {
      for (int64_t r = r0 + ty; r < r1; r += tr) acc += f(r, c);
    }
    sh[threadIdx.x] = acc;
    __syncthreads();
    for (int s = tr / 2; s > 0; s >>= 1) {
      if (ty < s) sh[threadIdx.x] += sh[threadIdx.x + s * tc];
      __syncthreads();
    }
    if (ty == 0 && c < cols) partial[chunk * cols + c] = sh[tx];
    __syncthreads();  // sh is reused by the next tile
  }
}

struct PartialReader {
  const double* p;
  int64_t cols;
  __device__ double operator()(int64_t r, int64_t c) const { return p[r * cols + c]; }
};

template <class Out>
__global__ void reduceFinishKernel(Out out, const double* sums, int64_t cols) {
  SCSE_GRID_LOOP(c, cols) out(c, sums[c]);
}

// Enqueues the reduction on `st` (the device's stream). rows may be 0 (sums are 0).
template <class F, class Out>
void reduceColumns(int device, cudaStream_t st, int64_t rows, int64_t cols, int64_t firstChunkRows, F f, Out out,
                   const char* op) {
  if (cols <= 0) return;
  const int tc = reduceColumnsPerBlock(cols);
  const int64_t colBlocks = (cols + tc - 1) / tc;
  auto grid = [&](int64_t chunks) {
    const int64_t tiles = chunks * colBlocks;
    return unsigned(tiles < (int64_t(1) << 20) ? tiles : (int64_t(1) << 20));
  };
  int64_t chunks = rows <= 0 ? 1 : (rows + firstChunkRows - 1) / firstChunkRows;
  auto cur = std::make_unique<Scratch<double>>(device, chunks * cols);
  reduceStageKernel<<<grid(chunks), kReduceThreads, 0, st>>>(f, rows, cols, firstChunkRows, chunks, tc, cur->get());
  checkLaunch(op);
  while (chunks > 1) {
    const int64_t next = (chunks + kLaterChunkRows - 1) / kLaterChunkRows;
    auto nxt = std::make_unique<Scratch<double>>(device, next * cols);
    reduceStageKernel<<<grid(next), kReduceThreads, 0, st>>>(PartialReader{cur->get(), cols}, chunks, cols,
                                                             kLaterChunkRows, next, tc, nxt->get());
    checkLaunch(op);
    cur = std::move(nxt);
    chunks = next;
  }
  reduceFinishKernel<<<gridFor(cols), kBlock, 0, st>>>(out, cur->get(), cols);
  checkLaunch(op);
}

// Common finishers.
struct StoreFloat {  // y[c] = float(sum * scale)
  float* y;
  double scale;
  __device__ void operator()(int64_t c, double s) const { y[c] = float(s * scale); }
};
struct StoreDouble {
  double* y;
  __device__ void operator()(int64_t c, double s) const { y[c] = s; }
};

}  // namespace scse::cuda::detail
