// Seeded random projections of per-example gradients to d dimensions.
//
// Every matrix element is a pure function of (seed, row, col), so the same
// seed gives the same projection on any thread count and in a CUDA twin:
//   dense      P[r][c] = float(gaussian(seed, r, c) / sqrt(d))            (common/rng.hpp)
//   rademacher P[r][c] = (bit (c mod 64) of counterHash(seed ^ kRademacherTag, r, c / 64) ? -1 : +1) / sqrt(d)
//   kronecker  P_in[i][c]  = float(gaussian(counterHash(seed, kKroneckerTag, 0), i, c) / sqrt(dIn))
//              P_out[o][c] = float(gaussian(counterHash(seed, kKroneckerTag, 1), o, c) / sqrt(dOut))
//              feature[p * dIn + q] = sum_t (P_out^T g_t)[p] * (P_in^T a_t)[q]   (d = dOut * dIn)
// The 1/sqrt(d) scale makes E[|Pg|^2] = |g|^2.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace curricula::influence {

enum class ProjectionKind { Dense, Rademacher, Kronecker };

constexpr uint64_t kRademacherTag = 0x5241444d41434852ULL;  // "RADMACHR"
constexpr uint64_t kKroneckerTag = 0x4b524f4e45434b45ULL;   // "KRONECKE"

struct ProjectionSpec {
  ProjectionKind kind = ProjectionKind::Dense;
  uint64_t seed = 0;
  size_t inputDim = 0;  // D (dense, rademacher)
  size_t dim = 0;       // d (dense, rademacher)
  size_t inDim = 0, outDim = 0;    // kronecker: layer input and output widths
  size_t inProj = 0, outProj = 0;  // kronecker: dIn, dOut
  size_t featureDim() const { return kind == ProjectionKind::Kronecker ? inProj * outProj : dim; }
};

// Throws std::invalid_argument naming the field (d <= 0, d > D, ...).
void validateProjectionSpec(const ProjectionSpec& s);
const char* projectionKindName(ProjectionKind k);

// Single elements, for tests and other implementations.
float denseElement(uint64_t seed, size_t row, size_t col, size_t d);
float rademacherElement(uint64_t seed, size_t row, size_t col, size_t d);
float kroneckerInElement(uint64_t seed, size_t row, size_t col, size_t dIn);
float kroneckerOutElement(uint64_t seed, size_t row, size_t col, size_t dOut);

class Projector {
 public:
  explicit Projector(const ProjectionSpec& spec);
  const ProjectionSpec& spec() const { return spec_; }

  // out[n x d] = G[n x D] * P (dense or rademacher), float.
  void project(const float* G, size_t n, float* out, unsigned threads) const;

  // Kronecker: A = activations [n x T x in], Gout = output grads [n x T x out];
  // out[n x (dOut*dIn)] in double.
  void projectKronecker(const float* A, const float* Gout, size_t n, size_t T, double* out, unsigned threads) const;

 private:
  ProjectionSpec spec_;
  std::vector<float> dense_;         // D x d (dense only)
  std::vector<float> pIn_, pOut_;    // in x dIn, out x dOut (kronecker only)
};

}  // namespace curricula::influence
