// Row-major C = op(A)·op(B) + beta·C on oneDNN's dnnl_sgemm. Inside our OpenMP regions oneDNN's
// GEMM runs on the calling thread only, so loops of independent GEMMs parallelize over the loop.
#pragma once
#include <oneapi/dnnl/dnnl.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "core/check.h"

namespace scse {

inline void sgemm(const char* op, char ta, char tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                  int64_t ldb, float beta, float* C, int64_t ldc) {
  dnnl_status_t st = dnnl_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
  if (st != dnnl_success) fail(op, "dnnl_sgemm failed with status " + std::to_string(int(st)));
}

// For GEMMs inside parallel loops, where an exception must not leave the region: the first
// failing status is kept and check() throws it after the loop.
struct GemmStatus {
  std::atomic<int> status{dnnl_success};
  void run(char ta, char tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
           float beta, float* C, int64_t ldc) {
    run(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
  }
  // C = alpha·op(A)·op(B) + beta·C
  void run(char ta, char tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
           int64_t ldb, float beta, float* C, int64_t ldc) {
    dnnl_status_t st = dnnl_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    if (st != dnnl_success) status.store(int(st));
  }
  void check(const char* op) const {
    if (status.load() != dnnl_success) fail(op, "dnnl_sgemm failed with status " + std::to_string(status.load()));
  }
};

}  // namespace scse
