// Damping, the Cholesky and eigen paths to ḡ_jᵀ R⁻¹ v̄, and explicit whitening.
#include "influence/scores.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "linalg/cholesky.hpp"
#include "linalg/lanczos.hpp"

namespace curricula::influence {
namespace {

using linalg::WorkMonitor;

std::string num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", x);
  return buf;
}

// Maps the progress of phase `index` of `count` onto one overall fraction.
struct PhaseMonitor : WorkMonitor {
  WorkMonitor* parent;
  int index = 0, count;
  PhaseMonitor(WorkMonitor* p, int c) : parent(p), count(c) {}
  bool report(double done, double total) override {
    if (parent == nullptr) return true;
    const double f = total > 0 ? std::min(1.0, done / total) : 1.0;
    return parent->report(index + f, count);
  }
  WorkMonitor* next() {
    if (index + 1 < count) index++;
    return this;
  }
};

// C = cov / covCount as a full symmetric matrix built from the lower triangle.
std::vector<double> covariance(const StateView& s) {
  const size_t n = s.dim;
  std::vector<double> c(n * n);
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j <= i; j++) c[i * n + j] = c[j * n + i] = s.cov[i * n + j] / s.covCount;
  return c;
}

std::vector<double> targetMean(const StateView& s) {
  std::vector<double> v(s.dim);
  for (size_t i = 0; i < s.dim; i++) v[i] = s.targetSum[i] / s.targetCount;
  return v;
}

double dampingFor(const ScoreOptions& o, double lambdaMin, double lambdaMax) {
  if (o.dampingMode == DampingMode::Absolute) return o.damping;
  const double c = o.maxCondition;
  if (!(lambdaMax > 0))
    throw std::invalid_argument("cov is zero, so damping from `maxCondition` is undefined; give an absolute `damping`");
  return std::max(0.0, (lambdaMax - c * lambdaMin) / (c - 1.0));
}

void addDiagonal(std::vector<double>& a, size_t n, double delta) {
  for (size_t i = 0; i < n; i++) a[i * n + i] += delta;
}

[[noreturn]] void notPositiveDefinite(double damping, const std::string& detail) {
  throw std::invalid_argument("R = cov/covCount + damping·I is not positive definite with damping " + num(damping) + " (" +
                              detail + "); increase `damping` or use `maxCondition`");
}

// Cholesky of C + delta·I; a failed pivot becomes a validation error naming the damping.
std::vector<double> factor(const std::vector<double>& c, size_t n, double delta, int threads, WorkMonitor* m) {
  std::vector<double> l = c;
  addDiagonal(l, n, delta);
  try {
    linalg::choleskyInPlace(l.data(), n, threads, m);
  } catch (const linalg::NotPositiveDefinite& e) {
    notPositiveDefinite(delta, "Cholesky pivot " + std::to_string(e.pivot) + " is " + num(e.value));
  }
  return l;
}

// Lower bound on λ_min(L Lᵀ) from Lanczos on (L Lᵀ)⁻¹: 1/(θ + residual).
double smallestEigenvalueBound(const std::vector<double>& l, size_t n, const ScoreOptions& o) {
  const linalg::LanczosResult r = linalg::lanczosLargest(
      n,
      [&](const double* x, double* y) {
        std::copy_n(x, n, y);
        linalg::choleskySolveInPlace(l.data(), n, y);
      },
      o.seed, 2, o.spectrumTol, (int)std::min<size_t>(n, 500));
  return 1.0 / (r.value + r.residual);
}

}  // namespace

void validateState(const StateView& s) {
  auto fail = [](const std::string& m) { throw std::invalid_argument(m); };
  if (s.dim == 0) fail("`dim` must be at least 1");
  if (s.numClusters == 0) fail("`numClusters` must be at least 1");
  for (size_t j = 0; j < s.numClusters; j++)
    if (!std::isfinite(s.count[j]) || s.count[j] < 0) fail("`count[" + std::to_string(j) + "]` is " + num(s.count[j]) + "; expected a finite count >= 0");
  for (size_t i = 0; i < s.numClusters * s.dim; i++)
    if (!std::isfinite(s.sum[i])) fail("`sum[" + std::to_string(i) + "]` is not finite");
  if (!std::isfinite(s.targetCount) || !(s.targetCount > 0)) fail("`targetCount` is " + num(s.targetCount) + "; expected > 0");
  for (size_t i = 0; i < s.dim; i++)
    if (!std::isfinite(s.targetSum[i])) fail("`targetSum[" + std::to_string(i) + "]` is not finite");
  if (!std::isfinite(s.covCount) || !(s.covCount > 0)) fail("`covCount` is " + num(s.covCount) + "; expected > 0");
  double big = 0;
  for (size_t i = 0; i < s.dim * s.dim; i++) {
    if (!std::isfinite(s.cov[i])) fail("`cov[" + std::to_string(i) + "]` is not finite");
    big = std::max(big, std::fabs(s.cov[i]));
  }
  for (size_t i = 0; i < s.dim; i++) {
    if (s.cov[i * s.dim + i] < 0) fail("`cov[" + std::to_string(i * s.dim + i) + "]` is a negative diagonal entry");
    for (size_t j = 0; j < i; j++)
      if (std::fabs(s.cov[i * s.dim + j] - s.cov[j * s.dim + i]) > 1e-8 * big)
        fail("`cov` is not symmetric: entries [" + std::to_string(i) + "," + std::to_string(j) + "] and [" +
             std::to_string(j) + "," + std::to_string(i) + "] differ");
  }
}

