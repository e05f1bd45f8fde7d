// Cumulative targets of a curriculum: E_k(S) = ∫_0^S softmax(f(log n))_k dn, where
// f is piecewise linear in s = log n between knots and constant outside them.
// Error bounds are derived in docs/curriculum.md.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "common/double_buffer.hpp"

namespace curricula::curriculum {

// A borrowed curriculum: knots s[0..numKnots) strictly increasing, logits row-major
// numKnots x numGroups.
struct CurriculumView {
  const double* s = nullptr;
  const double* logits = nullptr;
  size_t numKnots = 0;
  size_t numGroups = 0;
};

// Throws std::invalid_argument naming the field on any bad value.
void validateCurriculum(const CurriculumView& c);

// Mixture p(e^s) = softmax(f(s)) into out[0..K).
void mixtureAtLog(const CurriculumView& c, double s, double* out);

// out[i*K + k] = E_k(points[i]); points finite and >= 0, any order. Gauss-Legendre
// per knot interval, pieces with width*(1+slope range) <= 1, order chosen from the
// a-priori bound so the relative truncation error is below 1e-15.
void cumulativeAt(const CurriculumView& c, const double* points, size_t numPoints, double* out);

// Called every few cells; return false to cancel (buildTargetTable then throws Cancelled).
class TableProgress {
 public:
  virtual ~TableProgress() = default;
  virtual bool report(double tokens, double totalTokens) = 0;
};

struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("target table was aborted") {}
};

struct TargetTable {
  std::vector<double> tokens;      // G integer grid points, tokens[0] = 0, last >= totalTokens
  DoubleBuffer cumulative;         // G*K row-major, E_k(tokens[g])
  double interpolationBound = 0;   // proven bound on the linear-interpolation error (tokens)
  double quadratureBound = 0;      // bound on the error of the grid values themselves (tokens)
};

// Grid + values such that linear interpolation differs from E_k(S) by at most
// maxErrorTokens for all k and S in [0, totalTokens]. maxEntries caps G*K. The result does
// not depend on `threads`.
TargetTable buildTargetTable(const CurriculumView& c, double totalTokens, double maxErrorTokens, size_t maxEntries,
                             TableProgress* progress, size_t threads = 1);

}  // namespace curricula::curriculum
