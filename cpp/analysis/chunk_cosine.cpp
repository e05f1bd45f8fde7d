// Chunk sums in double (each chunk summed by one thread in order position
// order), then the k×k Gram of the sums normalised to cosines.
#include "analysis/chunk_cosine.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <stdexcept>
#include <string>

namespace curricula::analysis {
namespace {

template <typename T>
void addRow(const T* row, size_t d, double* acc) {
  for (size_t j = 0; j < d; j++) acc[j] += (double)row[j];
}

}  // namespace

ChunkCosine chunkCosine(const uint64_t* order, size_t length, const void* features, bool isFloat32, size_t n, size_t d,
                        size_t k, int threads, linalg::WorkMonitor* monitor) {
  if (k < 1) throw std::invalid_argument("`chunks` must be at least 1");
  if (k > length)
    throw std::invalid_argument("`chunks` is " + std::to_string(k) + " but the order has only " + std::to_string(length) +
                                " entries");
  if (d == 0) throw std::invalid_argument("`features` must have at least one column");
  for (size_t i = 0; i < length; i++)
    if (order[i] >= n)
      throw std::invalid_argument("`order[" + std::to_string(i) + "]` = " + std::to_string(order[i]) +
                                  " is out of range [0, " + std::to_string(n) + ")");
  ChunkCosine out;
  out.k = k;
  out.boundaries.resize(k + 1);
  for (size_t c = 0; c <= k; c++) out.boundaries[c] = (uint64_t)((unsigned __int128)c * length / k);
  std::vector<double> sums(k * d, 0.0);
  std::atomic<size_t> done{0};
  std::atomic<bool> stop{false};
  linalg::parallelParts(threads, k, [&](int t, int T) {
    for (size_t c = (size_t)t; c < k; c += (size_t)T) {
      double* acc = &sums[c * d];
      for (uint64_t p = out.boundaries[c]; p < out.boundaries[c + 1]; p++) {
        if (isFloat32) addRow(static_cast<const float*>(features) + order[p] * d, d, acc);
        else addRow(static_cast<const double*>(features) + order[p] * d, d, acc);
      }
      const size_t finished = done.fetch_add(1) + 1;
      if (t == 0 && monitor != nullptr && !monitor->report((double)finished, (double)k)) stop.store(true);
      if (stop.load()) return;
    }
  });
  if (stop.load()) throw linalg::Cancelled();
  for (size_t i = 0; i < k * d; i++)
    if (!std::isfinite(sums[i]))
      throw std::invalid_argument("`features` has non-finite entries (chunk " + std::to_string(i / d) + " sums to a non-finite value)");
  std::vector<double> gram(k * k);
  for (size_t a = 0; a < k; a++)
    for (size_t b = 0; b <= a; b++) {
      double s = 0;
      for (size_t j = 0; j < d; j++) s += sums[a * d + j] * sums[b * d + j];
      gram[a * k + b] = gram[b * k + a] = s;
    }
  out.norms.resize(k);
  for (size_t c = 0; c < k; c++) {
    out.norms[c] = std::sqrt(gram[c * k + c]);
    if (!(out.norms[c] > 0))
      throw std::invalid_argument("`features`: the gradient sum of chunk " + std::to_string(c) +
                                  " is zero, so its cosine is undefined");
  }
  out.cosine.resize(k * k);
  for (size_t a = 0; a < k; a++)
    for (size_t b = 0; b < k; b++)
      out.cosine[a * k + b] = a == b ? 1.0 : std::max(-1.0, std::min(1.0, gram[a * k + b] / (out.norms[a] * out.norms[b])));
  return out;
}

}  // namespace curricula::analysis
