// Symmetric eigendecomposition: Householder tridiagonalisation followed by the
// implicit QL algorithm with Wilkinson-type shifts. Chosen over cyclic Jacobi
// because it costs a fixed ~(4/3 + 4/3 + ~3)·n³ flops where Jacobi needs
// 6–10 sweeps of ~4n³ each; Jacobi stays as the slow reference in the tests.
#pragma once
#include <cstddef>
#include <vector>

#include "linalg/work.hpp"

namespace curricula::linalg {

// Eigenvalues ascending; vectors row-major with row i the unit eigenvector of values[i].
struct SymmetricEigen {
  std::vector<double> values;
  std::vector<double> vectors;
};

// Reads the lower triangle of the n×n row-major `a` (the upper is ignored).
SymmetricEigen symmetricEigen(const double* a, size_t n, bool wantVectors, int threads, WorkMonitor* monitor = nullptr);

// Implicit QL on the symmetric tridiagonal (d[0..n), e[0..n-1) off-diagonal).
// On return d holds the eigenvalues (unsorted). Each plane rotation of
// eigenvector components (i, i+1) is applied to rows i and i+1 of the
// n×rowLen row-major `rows` (nullptr: values only). Start from the identity to
// get eigenvectors as rows, or from a single column to track one component.
void tridiagonalQl(double* d, double* e, size_t n, double* rows, size_t rowLen);

}  // namespace curricula::linalg
