// Householder tridiagonalisation (with the orthogonal factor accumulated
// explicitly) and implicit QL. Row-major throughout; the eigenvectors are kept
// as rows so every plane rotation touches two contiguous rows.
#include "linalg/eigen.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace curricula::linalg {

void tridiagonalQl(double* d, double* e, size_t n, double* rows, size_t rowLen) {
  if (n == 0) return;
  e[n - 1] = 0.0;
  const double eps = std::numeric_limits<double>::epsilon();
  for (size_t l = 0; l < n; l++) {
    int iter = 0;
    size_t m;
    do {
      for (m = l; m + 1 < n; m++) {
        const double dd = std::fabs(d[m]) + std::fabs(d[m + 1]);
        if (std::fabs(e[m]) <= eps * dd) break;
      }
      if (m != l) {
        if (iter++ == 60) throw std::runtime_error("tridiagonal QL did not converge in 60 iterations");
        double g = (d[l + 1] - d[l]) / (2.0 * e[l]);
        double r = std::hypot(g, 1.0);
        g = d[m] - d[l] + e[l] / (g + std::copysign(r, g));
        double s = 1.0, c = 1.0, p = 0.0;
        bool underflow = false;
        for (size_t i = m; i-- > l;) {
          double f = s * e[i];
          const double b = c * e[i];
          r = std::hypot(f, g);
          e[i + 1] = r;
          if (r == 0.0) {
            d[i + 1] -= p;
            e[m] = 0.0;
            underflow = true;
            break;
          }
          s = f / r;
          c = g / r;
          g = d[i + 1] - p;
          r = (d[i] - g) * s + 2.0 * c * b;
          p = s * r;
          d[i + 1] = g + p;
          g = c * r - b;
          if (rows != nullptr) {
            double* zi = rows + i * rowLen;
            double* zj = rows + (i + 1) * rowLen;
            for (size_t k = 0; k < rowLen; k++) {
              f = zj[k];
              zj[k] = s * zi[k] + c * f;
              zi[k] = c * zi[k] - s * f;
            }
          }
        }
        if (underflow) continue;
        d[l] -= p;
        e[l] = g;
        e[m] = 0.0;
      }
    } while (m != l);
  }
}

