#include "linalg/gemm.hpp"

#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CURRICULA_X86_DISPATCH 1
#include <immintrin.h>
#endif

namespace curricula::linalg {
namespace {

// acc[6][16] over kc steps of the packed panels; then C (+)= acc on the valid mr x nr corner.
void kernelPortable(size_t kc, const float* Ap, const float* Bp, float* C, size_t ldc, size_t mr, size_t nr,
                    bool accumulate) {
  float acc[kMicroRows][kMicroCols] = {};
  for (size_t k = 0; k < kc; k++) {
    const float* a = Ap + k * kMicroRows;
    const float* b = Bp + k * kMicroCols;
    for (size_t i = 0; i < kMicroRows; i++)
      for (size_t j = 0; j < kMicroCols; j++) acc[i][j] = acc[i][j] + a[i] * b[j];
  }
  for (size_t i = 0; i < mr; i++)
    for (size_t j = 0; j < nr; j++) C[i * ldc + j] = accumulate ? C[i * ldc + j] + acc[i][j] : acc[i][j];
}

#ifdef CURRICULA_X86_DISPATCH
__attribute__((target("avx2,fma"))) void kernelAvx2(size_t kc, const float* Ap, const float* Bp, float* C,
                                                     size_t ldc, size_t mr, size_t nr, bool accumulate) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (size_t k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_loadu_ps(Bp + k * kMicroCols);
    const __m256 b1 = _mm256_loadu_ps(Bp + k * kMicroCols + 8);
    const float* a = Ap + k * kMicroRows;
    __m256 av = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(av, b0, c00); c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(av, b0, c10); c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(av, b0, c20); c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(av, b0, c30); c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(av, b0, c40); c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(av, b0, c50); c51 = _mm256_fmadd_ps(av, b1, c51);
  }
  alignas(32) float acc[kMicroRows][kMicroCols];
  _mm256_store_ps(acc[0], c00); _mm256_store_ps(acc[0] + 8, c01);
  _mm256_store_ps(acc[1], c10); _mm256_store_ps(acc[1] + 8, c11);
  _mm256_store_ps(acc[2], c20); _mm256_store_ps(acc[2] + 8, c21);
  _mm256_store_ps(acc[3], c30); _mm256_store_ps(acc[3] + 8, c31);
  _mm256_store_ps(acc[4], c40); _mm256_store_ps(acc[4] + 8, c41);
  _mm256_store_ps(acc[5], c50); _mm256_store_ps(acc[5] + 8, c51);
  if (mr == kMicroRows && nr == kMicroCols) {
    for (size_t i = 0; i < kMicroRows; i++) {
      float* c = C + i * ldc;
      __m256 x0 = _mm256_load_ps(acc[i]), x1 = _mm256_load_ps(acc[i] + 8);
      if (accumulate) {
        x0 = _mm256_add_ps(_mm256_loadu_ps(c), x0);
        x1 = _mm256_add_ps(_mm256_loadu_ps(c + 8), x1);
      }
      _mm256_storeu_ps(c, x0);
      _mm256_storeu_ps(c + 8, x1);
    }
    return;
  }
  for (size_t i = 0; i < mr; i++)
    for (size_t j = 0; j < nr; j++) C[i * ldc + j] = accumulate ? C[i * ldc + j] + acc[i][j] : acc[i][j];
}

bool haveAvx2() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}
#endif

using Kernel = void (*)(size_t, const float*, const float*, float*, size_t, size_t, size_t, bool);

Kernel pickKernel() {
#ifdef CURRICULA_X86_DISPATCH
  if (haveAvx2()) return kernelAvx2;
#endif
  return kernelPortable;
}

// Rows [i0, i0+mc) and depths [k0, k0+kc) of A into 6-row panels (rows past M are zero).
void packA(const float* A, size_t lda, size_t M, size_t i0, size_t mc, size_t k0, size_t kc, float* dst) {
  for (size_t p = 0; p < mc; p += kMicroRows) {
    float* out = dst + p * kc;
    for (size_t k = 0; k < kc; k++)
      for (size_t r = 0; r < kMicroRows; r++) {
        const size_t i = i0 + p + r;
        out[k * kMicroRows + r] = i < M && p + r < mc ? A[i * lda + k0 + k] : 0.0f;
      }
  }
}

