// Streaming influence accumulator: clips and projects per-example gradients
// and keeps, in double,
//   count[K], sum[K x d]        per-cluster counts and sums of non-target examples,
//   targetCount, targetSum[d]   over target examples (their cluster id is ignored),
//   covCount, cov[d x d]        sum of f f^T over the non-target examples.
// A batch is validated completely (cluster ids, finite values) and projected
// before any sum changes, so a bad or cancelled batch leaves the state as it was.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <vector>

#include "influence/clip.hpp"
#include "influence/projection.hpp"

namespace curricula::influence {

struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("cancelled") {}
};

struct GradBatch {
  size_t n = 0;
  // dense / rademacher: n x D gradients
  const void* grads = nullptr;
  GradDtype dtype = GradDtype::F32;
  // kronecker: n x T x in activations and n x T x out output gradients (float32)
  const float* activations = nullptr;
  const float* outGrads = nullptr;
  size_t tokens = 0;
  const int32_t* cluster = nullptr;  // n entries
  const uint8_t* target = nullptr;   // n entries or null (no targets)
};

// Called after each block of rows; return false to cancel.
using BatchProgress = std::function<bool(size_t rowsDone, size_t rows)>;

struct AccumulatorState {
  size_t dim = 0, numClusters = 0;
  std::vector<double> count, sum, targetSum, cov;
  double targetCount = 0, covCount = 0;
};

class Accumulator {
 public:
  // clip: infinity for none, else > 0.
  Accumulator(const ProjectionSpec& spec, size_t numClusters, double clip);

  void add(const GradBatch& b, unsigned threads, const BatchProgress& progress = nullptr);
  const AccumulatorState& state() const { return state_; }
  const Projector& projector() const { return projector_; }
  double clip() const { return clip_; }
  uint64_t examples() const { return examples_; }

 private:
  Projector projector_;
  double clip_;
  AccumulatorState state_;
  uint64_t examples_ = 0;  // rows added so far (for error messages)
};

// Raw L2 norms of a batch's rows (the first pass of percentile clipping).
// `firstRow` only labels rows in error messages. Throws on non-finite rows.
std::vector<double> batchNorms(const ProjectionSpec& spec, const GradBatch& b, uint64_t firstRow, unsigned threads);

// Projected, clipped features of a batch (n x featureDim, double): what add() accumulates.
std::vector<double> batchFeatures(const Projector& p, const GradBatch& b, double clip, uint64_t firstRow,
                                  unsigned threads, const BatchProgress& progress = nullptr);

// cov[d x d] += F^T F over the listed rows of F (n x d), upper tiles mirrored; threads split tiles.
void addGram(const double* F, size_t d, const std::vector<size_t>& rows, double* cov, unsigned threads);

}  // namespace curricula::influence
