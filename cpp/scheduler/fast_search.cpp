// Fast exact search. Sequences are the leaves of a static F-ary tree, sorted so
// that siblings share length and length-bin/hot-group counts. Every node keeps
// a lower bound on the score of any live leaf below it:
//   * "exact dimensions" (all length bins and the hottest groups, <= 64 in all)
//     change every step, so they are bounded afresh from per-node count boxes;
//   * the remaining "cold" groups change rarely: a node stores a lower bound v on
//     their part taken at prefix sref, and v - rmax (S - sref) stays valid later,
//     because between re-evaluations the part only falls through target drift
//     (rate <= rmax) and rises when one of its groups is picked.
// A best-first search expands nodes in order of bound and scores leaves exactly
// (integer arithmetic, shared with the brute force), so pruning never changes
// the answer; bounds carry a relative safety margin for their double rounding.
#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <limits>
#include <numeric>
#include <queue>
#include <stdexcept>
#include <string>

#include "scheduler/exact_state.hpp"
#include "scheduler/schedule_setup.hpp"
#include "scheduler/scheduler.hpp"

namespace curricula {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int kMaxDims = 64;

struct Node {
  double v = kInf;     // lower bound on the cold part at prefix sref
  double sref = 0;
  double rmax = 0;     // max cold drift rate below (tokens^2 per token)
  uint64_t lenLo = 0, lenHi = 0;
  uint64_t mask = 0;   // exact dimensions present below
  uint64_t boxOff = 0; // popcount(mask) entries in boxLo/boxHi, by increasing dimension
};

class FastScheduler {
 public:
  FastScheduler(const CorpusView& corpus, const ScheduleOptions& opt, ProgressSink* progress)
      : opt_(opt), progress_(progress), setup_(corpus, opt), state_(setup_.targets, setup_.counts, opt) {
    const auto& c = setup_.counts;
    M_ = corpus.numSequences;
    K_ = corpus.numGroups;
    B_ = corpus.numBins;
    F_ = opt.fanout;
    if (B_ > kMaxDims) throw std::invalid_argument("numBins must be at most 64 but is " + std::to_string(B_));
    invP_ = 1.0 / (double)setup_.targets.P;
    inv2P2_ = invP_ * invP_;
    chooseHotGroups();
    buildLeaves(c);
    buildTree();
    dead_.assign(M_, 0);
  }

  ScheduleResult run() {
    ScheduleResult res;
    res.stats.fixedPointBits = setup_.targets.bits;
    for (uint64_t s : opt_.resume) { state_.apply(s); kill(posOf_[s]); }
    live_ = M_ - opt_.resume.size();
    while (live_ > 0 && res.tokens < setup_.tokenGoal) {
      const uint64_t pos = searchStep(res.stats);
      const uint64_t s = leafSeq_[pos];
      state_.apply(s);
      kill(pos);
      live_--;
      res.order.push_back(s);
      res.tokens += setup_.counts.length[s];
      if (progress_ && (res.order.size() & 1023) == 0 &&
          !progress_->report(res.order.size(), res.tokens, setup_.tokenGoal))
        throw Cancelled();
    }
    res.stats.steps = res.order.size();
    if (progress_) progress_->report(res.order.size(), res.tokens, setup_.tokenGoal);
    return res;
  }

 private:
  // ---- setup ---------------------------------------------------------------
  void chooseHotGroups() {
    const uint32_t H = std::min<uint32_t>(kMaxDims - B_, K_);
    std::vector<uint32_t> idx(K_);
    std::iota(idx.begin(), idx.end(), 0);
    const auto& t = setup_.targets.group;
    std::stable_sort(idx.begin(), idx.end(), [&](uint32_t a, uint32_t b) { return t[a] > t[b]; });
    hotDim_.assign(K_, -1);
    dimChar_.clear();
    for (uint32_t b = 0; b < B_; b++) dimChar_.push_back(b);
    for (uint32_t h = 0; h < H; h++) {
      hotDim_[idx[h]] = (int)(B_ + h);
      dimChar_.push_back(idx[h]);
    }
    D_ = (int)dimChar_.size();
  }

  double rateOf(uint32_t k) const { return (double)setup_.targets.group[k] * invP_; }

