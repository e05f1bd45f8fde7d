// The curriculum-aligned greedy scheduler (see docs/architecture.md#scheduler).
// At every step it appends the remaining sequence s minimising
//   J(s) = sum_k (T_k + c_sk - E_k(S + l_s))^2  +  lambda * sum_b (U_b + c_sb - U*_b(S + l_s))^2
// ("sos"), or sqrt(group term) + lambda * sqrt(bin term) ("norm"), plus optional
// Gaussian noise; ties go to the lowest index. Scores are exact integers, so the
// fast search returns the order of the naive O(M^2) reference bit for bit.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "scheduler/corpus.hpp"
#include "scheduler/fixed_point.hpp"
#include "scheduler/targets.hpp"

namespace curricula {

enum class Objective { SumOfSquares, Norm };

struct ScheduleOptions {
  std::vector<double> mixture;  // fixed group mixture tau (K entries, sums to 1), or empty with `table`
  TargetTable table;            // time-varying targets E_k(S) (a curriculum); empty = fixed mixture
  double lambda = 1.0;          // weight of the length-bin family
  Objective objective = Objective::SumOfSquares;
  double sigma = 0.0;            // std of the per-step, per-sequence Gaussian noise
  uint64_t seed = 0;
  uint64_t budgetTokens = 0;     // stop once this many tokens are scheduled; 0 = all
  std::vector<uint64_t> resume;  // a previous order to replay before scheduling
  bool bruteForce = false;       // score every candidate exactly at every step (cross-checks, baselines)
  uint32_t threads = 2;          // check threads (1 or 2); the order never depends on it
};

struct ScheduleStats {
  uint64_t steps = 0;
  uint64_t exactScores = 0;     // candidates scored in exact integers
  uint64_t boundRefreshes = 0;  // candidates that passed the check and were re-bounded in double precision
  int fixedPointBits = 0;
};

struct ScheduleResult {
  std::vector<uint64_t> order;  // scheduled sequence indices (resume prefix excluded)
  uint64_t tokens = 0;          // tokens in `order`
  ScheduleStats stats;
};

// Called every 64 steps; return false to cancel (the scheduler then throws Cancelled).
class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  virtual bool report(uint64_t steps, uint64_t tokens, uint64_t tokenGoal) = 0;
};

struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("schedule was aborted") {}
};

// Exact greedy schedule: every step considers every remaining sequence, but dismisses
// almost all of them with a vectorised lower-bound check (candidate_table.hpp).
// O(M) per step, O(M^2) overall.
ScheduleResult schedule(const CorpusView& corpus, const ScheduleOptions& opt, ProgressSink* progress);

// The noise the scheduler adds to sequence `index` at step `step` (before scaling by sigma).
double scheduleNoise(uint64_t seed, uint64_t step, uint64_t index);

}  // namespace curricula