// One thread's share: the columns [jBegin, jEnd).
void gemmColumns(size_t M, size_t K, const float* A, size_t lda, const PackB& packB, float* C, size_t ldc,
                 size_t jBegin, size_t jEnd) {
  const Kernel kernel = pickKernel();
  std::vector<float> Bp(kBlockK * kBlockN);
  std::vector<float> Ap(kBlockK * kBlockM);
  for (size_t jc = jBegin; jc < jEnd; jc += kBlockN) {
    const size_t nc = std::min(kBlockN, jEnd - jc);
    for (size_t pc = 0; pc < K; pc += kBlockK) {
      const size_t kc = std::min(kBlockK, K - pc);
      packB(pc, kc, jc, nc, Bp.data());
      for (size_t ic = 0; ic < M; ic += kBlockM) {
        const size_t mc = std::min(kBlockM, M - ic);
        packA(A, lda, M, ic, mc, pc, kc, Ap.data());
        for (size_t jr = 0; jr < nc; jr += kMicroCols) {
          const size_t nr = std::min(kMicroCols, nc - jr);
          const float* bp = Bp.data() + (jr / kMicroCols) * kc * kMicroCols;
          for (size_t ir = 0; ir < mc; ir += kMicroRows) {
            const size_t mr = std::min(kMicroRows, mc - ir);
            kernel(kc, Ap.data() + ir * kc, bp, C + (ic + ir) * ldc + jc + jr, ldc, mr, nr, pc > 0);
          }
        }
      }
    }
  }
}

}  // namespace

const char* gemmKernelName() {
#ifdef CURRICULA_X86_DISPATCH
  if (haveAvx2()) return "avx2-fma";
#endif
  return "portable";
}

void packRowMajorB(const float* B, size_t ldb, size_t N, size_t k0, size_t kc, size_t j0, size_t nc, float* dst) {
  for (size_t p = 0; p < nc; p += kMicroCols) {
    float* out = dst + (p / kMicroCols) * kc * kMicroCols;
    const size_t w = std::min(kMicroCols, std::min(nc - p, N - std::min(N, j0 + p)));
    for (size_t k = 0; k < kc; k++) {
      const float* row = B + (k0 + k) * ldb + j0 + p;
      float* o = out + k * kMicroCols;
      std::memcpy(o, row, w * sizeof(float));
      for (size_t j = w; j < kMicroCols; j++) o[j] = 0.0f;
    }
  }
}

void sgemmPacked(size_t M, size_t N, size_t K, const float* A, size_t lda, const PackB& packB, float* C, size_t ldc,
                 unsigned threads) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (size_t i = 0; i < M; i++) std::fill(C + i * ldc, C + i * ldc + N, 0.0f);
    return;
  }
  // Column ranges are whole 16-wide panels, so each element sees the same arithmetic for any split.
  const size_t panels = (N + kMicroCols - 1) / kMicroCols;
  const size_t t = std::max<size_t>(1, std::min<size_t>(threads, panels));
  const size_t per = (panels + t - 1) / t;
  std::vector<std::thread> pool;
  for (size_t w = 1; w < t; w++) {
    const size_t b = std::min(N, w * per * kMicroCols), e = std::min(N, (w + 1) * per * kMicroCols);
    if (b < e) pool.emplace_back([=, &packB] { gemmColumns(M, K, A, lda, packB, C, ldc, b, e); });
  }
  gemmColumns(M, K, A, lda, packB, C, ldc, 0, std::min(N, per * kMicroCols));
  for (auto& th : pool) th.join();
}

void sgemm(size_t M, size_t N, size_t K, const float* A, size_t lda, const float* B, size_t ldb, float* C, size_t ldc,
           unsigned threads) {
  sgemmPacked(
      M, N, K, A, lda,
      [=](size_t k0, size_t kc, size_t j0, size_t nc, float* dst) { packRowMajorB(B, ldb, N, k0, kc, j0, nc, dst); },
      C, ldc, threads);
}

}  // namespace curricula::linalg