ScoreResult influenceScores(const StateView& s, const ScoreOptions& o, WorkMonitor* monitor) {
  validateState(s);
  const size_t n = s.dim, K = s.numClusters;
  ScoreResult out;
  out.included.assign(K, 1);
  size_t live = 0;
  for (size_t j = 0; j < K; j++) {
    if (s.count[j] == 0) {
      if (!o.excludeEmpty)
        throw std::invalid_argument("`count[" + std::to_string(j) + "]` is 0: cluster " + std::to_string(j) +
                                    " has no examples (set emptyClusters: \"exclude\" to skip it)");
      out.included[j] = 0;
    } else {
      live++;
    }
  }
  if (live == 0) throw std::invalid_argument("`count` is 0 for every cluster; there is nothing to score");
  const std::vector<double> c = covariance(s);
  const std::vector<double> v = targetMean(s);
  std::vector<double> w(n);  // R⁻¹ v̄
  if (o.method == SolveMethod::Eigen) {
    PhaseMonitor phases(monitor, 1);
    const linalg::SymmetricEigen eig = linalg::symmetricEigen(c.data(), n, true, o.threads, &phases);
    out.lambdaMin = eig.values.front();
    out.lambdaMax = eig.values.back();
    out.spectrumExact = true;
    out.damping = dampingFor(o, out.lambdaMin, out.lambdaMax);
    if (!(out.lambdaMin + out.damping > 0))
      notPositiveDefinite(out.damping, "smallest eigenvalue of R is " + num(out.lambdaMin + out.damping));
    std::vector<double> t(n);
    for (size_t i = 0; i < n; i++) {
      const double* q = &eig.vectors[i * n];
      double sdot = 0;
      for (size_t k = 0; k < n; k++) sdot += q[k] * v[k];
      t[i] = sdot / (eig.values[i] + out.damping);
    }
    std::fill(w.begin(), w.end(), 0.0);
    for (size_t i = 0; i < n; i++) {
      const double* q = &eig.vectors[i * n];
      for (size_t k = 0; k < n; k++) w[k] += t[i] * q[k];
    }
  } else {
    PhaseMonitor phases(monitor, o.dampingMode == DampingMode::Condition ? 3 : 2);
    const linalg::LanczosResult top = linalg::lanczosLargest(
        n,
        [&](const double* x, double* y) {
          linalg::parallelParts(o.threads, n, [&](int t, int T) {
            auto [r0, r1] = linalg::partRange(n, t, T);
            for (size_t i = r0; i < r1; i++) {
              const double* row = &c[i * n];
              double sdot = 0;
              for (size_t k = 0; k < n; k++) sdot += row[k] * x[k];
              y[i] = sdot;
            }
          });
        },
        o.seed, 1, o.spectrumTol, (int)std::min<size_t>(n, 500), &phases);
    out.lambdaMax = top.value + top.residual;  // upper bound
    std::vector<double> l;
    if (o.dampingMode == DampingMode::Absolute) {
      out.damping = o.damping;
      l = factor(c, n, out.damping, o.threads, phases.next());
      out.lambdaMin = smallestEigenvalueBound(l, n, o) - out.damping;
    } else {
      // factor at the damping that suffices even if C is singular, bound λ_min, then refine
      const double upper = dampingFor(o, 0.0, out.lambdaMax);
      l = factor(c, n, upper, o.threads, phases.next());
      out.lambdaMin = std::max(0.0, smallestEigenvalueBound(l, n, o) - upper);
      out.damping = dampingFor(o, out.lambdaMin, out.lambdaMax);
      if (out.damping < upper) l = factor(c, n, out.damping, o.threads, phases.next());
    }
    w = v;
    linalg::choleskySolveInPlace(l.data(), n, w.data());
  }
  out.condition = (out.lambdaMax + out.damping) / (out.lambdaMin + out.damping);
  out.scores.assign(K, 0.0);
  for (size_t j = 0; j < K; j++) {
    if (!out.included[j]) continue;
    const double* g = s.sum + j * n;
    double sdot = 0;
    for (size_t k = 0; k < n; k++) sdot += g[k] * w[k];
    out.scores[j] = sdot / s.count[j];
  }
  return out;
}

Whitened whitenRows(const StateView& s, const ScoreOptions& o, const double* rows, size_t numRows, WorkMonitor* monitor) {
  validateState(s);
  const size_t n = s.dim;
  const std::vector<double> c = covariance(s);
  const linalg::SymmetricEigen eig = linalg::symmetricEigen(c.data(), n, true, o.threads, monitor);
  Whitened out;
  out.lambdaMin = eig.values.front();
  out.lambdaMax = eig.values.back();
  out.damping = dampingFor(o, out.lambdaMin, out.lambdaMax);
  if (!(out.lambdaMin + out.damping > 0))
    notPositiveDefinite(out.damping, "smallest eigenvalue of R is " + num(out.lambdaMin + out.damping));
  std::vector<double> scale(n);
  for (size_t i = 0; i < n; i++) scale[i] = 1.0 / std::sqrt(eig.values[i] + out.damping);
  out.rows.assign(numRows * n, 0.0);
  linalg::parallelParts(o.threads, numRows, [&](int t, int T) {
    auto [r0, r1] = linalg::partRange(numRows, t, T);
    std::vector<double> proj(n);
    for (size_t r = r0; r < r1; r++) {
      const double* x = rows + r * n;
      double* y = &out.rows[r * n];
      for (size_t i = 0; i < n; i++) {
        const double* q = &eig.vectors[i * n];
        double sdot = 0;
        for (size_t k = 0; k < n; k++) sdot += q[k] * x[k];
        proj[i] = sdot * scale[i];
      }
      for (size_t i = 0; i < n; i++) {
        const double* q = &eig.vectors[i * n];
        for (size_t k = 0; k < n; k++) y[k] += proj[i] * q[k];
      }
    }
  });
  return out;
}

}  // namespace curricula::influence
