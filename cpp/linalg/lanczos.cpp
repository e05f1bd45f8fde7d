// Lanczos with classical Gram-Schmidt applied twice against every previous
// vector (full reorthogonalisation), so no spurious copies of converged Ritz
// values appear. The Ritz problem is solved by implicit QL tracking only the
// last component of each eigenvector, which is all the residual needs.
#include "linalg/lanczos.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/rng.hpp"
#include "linalg/eigen.hpp"

namespace curricula::linalg {
namespace {

double dot(const double* a, const double* b, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

}  // namespace

LanczosResult lanczosLargest(size_t n, const MatVec& apply, uint64_t seed, uint64_t stream, double tol, int maxIter,
                             WorkMonitor* monitor) {
  LanczosResult out;
  if (n == 0) {
    out.converged = true;
    return out;
  }
  const size_t kmax = std::min<size_t>((size_t)std::max(maxIter, 1), n);
  std::vector<double> basis;  // rows: the Lanczos vectors q_0 .. q_j
  basis.reserve(std::min<size_t>(kmax, 64) * n);
  std::vector<double> q(n), w(n);
  for (size_t i = 0; i < n; i++) q[i] = gaussian(seed, stream, i);
  const double q0 = std::sqrt(dot(q.data(), q.data(), n));
  for (auto& x : q) x /= q0;
  std::vector<double> alpha, beta;  // T_k diagonal and off-diagonal
  std::vector<double> d, e, last;
  double scale = 0.0;  // running estimate of ‖A‖ for the breakdown test
  for (size_t j = 0; j < kmax; j++) {
    basis.insert(basis.end(), q.begin(), q.end());
    apply(basis.data() + j * n, w.data());
    out.iterations = (int)j + 1;
    const double a = dot(basis.data() + j * n, w.data(), n);
    alpha.push_back(a);
    for (int pass = 0; pass < 2; pass++)
      for (size_t i = 0; i <= j; i++) {
        const double* qi = basis.data() + i * n;
        const double h = dot(qi, w.data(), n);
        for (size_t t = 0; t < n; t++) w[t] -= h * qi[t];
      }
    const double b = std::sqrt(dot(w.data(), w.data(), n));
    // Ritz values of T_{j+1}; track the last component of each eigenvector
    const size_t k = j + 1;
    d.assign(alpha.begin(), alpha.end());
    e.assign(k, 0.0);
    for (size_t i = 0; i + 1 < k; i++) e[i] = beta[i];
    last.assign(k, 0.0);
    last[k - 1] = 1.0;
    tridiagonalQl(d.data(), e.data(), k, last.data(), 1);
    size_t top = 0;
    for (size_t i = 1; i < k; i++)
      if (d[i] > d[top]) top = i;
    out.value = d[top];
    out.residual = b * std::fabs(last[top]);
    scale = std::max(scale, std::fabs(out.value));
    const bool invariant = b <= 1e-14 * scale || k == n;
    if (invariant) out.residual = 0.0;
    if (out.residual <= tol * std::fabs(out.value) || invariant) {
      out.converged = true;
      return out;
    }
    beta.push_back(b);
    for (size_t t = 0; t < n; t++) q[t] = w[t] / b;
    checkpoint(monitor, (double)k, (double)kmax);
  }
  return out;
}

}  // namespace curricula::linalg
