// Non-temporal ("streaming") row stores for outputs far larger than the cache.
//
// A normal store first reads the line it writes (read-for-ownership), so writing an output the
// size of DRAM traffic costs two transfers per byte. When an op's output cannot stay in cache
// anyway (it is bigger than L2, which is all a core here can count on), streaming stores write it
// straight to memory: one transfer. Small outputs keep normal stores so the next op finds them in
// cache. Rows are computed into a small L1 buffer and streamed from there.
#pragma once
#include <cstdint>
#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace scse {

// Outputs above this many bytes (per image of the op's outer loop) are streamed.
constexpr int64_t kStreamBytes = int64_t(8) << 20;
// Longest row the stack buffer holds; longer rows use normal stores.
constexpr int64_t kStreamRowMax = 1024;

// Whether rows of C floats starting at `base` (row stride C) can be streamed: AVX present, rows
// 32-byte aligned, C a multiple of 8 and short enough for the buffer.
inline bool canStream(const float* base, int64_t C, int64_t bytes) {
#if defined(__AVX__)
  return bytes > kStreamBytes && C % 8 == 0 && C <= kStreamRowMax && (reinterpret_cast<uintptr_t>(base) & 31) == 0;
#else
  (void)base, (void)C, (void)bytes;
  return false;
#endif
}

// dst[0..C) = src[0..C) with streaming stores (C % 8 == 0, dst 32-byte aligned: see canStream).
inline void streamRow(float* dst, const float* src, int64_t C) {
#if defined(__AVX__)
  for (int64_t c = 0; c < C; c += 8) _mm256_stream_ps(dst + c, _mm256_loadu_ps(src + c));
#else
  for (int64_t c = 0; c < C; c++) dst[c] = src[c];
#endif
}

// Orders this thread's streaming stores before its later stores (call once per thread after the
// last streamRow, before the parallel region's closing barrier).
inline void streamFence() {
#if defined(__AVX__)
  _mm_sfence();
#endif
}

}  // namespace scse
