// Influence scores from an accumulator state: I_j = ḡ_jᵀ R⁻¹ v̄ with
// R = cov/covCount + damping·I, by one Cholesky solve (or, on request, through
// the eigendecomposition of R, which also gives R^{-1/2} for whitening rows).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "linalg/eigen.hpp"
#include "linalg/work.hpp"

namespace curricula::influence {

// The accumulator sums the scores read; see lib/influence/state.ts.
struct StateView {
  size_t dim = 0;
  size_t numClusters = 0;
  const double* count = nullptr;      // [K]
  const double* sum = nullptr;        // [K·dim]
  double targetCount = 0;
  const double* targetSum = nullptr;  // [dim]
  double covCount = 0;
  const double* cov = nullptr;        // [dim·dim], Σ g gᵀ; the lower triangle is read
};

enum class DampingMode { Absolute, Condition };
enum class SolveMethod { Cholesky, Eigen };

struct ScoreOptions {
  DampingMode dampingMode = DampingMode::Condition;
  double damping = 0;           // Absolute: the damping; Condition: ignored
  double maxCondition = 1e4;    // Condition: cond(R) <= this
  SolveMethod method = SolveMethod::Cholesky;
  bool excludeEmpty = true;     // clusters with count 0: score 0 and excluded (else an error)
  int threads = 2;
  uint64_t seed = 0;            // Lanczos start vectors (Cholesky path spectrum bounds)
  double spectrumTol = 1e-10;   // relative Lanczos tolerance for those bounds
};

struct ScoreResult {
  std::vector<double> scores;      // [K]; 0 for excluded clusters
  std::vector<uint8_t> included;   // [K]
  double damping = 0;
  // Spectrum of C = cov/covCount: exact on the eigen path; on the Cholesky
  // path rigorous bounds lambdaMax >= λ_max and lambdaMin <= λ_min (from
  // Lanczos Ritz values and residuals), so `condition` bounds cond(R) from above.
  double lambdaMin = 0, lambdaMax = 0;
  double condition = 0;  // (lambdaMax + damping) / (lambdaMin + damping)
  bool spectrumExact = false;
};

// Validates sizes and values (throws std::invalid_argument naming the field).
void validateState(const StateView& s);

ScoreResult influenceScores(const StateView& s, const ScoreOptions& o, linalg::WorkMonitor* monitor = nullptr);

// R^{-1/2} x for each of `numRows` rows of length dim (symmetric root
// Q Λ^{-1/2} Qᵀ), with R built as in influenceScores (eigen path).
struct Whitened {
  std::vector<double> rows;
  double damping = 0;
  double lambdaMin = 0, lambdaMax = 0;
};
Whitened whitenRows(const StateView& s, const ScoreOptions& o, const double* rows, size_t numRows,
                    linalg::WorkMonitor* monitor = nullptr);

}  // namespace curricula::influence
