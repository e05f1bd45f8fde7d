// 64 x 64 output tiles, 16-deep k slices in shared memory, 4 x 4 outputs per
// thread. Explicit fmaf, so the -fmad=false used for the exact scheduler keys
// does not halve the throughput here.
#include "gemm.cuh"
#include "common.cuh"

namespace curricula::cuda {
namespace {

constexpr int kTm = 64, kTn = 64, kTk = 16;

__global__ void sgemmKernel(size_t m, size_t n, size_t k, const float* __restrict__ A, const float* __restrict__ B,
                            float* __restrict__ C) {
  __shared__ float As[kTk][kTm + 1];
  __shared__ float Bs[kTk][kTn];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const size_t row0 = (size_t)blockIdx.y * kTm, col0 = (size_t)blockIdx.x * kTn;
  float acc[4][4] = {};
  for (size_t k0 = 0; k0 < k; k0 += kTk) {
    for (int i = threadIdx.x; i < kTm * kTk; i += blockDim.x) {
      const int r = i / kTk, kk = i % kTk;
      const size_t gr = row0 + r, gk = k0 + kk;
      As[kk][r] = gr < m && gk < k ? A[gr * k + gk] : 0.0f;
    }
    for (int i = threadIdx.x; i < kTk * kTn; i += blockDim.x) {
      const int kk = i / kTn, c = i % kTn;
      const size_t gk = k0 + kk, gc = col0 + c;
      Bs[kk][c] = gk < k && gc < n ? B[gk * n + gc] : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTk; kk++) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; i++) a[i] = As[kk][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; j++) b[j] = Bs[kk][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) {
      const size_t r = row0 + ty + 16 * i, c = col0 + tx + 16 * j;
      if (r < m && c < n) C[r * n + c] = acc[i][j];
    }
}

}  // namespace

void sgemm(size_t m, size_t n, size_t k, const float* A, const float* B, float* C) {
  if (m == 0 || n == 0) return;
  const size_t gx = (n + kTn - 1) / kTn, chunk = (size_t)65535 * kTm;  // grid.y limit
  for (size_t r0 = 0; r0 < m; r0 += chunk) {
    const size_t rows = m - r0 < chunk ? m - r0 : chunk;
    sgemmKernel<<<dim3((unsigned)gx, (unsigned)((rows + kTm - 1) / kTm)), 256>>>(rows, n, k, A + r0 * k, B, C + r0 * n);
    checkLaunch("sgemm");
  }
}

}  // namespace curricula::cuda
