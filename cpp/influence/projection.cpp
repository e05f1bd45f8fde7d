#include "influence/projection.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "common/rng.hpp"
#include "linalg/gemm.hpp"

namespace curricula::influence {
namespace {

std::string num(size_t v) { return std::to_string(v); }

void requirePositive(size_t v, const char* field) {
  if (v == 0) throw std::invalid_argument("Expected positive integer for `" + std::string(field) + "` but received 0");
}

// Fills rows [r0, r1) of a rows x cols matrix with f(r, c), split over threads by row.
template <typename F>
void fillParallel(std::vector<float>& m, size_t rows, size_t cols, unsigned threads, F f) {
  m.resize(rows * cols);
  auto work = [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; r++)
      for (size_t c = 0; c < cols; c++) m[r * cols + c] = f(r, c);
  };
  const size_t t = std::max<size_t>(1, std::min<size_t>(threads, rows));
  std::vector<std::thread> pool;
  const size_t per = (rows + t - 1) / t;
  for (size_t w = 1; w < t; w++) pool.emplace_back(work, std::min(rows, w * per), std::min(rows, (w + 1) * per));
  work(0, std::min(rows, per));
  for (auto& th : pool) th.join();
}

}  // namespace

const char* projectionKindName(ProjectionKind k) {
  switch (k) {
    case ProjectionKind::Dense: return "dense";
    case ProjectionKind::Rademacher: return "rademacher";
    case ProjectionKind::Kronecker: return "kronecker";
  }
  return "?";
}

void validateProjectionSpec(const ProjectionSpec& s) {
  if (s.kind == ProjectionKind::Kronecker) {
    requirePositive(s.inDim, "inDim");
    requirePositive(s.outDim, "outDim");
    requirePositive(s.inProj, "inProj");
    requirePositive(s.outProj, "outProj");
    if (s.inProj > s.inDim)
      throw std::invalid_argument("`inProj` = " + num(s.inProj) + " exceeds `inDim` = " + num(s.inDim));
    if (s.outProj > s.outDim)
      throw std::invalid_argument("`outProj` = " + num(s.outProj) + " exceeds `outDim` = " + num(s.outDim));
    return;
  }
  requirePositive(s.inputDim, "inputDim");
  requirePositive(s.dim, "dim");
  if (s.dim > s.inputDim)
    throw std::invalid_argument("`dim` = " + num(s.dim) + " exceeds the gradient dimension `inputDim` = " + num(s.inputDim));
}

float denseElement(uint64_t seed, size_t row, size_t col, size_t d) {
  return (float)(gaussian(seed, row, col) / std::sqrt((double)d));
}

float rademacherElement(uint64_t seed, size_t row, size_t col, size_t d) {
  const uint64_t h = counterHash(seed ^ kRademacherTag, row, col >> 6);
  const float s = (float)(1.0 / std::sqrt((double)d));
  return (h >> (col & 63)) & 1 ? -s : s;
}

float kroneckerInElement(uint64_t seed, size_t row, size_t col, size_t dIn) {
  return (float)(gaussian(counterHash(seed, kKroneckerTag, 0), row, col) / std::sqrt((double)dIn));
}

float kroneckerOutElement(uint64_t seed, size_t row, size_t col, size_t dOut) {
  return (float)(gaussian(counterHash(seed, kKroneckerTag, 1), row, col) / std::sqrt((double)dOut));
}

Projector::Projector(const ProjectionSpec& spec) : spec_(spec) {
  validateProjectionSpec(spec);
  const unsigned t = std::max(1u, std::thread::hardware_concurrency());
  if (spec.kind == ProjectionKind::Dense) {
    fillParallel(dense_, spec.inputDim, spec.dim, t,
                 [&](size_t r, size_t c) { return denseElement(spec.seed, r, c, spec.dim); });
  } else if (spec.kind == ProjectionKind::Kronecker) {
    fillParallel(pIn_, spec.inDim, spec.inProj, t,
                 [&](size_t r, size_t c) { return kroneckerInElement(spec.seed, r, c, spec.inProj); });
    fillParallel(pOut_, spec.outDim, spec.outProj, t,
                 [&](size_t r, size_t c) { return kroneckerOutElement(spec.seed, r, c, spec.outProj); });
  }
}

