// FP32 row-major GEMM C[m x n] = A[m x k] * B[k x n] (CUDA cores, FP32
// accumulation like the CPU's sgemm; no tensor cores, so no TF32 rounding).
#pragma once
#include <cstddef>

namespace curricula::cuda {

void sgemm(size_t m, size_t n, size_t k, const float* A, const float* B, float* C);

}  // namespace curricula::cuda
