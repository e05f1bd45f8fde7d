// Host-side entry points of the CUDA twins. Plain C++ (no CUDA headers), so
// cpp/addon/cuda_binding.cpp compiles with g++; defined in cuda/*.cu and only
// linked when CMake finds nvcc (CURRICULA_WITH_CUDA).
//
// Every function throws std::invalid_argument for bad input (same messages as
// the CPU twin where the check is shared) and std::runtime_error("CUDA ...")
// when the runtime fails (no device, out of memory, launch error).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "analysis/stable_rank.hpp"
#include "influence/accumulator.hpp"
#include "scheduler/scheduler.hpp"

namespace curricula::cuda {

struct DeviceInfo {
  int count = 0;           // visible devices
  int device = -1;         // the one used (0) or -1
  std::string name;        // of device 0
  int major = 0, minor = 0;
  size_t memoryBytes = 0;
  int runtimeVersion = 0, driverVersion = 0;
  std::string reason;      // why count == 0 (empty otherwise)
};

// Never throws: a missing driver or device is reported in `reason`.
DeviceInfo deviceInfo();

// Throws std::runtime_error naming the reason when no device can be used.
void requireDevice();

// Device-to-device cudaMemcpy of `bytes`, best of `reps`, in bytes moved per second
// (read + write, so 2 * bytes per copy): the bandwidth yardstick for the benchmarks.
double copyBandwidth(size_t bytes, int reps);

// Clipped, projected features (n x featureDim, double): the twin of influence::batchFeatures.
std::vector<double> influenceFeatures(const influence::ProjectionSpec& spec, const influence::GradBatch& b, double clip,
                                      uint64_t firstRow);

// What one Accumulator::add contributes (to be added to a state): the twin of
// batchFeatures + per-cluster segment sums + addGram.
struct InfluenceDelta {
  std::vector<double> count, sum, targetSum, cov;  // K, K x d, d, d x d
  double targetCount = 0, covCount = 0;
};
InfluenceDelta influenceAccumulate(const influence::ProjectionSpec& spec, const influence::GradBatch& b,
                                   size_t numClusters, double clip, uint64_t firstRow);

// The twin of analysis::stableRanks: the same Lanczos driver (linalg::lanczosLargest, same
// start vectors and stopping rule) with the matrix-vector products on the GPU.
// Progress: Lanczos steps for one matrix, matrices done for several; returning false cancels
// (linalg::Cancelled).
std::vector<analysis::StableRank> stableRanks(const std::vector<analysis::MatrixView>& matrices,
                                              const analysis::StableRankOptions& o, linalg::WorkMonitor* monitor = nullptr);

// Brute-force exact greedy schedule, one fused score + argmin kernel per step.
// Same keys as cpp/scheduler/exact_state.hpp, so the order equals
// schedule(corpus, {bruteForce: true}) bit for bit.
ScheduleResult scheduleBruteForce(const CorpusView& corpus, const ScheduleOptions& opt, ProgressSink* progress);

}  // namespace curricula::cuda
