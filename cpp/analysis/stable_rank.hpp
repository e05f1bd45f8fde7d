// Stable rank srank(M) = ‖M‖_F² / ‖M‖_2² of many gradient matrices.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "linalg/work.hpp"

namespace curricula::analysis {

// One row-major rows×cols matrix of float or double.
struct MatrixView {
  const void* data = nullptr;
  bool isFloat32 = false;
  size_t rows = 0, cols = 0;
};

struct StableRankOptions {
  double tol = 1e-6;   // relative accuracy of ‖M‖_2² (Lanczos residual bound)
  int maxIter = 300;   // matrix-vector products per matrix
  uint64_t seed = 0;
  int threads = 2;
};

struct StableRank {
  double srank = 0;
  double frobenius2 = 0;
  double spectral2 = 0;    // largest eigenvalue of the smaller Gram matrix
  double residual = 0;     // Lanczos residual bound on spectral2
  int iterations = 0;
  bool converged = false;
};

// ‖M‖_2² by Lanczos on MMᵀ (rows <= cols) or MᵀM, applied as two passes over
// M per product, never formed: forming the Gram costs min(r,c)²·max(r,c)
// flops, the same as min(r,c)/2 products, while Lanczos needs tens. Matrix i
// draws its start vector from (seed, i). With several matrices the threads take
// whole matrices; a single matrix splits each product by output entries.
// Either way the results do not depend on `threads`. An all-zero matrix throws
// std::invalid_argument naming `matrices[i]`.
std::vector<StableRank> stableRanks(const std::vector<MatrixView>& matrices, const StableRankOptions& o,
                                    linalg::WorkMonitor* monitor = nullptr);

}  // namespace curricula::analysis
