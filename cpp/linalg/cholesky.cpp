// Right-looking blocked Cholesky. Per block of kNb columns: factor the diagonal
// block, solve the panel below it, then subtract panel·panelᵀ from the trailing
// lower triangle with a 4×4 register-tiled kernel on a packed copy of the panel.
// Every entry's sum runs over the same terms in the same order whatever the
// thread count.
#include "linalg/cholesky.hpp"

#include <cmath>
#include <vector>

namespace curricula::linalg {
namespace {

constexpr size_t kNb = 64;
typedef double v2d __attribute__((vector_size(16)));

[[noreturn]] void notPd(size_t j, double s) {
  throw NotPositiveDefinite(j, s,
                            "matrix is not positive definite: pivot " + std::to_string(j) + " is " + std::to_string(s) +
                                " (add damping or check the covariance)");
}

// Factors the kb×kb diagonal block at (k0, k0), already updated by earlier blocks.
void factorDiagonal(double* a, size_t n, size_t k0, size_t kb) {
  for (size_t j = k0; j < k0 + kb; j++) {
    double* rj = a + j * n;
    double s = rj[j];
    for (size_t p = k0; p < j; p++) s -= rj[p] * rj[p];
    if (!(s > 0) || !std::isfinite(s)) notPd(j, s);
    const double d = std::sqrt(s);
    rj[j] = d;
    for (size_t i = j + 1; i < k0 + kb; i++) {
      double* ri = a + i * n;
      double t = ri[j];
      for (size_t p = k0; p < j; p++) t -= ri[p] * rj[p];
      ri[j] = t / d;
    }
  }
}

// Row i of the panel: solves x L11ᵀ = a[i, k0:k0+kb].
void solvePanelRow(double* a, size_t n, size_t k0, size_t kb, size_t i) {
  double* ri = a + i * n;
  for (size_t j = k0; j < k0 + kb; j++) {
    const double* rj = a + j * n;
    double t = ri[j];
    for (size_t p = k0; p < j; p++) t -= ri[p] * rj[p];
    ri[j] = t / rj[j];
  }
}

// acc(4×4) = Σ_p x[p][0..3] ⊗ y[p][0..3], x and y packed as kb groups of 4.
inline void kernel4x4(const double* x, const double* y, size_t kb, double out[4][4]) {
  v2d c00 = {0, 0}, c01 = {0, 0}, c10 = {0, 0}, c11 = {0, 0}, c20 = {0, 0}, c21 = {0, 0}, c30 = {0, 0}, c31 = {0, 0};
  for (size_t p = 0; p < kb; p++) {
    v2d y0, y1;
    __builtin_memcpy(&y0, y + 4 * p, 16);
    __builtin_memcpy(&y1, y + 4 * p + 2, 16);
    const double* xp = x + 4 * p;
    const v2d x0 = {xp[0], xp[0]}, x1 = {xp[1], xp[1]}, x2 = {xp[2], xp[2]}, x3 = {xp[3], xp[3]};
    c00 += x0 * y0;
    c01 += x0 * y1;
    c10 += x1 * y0;
    c11 += x1 * y1;
    c20 += x2 * y0;
    c21 += x2 * y1;
    c30 += x3 * y0;
    c31 += x3 * y1;
  }
  const v2d* rows[4][2] = {{&c00, &c01}, {&c10, &c11}, {&c20, &c21}, {&c30, &c31}};
  for (int r = 0; r < 4; r++)
    for (int c = 0; c < 4; c++) out[r][c] = (*rows[r][c / 2])[c % 2];
}

// A22 -= P Pᵀ on the lower triangle, P = rows [r0, n) of columns [k0, k0+kb).
void trailingUpdate(double* a, size_t n, size_t k0, size_t kb, size_t r0, int threads) {
  const size_t m = n - r0;
  const size_t groups = (m + 3) / 4;
  // packed[g][p][0..3] = a[r0 + 4g + 0..3][k0 + p], zero beyond the last row
  std::vector<double> packed(groups * kb * 4, 0.0);
  for (size_t r = 0; r < m; r++) {
    const double* src = a + (r0 + r) * n + k0;
    double* dst = packed.data() + (r / 4) * kb * 4 + (r % 4);
    for (size_t p = 0; p < kb; p++) dst[4 * p] = src[p];
  }
  parallelParts(threads, groups, [&](int t, int T) {
    double acc[4][4];
    // interleaved row groups balance the triangle between threads
    for (size_t gi = (size_t)t; gi < groups; gi += (size_t)T) {
      const double* x = packed.data() + gi * kb * 4;
      for (size_t gj = 0; gj <= gi; gj++) {
        kernel4x4(x, packed.data() + gj * kb * 4, kb, acc);
        for (size_t r = 0; r < 4; r++) {
          const size_t i = 4 * gi + r;
          if (i >= m) break;
          double* row = a + (r0 + i) * n + r0;
          for (size_t c = 0; c < 4; c++) {
            const size_t j = 4 * gj + c;
            if (j > i) break;
            row[j] -= acc[r][c];
          }
        }
      }
    }
  });
}

}  // namespace

void choleskyInPlace(double* a, size_t n, int threads, WorkMonitor* monitor) {
  const double total = (double)n * n * n / 3.0;
  for (size_t k0 = 0; k0 < n; k0 += kNb) {
    const size_t kb = std::min(kNb, n - k0);
    factorDiagonal(a, n, k0, kb);
    const size_t r0 = k0 + kb;
    if (r0 >= n) break;
    parallelParts(threads, n - r0, [&](int t, int T) {
      auto [b, e] = partRange(n - r0, t, T);
      for (size_t i = r0 + b; i < r0 + e; i++) solvePanelRow(a, n, k0, kb, i);
    });
    trailingUpdate(a, n, k0, kb, r0, threads);
    const double left = (double)(n - r0);
    checkpoint(monitor, total - left * left * left / 3.0, total);
  }
}

void forwardSubstitute(const double* l, size_t n, double* b) {
  for (size_t i = 0; i < n; i++) {
    const double* ri = l + i * n;
    double t = b[i];
    for (size_t p = 0; p < i; p++) t -= ri[p] * b[p];
    b[i] = t / ri[i];
  }
}

void backSubstituteTransposed(const double* l, size_t n, double* b) {
  // column-oriented so that L is read by rows
  for (size_t i = n; i-- > 0;) {
    const double* ri = l + i * n;
    const double x = b[i] / ri[i];
    b[i] = x;
    for (size_t p = 0; p < i; p++) b[p] -= ri[p] * x;
  }
}

void choleskySolveInPlace(const double* l, size_t n, double* b) {
  forwardSubstitute(l, n, b);
  backSubstituteTransposed(l, n, b);
}

}  // namespace curricula::linalg