void Projector::project(const float* G, size_t n, float* out, unsigned threads) const {
  const size_t D = spec_.inputDim, d = spec_.dim;
  if (spec_.kind == ProjectionKind::Dense) {
    linalg::sgemm(n, d, D, G, D, dense_.data(), d, out, d, threads);
    return;
  }
  if (spec_.kind != ProjectionKind::Rademacher) throw std::logic_error("project() needs a dense or rademacher projection");
  // Signs are generated once per packed (depth x column) block and reused for all n rows:
  // one hash gives 64 signs, and the sign is applied by flipping the float's sign bit.
  const uint64_t seed = spec_.seed ^ kRademacherTag;
  const float scale = (float)(1.0 / std::sqrt((double)d));
  uint32_t plus;
  std::memcpy(&plus, &scale, sizeof plus);
  auto pack = [=](size_t k0, size_t kc, size_t j0, size_t nc, float* dst) {
    for (size_t p = 0; p < nc; p += linalg::kMicroCols) {
      float* panel = dst + (p / linalg::kMicroCols) * kc * linalg::kMicroCols;
      const size_t c0 = j0 + p;  // a multiple of 16, so all 16 columns share one 64-bit word
      for (size_t k = 0; k < kc; k++) {
        const uint64_t h = counterHash(seed, k0 + k, c0 >> 6);
        const uint32_t bits = (uint32_t)(h >> (c0 & 63));
        float* o = panel + k * linalg::kMicroCols;
        for (size_t j = 0; j < linalg::kMicroCols; j++) {
          const uint32_t u = plus | (((bits >> j) & 1u) << 31);
          float f;
          std::memcpy(&f, &u, sizeof f);
          o[j] = c0 + j < d ? f : 0.0f;
        }
      }
    }
  };
  linalg::sgemmPacked(n, d, D, G, D, pack, out, d, threads);
}

void Projector::projectKronecker(const float* A, const float* Gout, size_t n, size_t T, double* out,
                                 unsigned threads) const {
  if (spec_.kind != ProjectionKind::Kronecker) throw std::logic_error("projectKronecker() needs a kronecker projection");
  const size_t in = spec_.inDim, outW = spec_.outDim, dIn = spec_.inProj, dOut = spec_.outProj;
  std::vector<float> ap(n * T * dIn), gp(n * T * dOut);
  linalg::sgemm(n * T, dIn, in, A, in, pIn_.data(), dIn, ap.data(), dIn, threads);
  linalg::sgemm(n * T, dOut, outW, Gout, outW, pOut_.data(), dOut, gp.data(), dOut, threads);
  // feature[p * dIn + q] = sum_t gp[t][p] * ap[t][q], in double; examples split over threads.
  auto work = [&](size_t e0, size_t e1) {
    for (size_t e = e0; e < e1; e++) {
      double* f = out + e * dOut * dIn;
      std::fill(f, f + dOut * dIn, 0.0);
      for (size_t t = 0; t < T; t++) {
        const float* g = gp.data() + (e * T + t) * dOut;
        const float* a = ap.data() + (e * T + t) * dIn;
        for (size_t p = 0; p < dOut; p++) {
          const double gv = g[p];
          double* row = f + p * dIn;
          for (size_t q = 0; q < dIn; q++) row[q] += gv * (double)a[q];
        }
      }
    }
  };
  const size_t t = std::max<size_t>(1, std::min<size_t>(threads, n));
  const size_t per = (n + t - 1) / t;
  std::vector<std::thread> pool;
  for (size_t w = 1; w < t; w++) pool.emplace_back(work, std::min(n, w * per), std::min(n, (w + 1) * per));
  work(0, std::min(n, per));
  for (auto& th : pool) th.join();
}

}  // namespace curricula::influence
