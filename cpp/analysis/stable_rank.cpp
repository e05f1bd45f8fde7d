// Matrix-free Lanczos per matrix; products accumulate in double whatever the
// storage type.
#include "analysis/stable_rank.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <stdexcept>
#include <string>

#include "linalg/lanczos.hpp"

namespace curricula::analysis {
namespace {

constexpr size_t kParts = 2;

// y[c0..c1) = (Mᵀ x)[c0..c1): rows outer so M streams contiguously.
template <typename T>
void mtvRange(const T* m, size_t rows, size_t cols, const double* x, double* y, size_t c0, size_t c1) {
  for (size_t j = c0; j < c1; j++) y[j] = 0.0;
  for (size_t i = 0; i < rows; i++) {
    const T* r = m + i * cols;
    const double xi = x[i];
    for (size_t j = c0; j < c1; j++) y[j] += (double)r[j] * xi;
  }
}

typedef double v2d __attribute__((vector_size(16)));

// r·x with eight fixed accumulation chains (vectorised; the order is fixed, so deterministic).
template <typename T>
double rowDot(const T* r, const double* x, size_t n) {
  v2d a0 = {0, 0}, a1 = {0, 0}, a2 = {0, 0}, a3 = {0, 0};
  size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const v2d r0 = {(double)r[j], (double)r[j + 1]}, r1 = {(double)r[j + 2], (double)r[j + 3]};
    const v2d r2 = {(double)r[j + 4], (double)r[j + 5]}, r3 = {(double)r[j + 6], (double)r[j + 7]};
    v2d x0, x1, x2, x3;
    __builtin_memcpy(&x0, x + j, 16);
    __builtin_memcpy(&x1, x + j + 2, 16);
    __builtin_memcpy(&x2, x + j + 4, 16);
    __builtin_memcpy(&x3, x + j + 6, 16);
    a0 += r0 * x0;
    a1 += r1 * x1;
    a2 += r2 * x2;
    a3 += r3 * x3;
  }
  const v2d s = (a0 + a1) + (a2 + a3);
  double t = s[0] + s[1];
  for (; j < n; j++) t += (double)r[j] * x[j];
  return t;
}

// y[r0..r1) = (M x)[r0..r1)
template <typename T>
void mvRange(const T* m, size_t cols, const double* x, double* y, size_t r0, size_t r1) {
  for (size_t i = r0; i < r1; i++) y[i] = rowDot(m + i * cols, x, cols);
}

// y = Σ_{i in [r0, r1)} (r_i·x) r_i: one pass over those rows of M (MᵀM x restricted to them).
template <typename T>
void gramRows(const T* m, size_t cols, const double* x, double* y, size_t r0, size_t r1) {
  for (size_t j = 0; j < cols; j++) y[j] = 0.0;
  for (size_t i = r0; i < r1; i++) {
    const T* r = m + i * cols;
    const double u = rowDot(r, x, cols);
    for (size_t j = 0; j < cols; j++) y[j] += u * (double)r[j];
  }
}

template <typename T>
StableRank one(const T* m, size_t rows, size_t cols, size_t index, const StableRankOptions& o, int threads,
               linalg::WorkMonitor* monitor) {
  StableRank out;
  double f = 0;
  for (size_t i = 0; i < rows * cols; i++) f += (double)m[i] * (double)m[i];
  out.frobenius2 = f;
  if (!(f > 0)) throw std::invalid_argument("`matrices[" + std::to_string(index) + "]` is all zeros; its stable rank is undefined");
  if (!std::isfinite(f)) throw std::invalid_argument("`matrices[" + std::to_string(index) + "]` has non-finite entries");
  // MᵀM x = Σ_i (r_i·x) r_i reads M once per product, so it is preferred unless the
  // Lanczos vectors (length cols) would be much longer than those of MMᵀ (length rows).
  const bool fused = cols <= std::max<size_t>(4 * rows, 8192);
  const size_t n = fused ? cols : rows;
  std::vector<double> tmp(fused ? kParts * cols : cols);
  auto apply = [&](const double* x, double* y) {
    if (fused) {
      // kParts fixed row halves summed in a fixed order: the same bits for any thread count
      linalg::parallelParts(std::min(threads, (int)kParts), kParts, [&](int t, int parts) {
        for (size_t p = (size_t)t; p < kParts; p += (size_t)parts) {
          auto [a, b] = linalg::partRange(rows, (int)p, (int)kParts);
          gramRows(m, cols, x, &tmp[p * cols], a, b);
        }
      });
      for (size_t j = 0; j < cols; j++) y[j] = tmp[j] + tmp[cols + j];
    } else {  // y = M (Mᵀ x), each product split by output entries
      linalg::parallelParts(threads, cols, [&](int t, int parts) {
        auto [a, b] = linalg::partRange(cols, t, parts);
        mtvRange(m, rows, cols, x, tmp.data(), a, b);
      });
      linalg::parallelParts(threads, rows, [&](int t, int parts) {
        auto [a, b] = linalg::partRange(rows, t, parts);
        mvRange(m, cols, tmp.data(), y, a, b);
      });
    }
  };
  const linalg::LanczosResult r = linalg::lanczosLargest(n, apply, o.seed, index, o.tol, o.maxIter, monitor);
  out.spectral2 = r.value;
  out.residual = r.residual;
  out.iterations = r.iterations;
  out.converged = r.converged;
  out.srank = f / r.value;
  return out;
}

}  // namespace

std::vector<StableRank> stableRanks(const std::vector<MatrixView>& ms, const StableRankOptions& o,
                                    linalg::WorkMonitor* monitor) {
  if (!(o.tol > 0)) throw std::invalid_argument("`tol` must be > 0");
  if (o.maxIter < 1) throw std::invalid_argument("`maxIterations` must be >= 1");
  for (size_t i = 0; i < ms.size(); i++)
    if (ms[i].rows == 0 || ms[i].cols == 0 || ms[i].data == nullptr)
      throw std::invalid_argument("`matrices[" + std::to_string(i) + "]` is empty");
  std::vector<StableRank> out(ms.size());
  auto run = [&](size_t i, int threads, linalg::WorkMonitor* m) {
    const MatrixView& v = ms[i];
    out[i] = v.isFloat32 ? one(static_cast<const float*>(v.data), v.rows, v.cols, i, o, threads, m)
                         : one(static_cast<const double*>(v.data), v.rows, v.cols, i, o, threads, m);
  };
  if (ms.size() == 1) {  // progress in Lanczos steps
    run(0, o.threads, monitor);
    return out;
  }
  std::atomic<size_t> next{0}, done{0};
  std::atomic<bool> stop{false};
  linalg::parallelParts(o.threads, ms.size(), [&](int t, int) {
    for (;;) {
      if (stop.load()) return;
      const size_t i = next.fetch_add(1);
      if (i >= ms.size()) return;
      run(i, 1, nullptr);
      const size_t d = done.fetch_add(1) + 1;
      if (t == 0 && monitor != nullptr && !monitor->report((double)d, (double)ms.size())) stop.store(true);
    }
  });
  if (stop.load()) throw linalg::Cancelled();
  return out;
}

}  // namespace curricula::analysis
