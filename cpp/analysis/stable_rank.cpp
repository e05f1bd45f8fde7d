// Matrix-free Lanczos per matrix; products accumulate in double whatever the
// storage type.
#include "analysis/stable_rank.hpp"

#include <atomic>
#include <cmath>
#include <stdexcept>
#include <string>

#include "linalg/lanczos.hpp"

namespace curricula::analysis {
namespace {

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

// y[r0..r1) = (M x)[r0..r1)
template <typename T>
void mvRange(const T* m, size_t cols, const double* x, double* y, size_t r0, size_t r1) {
  for (size_t i = r0; i < r1; i++) {
    const T* r = m + i * cols;
    double s0 = 0, s1 = 0;  // two chains: a fixed order, so still deterministic
    size_t j = 0;
    for (; j + 1 < cols; j += 2) {
      s0 += (double)r[j] * x[j];
      s1 += (double)r[j + 1] * x[j + 1];
    }
    if (j < cols) s0 += (double)r[j] * x[j];
    y[i] = s0 + s1;
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
  const bool wide = rows <= cols;  // Gram on the smaller side
  const size_t n = wide ? rows : cols, other = wide ? cols : rows;
  std::vector<double> tmp(other);
  auto apply = [&](const double* x, double* y) {
    if (wide) {  // y = M (Mᵀ x)
      linalg::parallelParts(threads, cols, [&](int t, int parts) {
        auto [a, b] = linalg::partRange(cols, t, parts);
        mtvRange(m, rows, cols, x, tmp.data(), a, b);
      });
      linalg::parallelParts(threads, rows, [&](int t, int parts) {
        auto [a, b] = linalg::partRange(rows, t, parts);
        mvRange(m, cols, tmp.data(), y, a, b);
      });
    } else {  // y = Mᵀ (M x)
      linalg::parallelParts(threads, rows, [&](int t, int parts) {
        auto [a, b] = linalg::partRange(rows, t, parts);
        mvRange(m, cols, x, tmp.data(), a, b);
      });
      linalg::parallelParts(threads, cols, [&](int t, int parts) {
        auto [a, b] = linalg::partRange(cols, t, parts);
        mtvRange(m, rows, cols, tmp.data(), y, a, b);
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