  // Cold part of the group term of sequence s at the current prefix, exactly, in tokens^2.
  double coldPart(uint64_t s) const {
    const auto& c = setup_.counts;
    const uint64_t l = c.length[s];
    i128 sum = 0;
    for (uint64_t i = c.groupOff[s]; i < c.groupOff[s + 1]; i++)
      if (hotDim_[c.groupId[i]] < 0) sum += state_.groups.delta(c.groupId[i], c.groupCount[i], state_.S, l);
    return toDouble(sum) * inv2P2_;
  }

  uint64_t leafMask(uint64_t s, uint32_t* cnt) const {
    const auto& c = setup_.counts;
    uint64_t mask = 0;
    for (uint64_t i = c.binOff[s]; i < c.binOff[s + 1]; i++) {
      mask |= uint64_t(1) << c.binId[i];
      cnt[c.binId[i]] = c.binCount[i];
    }
    for (uint64_t i = c.groupOff[s]; i < c.groupOff[s + 1]; i++) {
      const int d = hotDim_[c.groupId[i]];
      if (d >= 0) { mask |= uint64_t(1) << d; cnt[d] = c.groupCount[i]; }
    }
    return mask;
  }

  void buildLeaves(const SequenceCounts& c) {
    // Sort key: length, exact-dimension pattern, then the counts in that pattern.
    struct Key { uint64_t len, binMask, binCounts, hotMask, hotCounts, seq; };
    std::vector<Key> keys(M_);
    uint32_t cnt[kMaxDims];
    const int shift = [&] { int sh = 0; uint64_t mx = 0; for (auto l : c.length) mx = std::max(mx, l); while ((mx >> sh) > 0xffff) sh++; return sh; }();
    const uint64_t binBits = B_ == 64 ? ~uint64_t(0) : (uint64_t(1) << B_) - 1;
    const auto pack = [&](uint64_t mask) {
      uint64_t packed = 0;
      int used = 0;
      for (uint64_t m = mask; m && used < 4; m &= m - 1, used++)
        packed |= (uint64_t)((cnt[__builtin_ctzll(m)] >> shift) & 0xffff) << (48 - 16 * used);
      return packed;
    };
    for (uint64_t s = 0; s < M_; s++) {
      const uint64_t mask = leafMask(s, cnt);
      keys[s] = {c.length[s], mask & binBits, pack(mask & binBits), mask & ~binBits, pack(mask & ~binBits), s};
    }
    static const bool hotFirst = getenv("CURRICULA_HOT_FIRST") != nullptr;
    std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
      if (a.len != b.len) return a.len < b.len;
      if (hotFirst) {
        if (a.hotMask != b.hotMask) return a.hotMask < b.hotMask;
        if (a.hotCounts != b.hotCounts) return a.hotCounts < b.hotCounts;
      }
      if (a.binMask != b.binMask) return a.binMask < b.binMask;
      if (a.binCounts != b.binCounts) return a.binCounts < b.binCounts;
      if (a.hotMask != b.hotMask) return a.hotMask < b.hotMask;
      if (a.hotCounts != b.hotCounts) return a.hotCounts < b.hotCounts;
      return a.seq < b.seq;
    });
    leafSeq_.resize(M_);
    posOf_.resize(M_);
    leafV_.resize(M_);
    leafSref_.assign(M_, 0.0);
    leafR_.resize(M_);
    for (uint64_t p = 0; p < M_; p++) {
      const uint64_t s = keys[p].seq;
      leafSeq_[p] = s;
      posOf_[s] = p;
      double r = 0;
      for (uint64_t i = c.groupOff[s]; i < c.groupOff[s + 1]; i++)
        if (hotDim_[c.groupId[i]] < 0) r += 2.0 * c.groupCount[i] * rateOf(c.groupId[i]);
      leafR_[p] = r;
      leafV_[p] = coldPart(s);
    }
  }

  void buildTree() {
    const auto& c = setup_.counts;
    uint64_t n = (M_ + F_ - 1) / F_;
    levels_.clear();
    uint32_t lo[kMaxDims], hi[kMaxDims], cnt[kMaxDims];
    // Level 0 over leaves.
    std::vector<Node> level(n);
    for (uint64_t i = 0; i < n; i++) {
      Node& nd = level[i];
      const uint64_t a = i * F_, b = std::min(M_, a + F_);
      nd.lenLo = UINT64_MAX;
      std::fill(lo, lo + kMaxDims, UINT32_MAX);
      std::fill(hi, hi + kMaxDims, 0);
      uint64_t orMask = 0, andMask = ~uint64_t(0);
      for (uint64_t p = a; p < b; p++) {
        const uint64_t s = leafSeq_[p];
        nd.v = std::min(nd.v, leafV_[p]);
        nd.rmax = std::max(nd.rmax, leafR_[p]);
        nd.lenLo = std::min(nd.lenLo, c.length[s]);
        nd.lenHi = std::max(nd.lenHi, c.length[s]);
        const uint64_t m = leafMask(s, cnt);
        for (uint64_t mm = m; mm; mm &= mm - 1) {
          const int d = __builtin_ctzll(mm);
          lo[d] = std::min(lo[d], cnt[d]);
          hi[d] = std::max(hi[d], cnt[d]);
        }
        orMask |= m;
        andMask &= m;
      }
      finishNode(nd, orMask, andMask, lo, hi);
    }
    levels_.push_back(std::move(level));
    // Upper levels over nodes.
    while (levels_.back().size() > 1) {
      const std::vector<Node>& below = levels_.back();
      const uint64_t m = below.size();
      n = (m + F_ - 1) / F_;
      std::vector<Node> up(n);
      for (uint64_t i = 0; i < n; i++) {
        Node& nd = up[i];
        const uint64_t a = i * F_, b = std::min(m, a + F_);
        nd.lenLo = UINT64_MAX;
        std::fill(lo, lo + kMaxDims, UINT32_MAX);
        std::fill(hi, hi + kMaxDims, 0);
        uint64_t orMask = 0, andMask = ~uint64_t(0);
        for (uint64_t j = a; j < b; j++) {
          const Node& ch = below[j];
          nd.v = std::min(nd.v, ch.v);
          nd.rmax = std::max(nd.rmax, ch.rmax);
          nd.lenLo = std::min(nd.lenLo, ch.lenLo);
          nd.lenHi = std::max(nd.lenHi, ch.lenHi);
          uint64_t k = 0;
          for (uint64_t mm = ch.mask; mm; mm &= mm - 1, k++) {
            const int d = __builtin_ctzll(mm);
            lo[d] = std::min(lo[d], boxLo_[ch.boxOff + k]);
            hi[d] = std::max(hi[d], boxHi_[ch.boxOff + k]);
          }
          orMask |= ch.mask;
          andMask &= ch.mask;
        }
        finishNode(nd, orMask, andMask, lo, hi);
      }
      levels_.push_back(std::move(up));
    }
  }

  // A dimension absent from some child has count 0 there.
  void finishNode(Node& nd, uint64_t orMask, uint64_t andMask, const uint32_t* lo, const uint32_t* hi) {
    nd.mask = orMask;
    nd.boxOff = boxLo_.size();
    for (uint64_t mm = orMask; mm; mm &= mm - 1) {
      const int d = __builtin_ctzll(mm);
      boxLo_.push_back((andMask >> d) & 1 ? lo[d] : 0);
      boxHi_.push_back(hi[d]);
    }
  }

  // ---- per step --------------------------------------------------------------
  void kill(uint64_t pos) {
    dead_[pos] = 1;
    leafV_[pos] = kInf;
  }

  void prepareStep() {
    const double S = (double)state_.S;
    for (int d = 0; d < D_; d++) {
      const bool isBin = d < (int)B_;
      const FamilyState& f = isBin ? state_.bins : state_.groups;
      const uint32_t k = dimChar_[d];
      dimZ0_[d] = ((double)f.T[k] * (double)f.P - (double)(*f.rate)[k] * S) * invP_;
      dimRate_[d] = (double)(*f.rate)[k] * invP_;
    }
    phiCacheLo_ = phiCacheHi_ = UINT64_MAX;
  }

  // min over l in [lo, hi] of phi(l), exactly (phi is a convex quadratic in l).
  static i128 phiMin(const FamilyState& f, uint64_t lo, uint64_t hi) {
    if (lo == hi) return f.phi(lo);
    const double at = toDouble(f.B) / toDouble(f.C);
    uint64_t l1 = lo, l2 = hi;
    if (at > (double)lo && at < (double)hi) { l1 = (uint64_t)std::floor(at); l2 = std::min(hi, l1 + 1); }
    i128 v = std::min(f.phi(l1), f.phi(l2));
    return std::min(v, std::min(f.phi(lo), f.phi(hi)));
  }

  void phiBounds(uint64_t lo, uint64_t hi, double& g, double& b) {
    if (lo != phiCacheLo_ || hi != phiCacheHi_) {
      phiCacheLo_ = lo;
      phiCacheHi_ = hi;
      phiCacheG_ = toDouble(phiMin(state_.groups, lo, hi)) * inv2P2_;
      phiCacheB_ = toDouble(phiMin(state_.bins, lo, hi)) * inv2P2_;
    }
    g = phiCacheG_;
    b = phiCacheB_;
  }

  double combineBound(double g, double b) const {
    double r = opt_.objective == Objective::SumOfSquares
                   ? g + opt_.lambda * b
                   : std::sqrt(std::max(0.0, g)) + opt_.lambda * std::sqrt(std::max(0.0, b));
    r -= 1e-12 * std::fabs(r);
    return r - kGaussianBound * opt_.sigma;
  }

  double nodeBound(const Node& nd) {
    if (nd.v == kInf) return kInf;
    const double S = (double)state_.S;
    double g, b;
    phiBounds(nd.lenLo, nd.lenHi, g, b);
    double magG = std::fabs(g) + std::fabs(nd.v) + nd.rmax * (S - nd.sref), magB = std::fabs(b);
    g += nd.v - nd.rmax * (S - nd.sref);
    const double l = (double)nd.lenHi;
    int nb = 0, nh = 0;
    uint64_t k = 0;
    for (uint64_t mm = nd.mask; mm; mm &= mm - 1, k++) {
      const int d = __builtin_ctzll(mm);
      const double z = dimZ0_[d] - dimRate_[d] * l;  // lowest deficit over the node's lengths
      const double clo = boxLo_[nd.boxOff + k], chi = boxHi_[nd.boxOff + k];
      const double mag = chi * (chi + 2 * std::fabs(z));
      if (d < (int)B_) { binLo_[nb] = clo; binHi_[nb] = chi; binZ_[nb++] = z; magB += mag; }
      else { hotLo_[nh] = clo; hotHi_[nh] = chi; hotZ_[nh++] = z; magG += mag; }
    }
    // Bin counts of a leaf sum to its length; hot-group counts to at most it.
    b += familyBound(binLo_, binHi_, binZ_, nb, (double)nd.lenLo, (double)nd.lenHi);
    g += familyBound(hotLo_, hotHi_, hotZ_, nh, 0.0, (double)nd.lenHi);
    g -= 1e-10 * magG + 1e-6;
    b -= 1e-10 * magB + 1e-6;
    return combineBound(g, b);
  }

  // min sum_d c_d (c_d + 2 z_d) over real lo_d <= c_d <= hi_d with sum_d c_d in [sumLo, sumHi]:
  // a separable convex program, solved by water-filling (c_d = clamp(mu - z_d)).
  static double familyBound(const double* lo, const double* hi, const double* z, int n, double sumLo, double sumHi) {
    if (n == 0) return 0.0;
    double s0 = 0;
    for (int d = 0; d < n; d++) s0 += std::min(hi[d], std::max(lo[d], -z[d]));
    double mu = 0;
    if (s0 < sumLo || s0 > sumHi) {
      const double target = s0 < sumLo ? sumLo : sumHi;
      // sum(mu) is piecewise linear: slope +1 after lo_d + z_d, back to 0 after hi_d + z_d.
      std::pair<double, int> ev[2 * kMaxDims];
      double sum = 0;
      for (int d = 0; d < n; d++) {
        ev[2 * d] = {lo[d] + z[d], +1};
        ev[2 * d + 1] = {hi[d] + z[d], -1};
        sum += lo[d];
      }
      std::sort(ev, ev + 2 * n);
      mu = ev[0].first;
      int slope = 0;
      for (int i = 0; i < 2 * n && sum < target; i++) {
        const double next = sum + slope * (ev[i].first - mu);
        if (next >= target) { mu += (target - sum) / slope; sum = target; break; }
        sum = next;
        mu = ev[i].first;
        slope += ev[i].second;
      }
    }
    double value = 0;
    for (int d = 0; d < n; d++) {
      const double c = std::min(hi[d], std::max(lo[d], mu - z[d]));
      value += c * (c + 2 * z[d]);
    }
    return value;
  }

  double leafBound(uint64_t s, double& cold) {
    const uint64_t l = setup_.counts.length[s];
    double g, b;
    phiBounds(l, l, g, b);
    return state_.keyBound(s, g, b, hotDim_.data(), &cold);
  }

  double nodeCold(const Node& nd) const { return nd.v == kInf ? kInf : nd.v - nd.rmax * ((double)state_.S - nd.sref); }

  uint64_t searchStep(ScheduleStats& stats) {
    prepareStep();
    const int top = (int)levels_.size() - 1;
    double bestKey = kInf;
    uint64_t bestSeq = UINT64_MAX, bestPos = 0;
    using Item = std::pair<double, uint64_t>;  // bound, (level << 48) | index
    heap_.clear();
    heap_.push_back({nodeBound(levels_[top][0]), (uint64_t)top << 48});
    const auto cmp = [](const Item& a, const Item& b) { return a.first > b.first; };
    const double S = (double)state_.S;
    while (!heap_.empty()) {
      std::pop_heap(heap_.begin(), heap_.end(), cmp);
      const Item it = heap_.back();
      heap_.pop_back();
      if (it.first > bestKey) break;
      const int lv = (int)(it.second >> 48);
      const uint64_t idx = it.second & ((uint64_t(1) << 48) - 1);
      Node& nd = levels_[lv][idx];
      stats.nodesExpanded++;
      double tightened = kInf;
      if (lv == 0) {
        const uint64_t a = idx * F_, b = std::min(M_, a + F_);
        for (uint64_t p = a; p < b; p++) {
          if (dead_[p]) continue;
          const uint64_t s = leafSeq_[p];
          // Cheap double-precision bound first; exact integers only for close calls.
          const double bound = leafBound(s, leafV_[p]);
          leafSref_[p] = S;
          tightened = std::min(tightened, leafV_[p]);
          if (bound > bestKey) continue;
          const double key = state_.key(s);
          stats.leavesEvaluated++;
          if (key < bestKey || (key == bestKey && s < bestSeq)) { bestKey = key; bestSeq = s; bestPos = p; }
        }
      } else {
        const std::vector<Node>& below = levels_[lv - 1];
        const uint64_t a = idx * F_, b = std::min<uint64_t>(below.size(), a + F_);
        for (uint64_t j = a; j < b; j++) {
          const Node& ch = below[j];
          tightened = std::min(tightened, nodeCold(ch));
          const double bound = nodeBound(ch);
          if (bound <= bestKey) {
            heap_.push_back({bound, ((uint64_t)(lv - 1) << 48) | j});
            std::push_heap(heap_.begin(), heap_.end(), cmp);
          }
        }
      }
      nd.v = tightened;
      nd.sref = S;
    }
    if (bestSeq == UINT64_MAX) throw std::logic_error("scheduler search found no candidate");
    return bestPos;
  }

  const ScheduleOptions& opt_;
  ProgressSink* progress_;
  ScheduleSetup setup_;
  ExactState state_;
  uint64_t M_ = 0, live_ = 0;
  uint32_t K_ = 0, B_ = 0, F_ = 16;
  int D_ = 0;
  double invP_ = 0, inv2P2_ = 0;
  std::vector<int> hotDim_;
  std::vector<uint32_t> dimChar_;
  std::vector<uint64_t> leafSeq_, posOf_;
  std::vector<double> leafV_, leafSref_, leafR_;
  std::vector<char> dead_;
  std::vector<std::vector<Node>> levels_;
  std::vector<uint32_t> boxLo_, boxHi_;
  double dimZ0_[kMaxDims] = {0}, dimRate_[kMaxDims] = {0};
  double binLo_[kMaxDims], binHi_[kMaxDims], binZ_[kMaxDims], hotLo_[kMaxDims], hotHi_[kMaxDims], hotZ_[kMaxDims];
  uint64_t phiCacheLo_ = UINT64_MAX, phiCacheHi_ = UINT64_MAX;
  double phiCacheG_ = 0, phiCacheB_ = 0;
  std::vector<std::pair<double, uint64_t>> heap_;
};

}  // namespace

ScheduleResult scheduleTree(const CorpusView& corpus, const ScheduleOptions& opt, ProgressSink* progress) {
  FastScheduler fs(corpus, opt, progress);
  return fs.run();
}

}  // namespace curricula