SymmetricEigen symmetricEigen(const double* a, size_t n, bool wantVectors, int threads, WorkMonitor* monitor) {
  // full symmetric working copy from the lower triangle
  std::vector<double> w(n * n);
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j <= i; j++) w[i * n + j] = w[j * n + i] = a[i * n + j];
  std::vector<double> d(n), e(n, 0.0), beta(n, 0.0);
  std::vector<double> p(n), q(n);
  const double total = wantVectors ? 2.0 * (double)n : (double)n;
  // Step k reflects rows/columns k+1.. so that column k becomes (.., d_k, e_k, 0, ..).
  // The reflector v (v[0] = 1) is stored in w[k+1.., k].
  for (size_t k = 0; k + 2 < n; k++) {
    const size_t m = n - k - 1;  // trailing size
    double sigma = 0.0;
    for (size_t i = 1; i < m; i++) sigma += w[(k + 1 + i) * n + k] * w[(k + 1 + i) * n + k];
    const double x0 = w[(k + 1) * n + k];
    d[k] = w[k * n + k];
    if (sigma == 0.0) {  // already reduced
      e[k] = x0;
      beta[k] = 0.0;
      continue;
    }
    const double mu = std::sqrt(x0 * x0 + sigma);
    const double alpha = x0 <= 0 ? mu : -mu;  // avoid cancellation: v0 = x0 - alpha
    const double v0 = x0 - alpha;
    e[k] = alpha;
    std::vector<double>& v = q;  // reuse storage: v[0..m)
    v[0] = 1.0;
    for (size_t i = 1; i < m; i++) v[i] = w[(k + 1 + i) * n + k] / v0;
    const double b = 2.0 / std::accumulate(v.begin(), v.begin() + m, 0.0, [](double s, double t) { return s + t * t; });
    beta[k] = b;
    for (size_t i = 0; i < m; i++) w[(k + 1 + i) * n + k] = v[i];
    // p = b · B v for the trailing block B (rows split between threads)
    parallelParts(threads, m, [&](int t, int T) {
      auto [r0, r1] = partRange(m, t, T);
      for (size_t i = r0; i < r1; i++) {
        const double* row = &w[(k + 1 + i) * n + k + 1];
        double s = 0.0;
        for (size_t j = 0; j < m; j++) s += row[j] * v[j];
        p[i] = b * s;
      }
    });
    double pv = 0.0;
    for (size_t i = 0; i < m; i++) pv += p[i] * v[i];
    const double half = 0.5 * b * pv;
    for (size_t i = 0; i < m; i++) p[i] -= half * v[i];  // p becomes the w of B -= v wᵀ + w vᵀ
    parallelParts(threads, m, [&](int t, int T) {
      auto [r0, r1] = partRange(m, t, T);
      for (size_t i = r0; i < r1; i++) {
        double* row = &w[(k + 1 + i) * n + k + 1];
        const double vi = v[i], pi = p[i];
        for (size_t j = 0; j < m; j++) row[j] -= vi * p[j] + pi * v[j];
      }
    });
    if ((k & 31) == 0) checkpoint(monitor, (double)k, total);
  }
  if (n >= 2) {
    d[n - 2] = w[(n - 2) * n + n - 2];
    e[n - 2] = w[(n - 1) * n + n - 2];
  }
  if (n >= 1) d[n - 1] = w[(n - 1) * n + n - 1];

  SymmetricEigen out;
  std::vector<double> rows;
  if (wantVectors) {
    // Q = H_0 H_1 ... ; accumulate backwards into z (row-major Q), then keep Qᵀ as rows.
    std::vector<double> z(n * n, 0.0);
    for (size_t i = 0; i < n; i++) z[i * n + i] = 1.0;
    std::vector<double> u(n);
    for (size_t kk = n >= 2 ? n - 2 : 0; kk-- > 0;) {
      const size_t k = kk;
      if (beta[k] == 0.0) continue;
      const size_t m = n - k - 1;
      // u = b · Z_subᵀ v over columns k+1.. (columns split between threads)
      parallelParts(threads, m, [&](int t, int T) {
        auto [c0, c1] = partRange(m, t, T);
        for (size_t j = c0; j < c1; j++) u[j] = 0.0;
        for (size_t i = 0; i < m; i++) {
          const double vi = w[(k + 1 + i) * n + k];
          const double* zr = &z[(k + 1 + i) * n + k + 1];
          for (size_t j = c0; j < c1; j++) u[j] += vi * zr[j];
        }
        for (size_t j = c0; j < c1; j++) u[j] *= beta[k];
      });
      parallelParts(threads, m, [&](int t, int T) {
        auto [r0, r1] = partRange(m, t, T);
        for (size_t i = r0; i < r1; i++) {
          const double vi = w[(k + 1 + i) * n + k];
          double* zr = &z[(k + 1 + i) * n + k + 1];
          for (size_t j = 0; j < m; j++) zr[j] -= vi * u[j];
        }
      });
      if ((k & 31) == 0) checkpoint(monitor, (double)(n + (n - k)), total);
    }
    rows.resize(n * n);
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < n; j++) rows[i * n + j] = z[j * n + i];
  }
  std::vector<double>().swap(w);
  tridiagonalQl(d.data(), e.data(), n, wantVectors ? rows.data() : nullptr, n);
  checkpoint(monitor, total, total);

  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t x, size_t y) { return d[x] < d[y]; });
  out.values.resize(n);
  for (size_t i = 0; i < n; i++) out.values[i] = d[idx[i]];
  if (wantVectors) {
    out.vectors.resize(n * n);
    for (size_t i = 0; i < n; i++) std::copy_n(&rows[idx[i] * n], n, &out.vectors[i * n]);
  }
  return out;
}

}  // namespace curricula::linalg
