#include "influence/accumulator.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <thread>

namespace curricula::influence {
namespace {

constexpr size_t kRowBlock = 256;  // rows converted and projected at once (bounds scratch memory)
constexpr size_t kTile = 64;       // cov tile width

template <typename F>
void parallelFor(size_t n, unsigned threads, F f) {
  const size_t t = std::max<size_t>(1, std::min<size_t>(threads, n));
  std::vector<std::thread> pool;
  for (size_t w = 1; w < t; w++) pool.emplace_back([=, &f] { f(w, t); });
  f(0, t);
  for (auto& th : pool) th.join();
}

std::string rowLabel(uint64_t firstRow, size_t r) { return "example " + std::to_string(firstRow + r); }

void checkBatchShape(const ProjectionSpec& spec, const GradBatch& b) {
  if (spec.kind == ProjectionKind::Kronecker) {
    if (b.n > 0 && (!b.activations || !b.outGrads || b.tokens == 0))
      throw std::invalid_argument("a kronecker batch needs `activations`, `outGrads` and `tokens` > 0");
  } else if (b.n > 0 && !b.grads) {
    throw std::invalid_argument("the batch has no `grads`");
  }
}

// exact = false (no clipping): Kronecker rows are only checked for finite values (0 or NaN), since
// their exact norm costs O(T^2 (in + out)) per example and would only feed a factor of 1.
std::vector<double> norms(const ProjectionSpec& spec, const GradBatch& b, uint64_t firstRow, unsigned threads,
                          bool exact = true) {
  checkBatchShape(spec, b);
  std::vector<double> out(b.n);
  parallelFor(b.n, threads, [&](size_t w, size_t t) {
    std::vector<float> row(spec.kind == ProjectionKind::Kronecker ? 0 : spec.inputDim);
    for (size_t r = w; r < b.n; r += t) {
      if (spec.kind == ProjectionKind::Kronecker && !exact) {
        const size_t T = b.tokens;
        const float* A = b.activations + r * T * spec.inDim;
        const float* G = b.outGrads + r * T * spec.outDim;
        bool finite = true;
        for (size_t i = 0; finite && i < T * spec.inDim; i++) finite = std::isfinite(A[i]);
        for (size_t i = 0; finite && i < T * spec.outDim; i++) finite = std::isfinite(G[i]);
        out[r] = finite ? 0.0 : NAN;
      } else if (spec.kind == ProjectionKind::Kronecker) {
        const size_t T = b.tokens;
        out[r] = kroneckerNorm(b.activations + r * T * spec.inDim, b.outGrads + r * T * spec.outDim, T, spec.inDim,
                               spec.outDim);
      } else {
        rowToFloat(b.grads, b.dtype, spec.inputDim, r, row.data());
        out[r] = l2Norm(row.data(), spec.inputDim);
      }
    }
  });
  for (size_t r = 0; r < b.n; r++)
    if (std::isnan(out[r]))
      throw std::invalid_argument("non-finite gradient value (NaN or infinity) in " + rowLabel(firstRow, r) +
                                  " (row " + std::to_string(r) + " of the batch)");
  return out;
}

}  // namespace

std::vector<double> batchNorms(const ProjectionSpec& spec, const GradBatch& b, uint64_t firstRow, unsigned threads) {
  return norms(spec, b, firstRow, threads);
}

std::vector<double> batchFeatures(const Projector& p, const GradBatch& b, double clip, uint64_t firstRow,
                                  unsigned threads, const BatchProgress& progress) {
  const ProjectionSpec& spec = p.spec();
  const std::vector<double> nrm = norms(spec, b, firstRow, threads, std::isfinite(clip));
  const size_t d = spec.featureDim();
  std::vector<double> F(b.n * d);
  std::vector<float> in, out;
  for (size_t r0 = 0; r0 < b.n; r0 += kRowBlock) {
    const size_t m = std::min(kRowBlock, b.n - r0);
    if (spec.kind == ProjectionKind::Kronecker) {
      const size_t T = b.tokens;
      p.projectKronecker(b.activations + r0 * T * spec.inDim, b.outGrads + r0 * T * spec.outDim, m, T,
                         F.data() + r0 * d, threads);
      for (size_t r = 0; r < m; r++) {
        const double s = clipFactor(nrm[r0 + r], clip);
        if (s != 1.0)
          for (size_t j = 0; j < d; j++) F[(r0 + r) * d + j] *= s;
      }
    } else {
      const size_t D = spec.inputDim;
      const float* src;
      if (b.dtype == GradDtype::F32) {
        src = static_cast<const float*>(b.grads) + r0 * D;
      } else {
        in.resize(m * D);
        for (size_t r = 0; r < m; r++) rowToFloat(b.grads, b.dtype, D, r0 + r, in.data() + r * D);
        src = in.data();
      }
      out.resize(m * d);
      p.project(src, m, out.data(), threads);
      // clip(g) projects to s * Pg: the factor is applied after projecting, in double
      for (size_t r = 0; r < m; r++) {
        const double s = clipFactor(nrm[r0 + r], clip);
        for (size_t j = 0; j < d; j++) F[(r0 + r) * d + j] = s * (double)out[r * d + j];
      }
    }
    if (progress && !progress(r0 + m, b.n)) throw Cancelled();
  }
  for (size_t i = 0; i < F.size(); i++)
    if (!std::isfinite(F[i]))
      throw std::invalid_argument("projected features of " + rowLabel(firstRow, i / d) +
                                  " are not finite (float overflow in the projection; scale the gradients down)");
  return F;
}

void addGram(const double* F, size_t d, const std::vector<size_t>& rows, double* cov, unsigned threads) {
  const size_t tiles = (d + kTile - 1) / kTile;
  std::vector<std::pair<size_t, size_t>> work;
  for (size_t a = 0; a < tiles; a++)
    for (size_t b = a; b < tiles; b++) work.emplace_back(a, b);
  parallelFor(work.size(), threads, [&](size_t w, size_t t) {
    std::vector<double> acc(kTile * kTile);
    for (size_t x = w; x < work.size(); x += t) {
      const size_t i0 = work[x].first * kTile, j0 = work[x].second * kTile;
      const size_t ni = std::min(kTile, d - i0), nj = std::min(kTile, d - j0);
      std::fill(acc.begin(), acc.end(), 0.0);
      for (size_t r : rows) {
        const double* f = F + r * d;
        for (size_t i = 0; i < ni; i++) {
          const double fi = f[i0 + i];
          double* a = acc.data() + i * kTile;
          for (size_t j = 0; j < nj; j++) a[j] += fi * f[j0 + j];
        }
      }
      for (size_t i = 0; i < ni; i++)
        for (size_t j = 0; j < nj; j++) {
          cov[(i0 + i) * d + j0 + j] += acc[i * kTile + j];
          if (i0 != j0) cov[(j0 + j) * d + i0 + i] += acc[i * kTile + j];
        }
    }
  });
}

Accumulator::Accumulator(const ProjectionSpec& spec, size_t numClusters, double clip)
    : projector_(spec), clip_(clip) {
  if (numClusters == 0) throw std::invalid_argument("Expected positive integer for `numClusters` but received 0");
  if (!(clip > 0)) throw std::invalid_argument("Expected `clip` > 0 but received " + std::to_string(clip));
  const size_t d = spec.featureDim();
  state_.dim = d;
  state_.numClusters = numClusters;
  state_.count.assign(numClusters, 0.0);
  state_.sum.assign(numClusters * d, 0.0);
  state_.targetSum.assign(d, 0.0);
  state_.cov.assign(d * d, 0.0);
}

void Accumulator::add(const GradBatch& b, unsigned threads, const BatchProgress& progress) {
  const size_t K = state_.numClusters, d = state_.dim;
  if (b.n > 0 && !b.cluster) throw std::invalid_argument("the batch has no `cluster` ids");
  std::vector<size_t> plain;
  for (size_t r = 0; r < b.n; r++) {
    if (b.target && b.target[r]) continue;
    const int32_t c = b.cluster[r];
    if (c < 0 || (size_t)c >= K)
      throw std::invalid_argument("cluster id " + std::to_string(c) + " of " + rowLabel(examples_, r) +
                                  " is out of range [0, " + std::to_string(K) + ") (numClusters = " +
                                  std::to_string(K) + ")");
    plain.push_back(r);
  }
  const std::vector<double> F = batchFeatures(projector_, b, clip_, examples_, threads, progress);
  // commit: nothing below can fail
  for (size_t r = 0; r < b.n; r++) {
    const double* f = F.data() + r * d;
    double* dst;
    if (b.target && b.target[r]) {
      state_.targetCount += 1;
      dst = state_.targetSum.data();
    } else {
      state_.count[b.cluster[r]] += 1;
      dst = state_.sum.data() + (size_t)b.cluster[r] * d;
    }
    for (size_t j = 0; j < d; j++) dst[j] += f[j];
  }
  addGram(F.data(), d, plain, state_.cov.data(), threads);
  state_.covCount += (double)plain.size();
  examples_ += b.n;
}

}  // namespace curricula::influence
