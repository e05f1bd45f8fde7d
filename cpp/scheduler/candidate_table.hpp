// The live candidates laid out for the per-step check (docs/architecture.md#search).
//
// Length bins and the fastest-moving groups change their deficits by hundreds
// of tokens every step, so a lazily decaying bound on them goes stale at once.
// Each candidate therefore keeps its counts in every length bin (dense,
// bin-major, so the check streams them without gathers) and in up to 2 hot
// groups, and is checked every step against that step's weights, in single
// precision with a proven margin; only its other, rarely picked groups use a
// lazily decaying lower bound. Candidates are grouped by length bucket so one
// weight row serves a whole run, and by bin set so a block of the scan reads
// only the bins it uses. Those that pass are re-bounded in double
// precision and then scored exactly.
#pragma once
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "scheduler/exact_state.hpp"

namespace curricula {

// Smallest exact key so far (ties to the lowest index) and the runners-up seen.
struct BestSoFar {
  double key = std::numeric_limits<double>::infinity();
  uint64_t seq = UINT64_MAX;
  std::vector<std::pair<double, uint64_t>> runnersUp;

  void consider(uint64_t s, double k) {
    if (k < key || (k == key && s < seq)) {
      if (seq != UINT64_MAX) runnersUp.push_back({key, seq});
      key = k;
      seq = s;
    } else {
      runnersUp.push_back({k, s});
    }
  }
  bool beats(const BestSoFar& o) const { return seq != UINT64_MAX && (key < o.key || (key == o.key && seq < o.seq)); }
};

struct ScanCounters {
  uint64_t exactScores = 0;     // candidates scored in exact integers
  uint64_t boundRefreshes = 0;  // candidates re-bounded in double precision
};

class CandidateTable {
 public:
  // Dense bin counts up to this many bins; beyond, every candidate takes the general path.
  static constexpr uint32_t kMaxDenseBins = 32;
  static constexpr int kHotSlots = 2;

  CandidateTable(const ExactState& st, const ScreenTable& screen, const std::vector<uint64_t>& live);

  // Weights, Phi bounds and margins for the state's current prefix.
  void prepareStep(const ExactState& st, const ScreenTable& screen);

  // Lowers `out` (which starts as `start`) over positions [begin, end) of the
  // table; `withGeneral` also checks the candidates that do not fit the layout.
  // Slices touch disjoint positions, so two may run at once.
  void scan(size_t begin, size_t end, bool withGeneral, const ExactState& st, const ScreenTable& screen,
            const BestSoFar& start, BestSoFar& out, ScanCounters& counters);

  // Takes a scheduled sequence out.
  void remove(uint64_t s);

  size_t size() const { return seq_.size(); }

 private:
  // Lower bounds on the three parts of a position's key at the current prefix, without Phi.
  struct Rebound {
    double cold, hot, bin;
  };
  Rebound refresh(size_t i, const ScreenTable& screen);
  void compact();

  const ExactState* st_;
  uint32_t B_ = 0, H_ = 0, nW_ = 0;  // weight row: B bins, H hot groups, one zero
  std::vector<int32_t> hotOf_;        // group -> hot index or -1
  std::vector<uint32_t> hotIds_;
  // Per position, grouped by length bucket.
  std::vector<uint64_t> seq_;
  std::vector<double> coldAt0_, coldRate_;  // cold bound at prefix S: coldAt0 - coldRate * S
  std::vector<float> sqG_, sqB_;      // squared counts in the hot slots; in the bins
  std::vector<uint16_t> binCnt_;      // bin-major, stride cap_
  std::vector<uint32_t> binMask_;     // bins with a nonzero count
  std::vector<uint16_t> hotIdx_, hotCnt_;  // slot-major, stride cap_: weight index, count
  size_t cap_ = 0;
  std::vector<uint64_t> posOf_;       // sequence -> position (kGeneral | index), or UINT64_MAX
  static constexpr uint64_t kGeneral = 1ull << 63;
  size_t dead_ = 0;
  // Length buckets (one per distinct length, or quantile ranges when there are
  // many) and the position range of each.
  std::vector<uint32_t> bucketLo_, bucketHi_;
  std::vector<size_t> bucketStart_;
  // Candidates that do not fit the layout (more than 32 bins, counts >= 2^16)
  // keep lazily decaying bounds on both family terms: rest - rate (S - sref).
  struct General {
    uint64_t seq;
    double restG, restB, rateG, rateB, sref;
  };
  std::vector<General> general_;
  void refreshGeneral(General& g, const ScreenTable& screen) const;
  // Per step, per bucket.
  std::vector<float> W_;                 // nW_ per bucket: 2 (z - r l_hi); the last is 0
  std::vector<double> constG_, constB_;  // Phi bounds minus the single-precision margin
  double S_ = 0;
};

}  // namespace curricula
