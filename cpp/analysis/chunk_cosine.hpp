// Mixture fidelity: split an order into k contiguous chunks, sum each chunk's
// per-example gradient features, and compare the sums by cosine similarity.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "linalg/work.hpp"

namespace curricula::analysis {

struct ChunkCosine {
  size_t k = 0;
  std::vector<double> cosine;        // k×k row-major, symmetric, unit diagonal
  std::vector<double> norms;         // ‖chunk sum‖ per chunk
  std::vector<uint64_t> boundaries;  // k+1 positions in the order: chunk c is [b_c, b_{c+1})
};

// features: n×d row-major (float32 or float64); order: indices into [0, n).
// Chunk c covers order positions [floor(c·L/k), floor((c+1)·L/k)). Throws
// std::invalid_argument naming `order[i]`, `chunks` or the zero chunk.
ChunkCosine chunkCosine(const uint64_t* order, size_t length, const void* features, bool isFloat32, size_t n, size_t d,
                        size_t k, int threads, linalg::WorkMonitor* monitor = nullptr);

}  // namespace curricula::analysis
