// Blocked single-precision matrix product C = A * B (row-major), the hot loop
// of the dense and Rademacher projections.
//
// Numerics: float inputs, float accumulation. Every C element is one fixed
// chain of fused multiply-adds over k = 0..K-1 (in blocks of kBlockK, each
// block's partial sum added to C in order), so the result does not depend on
// the thread count or on how columns are split between threads. It may differ
// in the last bits between the AVX2+FMA kernel and the portable fallback
// (`gemmKernelName()` says which one runs).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>

namespace curricula::linalg {

constexpr size_t kMicroRows = 6;     // rows of C per micro-kernel call
constexpr size_t kMicroCols = 16;    // columns of C per micro-kernel call (one packed B panel)
constexpr size_t kBlockK = 256;      // depth of one packed block
constexpr size_t kBlockM = 96;       // rows of A packed at once
constexpr size_t kBlockN = 512;      // columns of B packed at once

// Supplies B in packed form: for the columns [j0, j0 + nc) and depths [k0, k0 + kc),
// write ceil(nc / 16) panels, each kc rows of 16 floats (columns past N are zero).
// Called concurrently from several threads with disjoint column ranges.
using PackB = std::function<void(size_t k0, size_t kc, size_t j0, size_t nc, float* dst)>;

// C[M x N] = A[M x K] * B, where B is given by `packB` (N columns, K rows).
// lda/ldc are row strides in elements. threads >= 1.
void sgemmPacked(size_t M, size_t N, size_t K, const float* A, size_t lda, const PackB& packB, float* C, size_t ldc,
                 unsigned threads);

// The same with B a row-major K x N matrix.
void sgemm(size_t M, size_t N, size_t K, const float* A, size_t lda, const float* B, size_t ldb, float* C, size_t ldc,
           unsigned threads);

// Packs columns [j0, j0+nc) and rows [k0, k0+kc) of a row-major matrix (the PackB layout).
void packRowMajorB(const float* B, size_t ldb, size_t N, size_t k0, size_t kc, size_t j0, size_t nc, float* dst);

const char* gemmKernelName();

}  // namespace curricula::linalg
