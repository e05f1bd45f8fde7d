// Blocked Cholesky factorisation A = L Lᵀ of a symmetric positive definite
// matrix (row-major, lower triangle read and overwritten) and triangular solves.
#pragma once
#include <cstddef>
#include <stdexcept>
#include <string>

#include "linalg/work.hpp"

namespace curricula::linalg {

// Thrown when a pivot is not positive: A is not (numerically) positive definite.
struct NotPositiveDefinite : std::invalid_argument {
  size_t pivot;
  double value;
  NotPositiveDefinite(size_t p, double v, const std::string& what) : std::invalid_argument(what), pivot(p), value(v) {}
};

// Overwrites the lower triangle of the n×n row-major `a` with L (the strict
// upper triangle is left untouched). Blocks of 64 columns; the trailing update
// is split over `threads` threads by rows, so L does not depend on `threads`.
void choleskyInPlace(double* a, size_t n, int threads, WorkMonitor* monitor = nullptr);

// Solves L Lᵀ x = b in place (b becomes x), L from choleskyInPlace.
void choleskySolveInPlace(const double* l, size_t n, double* b);

// Solves L y = b (forward) or Lᵀ x = b (backward) in place.
void forwardSubstitute(const double* l, size_t n, double* b);
void backSubstituteTransposed(const double* l, size_t n, double* b);

}  // namespace curricula::linalg
