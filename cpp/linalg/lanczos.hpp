// Largest eigenvalue of a symmetric positive semi-definite operator given only
// by matrix-vector products: Lanczos with full reorthogonalisation from a
// seeded random start. A Krylov method rather than plain power iteration,
// because it needs roughly the square root as many products when the top
// eigenvalues are close (random or noisy gradient matrices).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>

#include "linalg/work.hpp"

namespace curricula::linalg {

struct LanczosResult {
  double value = 0;     // the largest Ritz value (<= the largest eigenvalue)
  double residual = 0;  // ‖A y − θ y‖ for its Ritz vector: an eigenvalue lies within it
  int iterations = 0;   // matrix-vector products
  bool converged = false;
};

// y = A x for vectors of length n.
using MatVec = std::function<void(const double* x, double* y)>;

// Stops when residual <= tol · value, when the Krylov space is invariant
// (exact), or after maxIter products (converged = false). The start vector is
// Gaussian from counter-based draws keyed by (seed, stream), so a batch gives
// the same result for each matrix in any order or thread count.
LanczosResult lanczosLargest(size_t n, const MatVec& apply, uint64_t seed, uint64_t stream, double tol, int maxIter,
                             WorkMonitor* monitor = nullptr);

}  // namespace curricula::linalg
