// Dense layout, per-step weights and the check; see candidate_table.hpp.
#include "scheduler/candidate_table.hpp"

#include <algorithm>
#include <cmath>

namespace curricula {

namespace {

// Groups whose targets move fastest get slots (see the header).
constexpr uint32_t kHotGroups = 32;
constexpr size_t kMaxBuckets = 64;
constexpr size_t kBlock = 256;
// Removed positions keep this cold bound: finite (so no inf - inf) and far above any key.
constexpr double kDead = 1e300;

}  // namespace

CandidateTable::CandidateTable(const ExactState& st, const ScreenTable& screen, const std::vector<uint64_t>& live)
    : st_(&st) {
  const SequenceCounts& c = *st.counts;
  const uint32_t K = st.targets->K;
  B_ = st.targets->B;
  hotOf_.assign(K, -1);
  {
    std::vector<uint32_t> order(K);
    for (uint32_t k = 0; k < K; k++) order[k] = k;
    const uint32_t* rmax = st.targets->groupRateMax.data();
    const uint32_t H = std::min<uint32_t>(kHotGroups, K);
    std::partial_sort(order.begin(), order.begin() + H, order.end(),
                      [&](uint32_t a, uint32_t b) { return rmax[a] > rmax[b] || (rmax[a] == rmax[b] && a < b); });
    for (uint32_t h = 0; h < H && rmax[order[h]] > 0; h++) {
      hotOf_[order[h]] = (int32_t)hotIds_.size();
      hotIds_.push_back(order[h]);
    }
  }
  H_ = (uint32_t)hotIds_.size();
  nW_ = B_ + H_ + 1;
  const uint64_t M = c.length.size();
  posOf_.assign(M, UINT64_MAX);
  // Which candidates fit: dense bins, counts below 2^16.
  std::vector<uint64_t> fit;
  fit.reserve(live.size());
  for (uint64_t s : live) {
    bool ok = B_ <= kMaxDenseBins;
    for (uint64_t j = c.binOff[s]; ok && j < c.binOff[s + 1]; j++) ok = c.binCount[j] <= 65535;
    if (ok) {
      fit.push_back(s);
      continue;
    }
    posOf_[s] = kGeneral | general_.size();
    general_.push_back({s, 0, 0, 0, 0, 0});
    refreshGeneral(general_.back(), screen);
  }
  // Length buckets.
  {
    std::vector<uint32_t> lengths;
    lengths.reserve(fit.size());
    for (uint64_t s : fit) lengths.push_back((uint32_t)c.length[s]);
    std::sort(lengths.begin(), lengths.end());
    std::vector<uint32_t> distinct = lengths;
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    if (distinct.size() <= kMaxBuckets) {
      bucketLo_ = bucketHi_ = distinct;
    } else {  // quantile ranges of the candidates' lengths
      size_t i = 0;
      while (i < lengths.size()) {
        size_t j = std::min(lengths.size(), i + std::max<size_t>(1, lengths.size() / kMaxBuckets)) - 1;
        while (j + 1 < lengths.size() && lengths[j + 1] == lengths[j]) j++;
        bucketLo_.push_back(lengths[i]);
        bucketHi_.push_back(lengths[j]);
        i = j + 1;
      }
    }
  }
  const auto bucketOf = [&](uint64_t s) {
    const uint32_t l = (uint32_t)c.length[s];
    return (size_t)(std::lower_bound(bucketHi_.begin(), bucketHi_.end(), l) - bucketHi_.begin());
  };
  // Positions grouped by bucket, then by bin set (so a block of the scan touches
  // few bins and skips the others), then index.
  const auto maskOf = [&](uint64_t s) {
    uint32_t m = 0;
    for (uint64_t j = c.binOff[s]; j < c.binOff[s + 1]; j++) m |= 1u << c.binId[j];
    return m;
  };
  {
    std::vector<std::pair<std::pair<size_t, uint32_t>, uint64_t>> keyed;
    keyed.reserve(fit.size());
    for (uint64_t s : fit) keyed.push_back({{bucketOf(s), maskOf(s)}, s});
    std::sort(keyed.begin(), keyed.end());
    for (size_t i = 0; i < keyed.size(); i++) fit[i] = keyed[i].second;
  }
  bucketStart_.assign(bucketLo_.size() + 1, 0);
  for (uint64_t s : fit) bucketStart_[bucketOf(s) + 1]++;
  for (size_t b = 0; b < bucketLo_.size(); b++) bucketStart_[b + 1] += bucketStart_[b];
  cap_ = fit.size();
  seq_ = fit;
  binMask_.assign(cap_, 0);
  for (size_t i = 0; i < cap_; i++) binMask_[i] = maskOf(seq_[i]);
  binCnt_.assign((size_t)B_ * cap_, 0);
  hotIdx_.assign((size_t)kHotSlots * cap_, (uint16_t)(nW_ - 1));
  hotCnt_.assign((size_t)kHotSlots * cap_, 0);
  sqG_.assign(cap_, 0);
  sqB_.assign(cap_, 0);
  coldAt0_.assign(cap_, 0);
  coldRate_.assign(cap_, 0);
  std::vector<std::pair<uint32_t, uint32_t>> hot;
  for (size_t i = 0; i < cap_; i++) {
    const uint64_t s = seq_[i];
    posOf_[s] = i;
    float sb = 0, sg = 0;
    for (uint64_t j = c.binOff[s]; j < c.binOff[s + 1]; j++) {
      binCnt_[(size_t)c.binId[j] * cap_ + i] = (uint16_t)c.binCount[j];
      sb += (float)c.binCount[j] * (float)c.binCount[j];
    }
    // The two largest hot groups get slots; any others stay with the cold part.
    hot.clear();
    for (uint64_t j = c.groupOff[s]; j < c.groupOff[s + 1]; j++)
      if (hotOf_[c.groupId[j]] >= 0 && c.groupCount[j] <= 65535) hot.push_back({c.groupCount[j], c.groupId[j]});
    std::sort(hot.begin(), hot.end(),
              [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    for (size_t h = 0; h < hot.size() && h < (size_t)kHotSlots; h++) {
      hotIdx_[h * cap_ + i] = (uint16_t)(B_ + hotOf_[hot[h].second]);
      hotCnt_[h * cap_ + i] = (uint16_t)hot[h].first;
      sg += (float)hot[h].first * (float)hot[h].first;
    }
    sqG_[i] = sg;
    sqB_[i] = sb;
    refresh(i, screen);
  }
  W_.assign(bucketLo_.size() * nW_, 0.f);
  constG_.assign(bucketLo_.size(), 0);
  constB_.assign(bucketLo_.size(), 0);
}

// Re-bounds position i at the current prefix in double precision: the cold part
// (groups without a slot) with its fall rate, and the hot-slot and bin parts at
// the exact length.
CandidateTable::Rebound CandidateTable::refresh(size_t i, const ScreenTable& screen) {
  const SequenceCounts& c = *st_->counts;
  const uint64_t s = seq_[i];
  const double l = (double)c.length[s];
  const uint16_t hot0 = hotIdx_[i], hot1 = hotIdx_[cap_ + i];
  double cold = 0, coldMag = 0, rate = 0, hot = 0, hotMag = 0;
  for (uint64_t j = c.groupOff[s]; j < c.groupOff[s + 1]; j++) {
    const uint32_t k = c.groupId[j];
    const double n = c.groupCount[j];
    const int32_t h = hotOf_[k];
    if (h >= 0 && (hot0 == B_ + (uint32_t)h || hot1 == B_ + (uint32_t)h)) {
      ScreenTable::term(n, screen.zg(k), screen.rg[k], l, hot, hotMag);
      continue;
    }
    ScreenTable::term(n, screen.zg(k), screen.rg[k], l, cold, coldMag);
    rate += 2 * n * screen.ag[k];
  }
  cold -= 1e-10 * coldMag + 1e-6;
  rate *= 1 + 1e-12;
  coldRate_[i] = rate;
  // Stored as the value it would have at prefix 0, so the check needs no
  // reference prefix; the rounding of coldAt0 - rate S is in the check's margin.
  coldAt0_[i] = cold + rate * (double)st_->S;
  // The cold part as computed, not coldAt0 - rate S, whose rounding is not in these margins.
  return {cold, hot - (1e-10 * hotMag + 1e-6), screen.binPart(*st_, s)};
}

void CandidateTable::refreshGeneral(General& gen, const ScreenTable& screen) const {
  const SequenceCounts& c = *st_->counts;
  const uint64_t s = gen.seq;
  const double l = (double)c.length[s];
  double g = 0, mag = 0, rate = 0;
  for (uint64_t j = c.groupOff[s]; j < c.groupOff[s + 1]; j++) {
    const uint32_t k = c.groupId[j];
    ScreenTable::term(c.groupCount[j], screen.zg(k), screen.rg[k], l, g, mag);
    rate += 2 * (double)c.groupCount[j] * screen.ag[k];
  }
  gen.restG = g - (1e-10 * mag + 1e-6);
  gen.rateG = rate * (1 + 1e-12);
  gen.restB = screen.binPart(*st_, s);
  rate = 0;
  for (uint64_t j = c.binOff[s]; j < c.binOff[s + 1]; j++) rate += 2 * (double)c.binCount[j] * screen.ab[c.binId[j]];
  gen.rateB = rate * (1 + 1e-12);
  gen.sref = (double)st_->S;
}

void CandidateTable::prepareStep(const ExactState& st, const ScreenTable& screen) {
  S_ = (double)st.S;
  const double scale = std::ldexp(1.0, -2 * st.targets->bits);
  for (size_t b = 0; b < bucketLo_.size(); b++) {
    const uint32_t lo = bucketLo_[b], hi = bucketHi_[b];
    double g = toDouble(lo == hi ? st.groups.phi(st.S, lo) : st.groups.phiMin(st.S, lo, hi)) * scale;
    double p = toDouble(lo == hi ? st.bins.phi(st.S, lo) : st.bins.phiMin(st.S, lo, hi)) * scale;
    g -= 1e-12 * std::fabs(g);
    p -= 1e-12 * std::fabs(p);
    // z - r l_hi <= z - r l for every length l in the bucket, and counts are >= 0.
    float* w = &W_[b * nW_];
    double wmaxB = 0, wmaxG = 0;
    for (uint32_t k = 0; k < B_; k++) {
      const double v = 2 * (screen.zb[k] - screen.rb[k] * hi);
      w[k] = (float)v;
      wmaxB = std::max(wmaxB, std::fabs(v));
    }
    for (uint32_t h = 0; h < H_; h++) {
      const uint32_t k = hotIds_[h];
      const double v = 2 * (screen.zg(k) - screen.rg[k] * hi);
      w[B_ + h] = (float)v;
      wmaxG = std::max(wmaxG, std::fabs(v));
    }
    w[nW_ - 1] = 0.f;
    // Single-precision error of sq + sum n w: w rounded once, each product and
    // each of at most 33 sums once, 2^-24 each, so below (33 + 2) 2^-24 < 4e-6 of
    // sq + sum n |w| <= hi^2 + hi max|w| (counts sum to at most hi).
    const double h = hi;
    constG_[b] = g - (4e-6 * (h * h + h * wmaxG) + 1e-3);
    constB_[b] = p - (4e-6 * (h * h + h * wmaxB) + 1e-3);
  }
}

namespace {

struct BlockInput {
  const uint16_t *binCnt, *hotIdx, *hotCnt;
  const uint32_t* binMask;
  const float *sqG, *sqB;
  const double *coldAt0, *coldRate;
  const float* w;          // this bucket's weights
  double constG, constB;   // this bucket's Phi bounds minus the margin
  uint32_t B;
  size_t cap;
  double S, lambda, noise;
  bool sos;
};

// Lower bounds for positions [b0, b1) of one bucket: the bin and hot-slot parts
// in single precision, the cold part from its lazy bound. Branch-free streams,
// so it vectorises.
template <bool Sos>
__attribute__((always_inline)) inline void blockBoundsImpl(const BlockInput& in, size_t b0, size_t b1, double* out) {
  const size_t n = b1 - b0;
  float bf[kBlock], gf[kBlock];
  for (size_t i = 0; i < n; i++) {
    bf[i] = in.sqB[b0 + i];
    gf[i] = in.sqG[b0 + i];
  }
  uint32_t present = 0;  // bins used anywhere in the block
  for (size_t i = 0; i < n; i++) present |= in.binMask[b0 + i];
  for (uint32_t b = 0; b < in.B; b++) {
    if (!(present >> b & 1u)) continue;
    const uint16_t* __restrict ct = in.binCnt + (size_t)b * in.cap + b0;
    const float wb = in.w[b];
    for (size_t i = 0; i < n; i++) bf[i] += (float)ct[i] * wb;
  }
  for (int k = 0; k < CandidateTable::kHotSlots; k++) {
    const uint16_t* __restrict ix = in.hotIdx + (size_t)k * in.cap + b0;
    const uint16_t* __restrict ct = in.hotCnt + (size_t)k * in.cap + b0;
    for (size_t i = 0; i < n; i++) gf[i] += (float)ct[i] * in.w[ix[i]];
  }
  const double* __restrict c0p = in.coldAt0 + b0;
  const double* __restrict rp = in.coldRate + b0;
  double* __restrict o = out;
  const double S = in.S, lambda = in.lambda, noise = in.noise, cg = in.constG, cb = in.constB;
  for (size_t i = 0; i < n; i++) {
    const double c0 = c0p[i], rS = rp[i] * S;
    // The rounding of coldAt0 - rate S is below 1e-15 of the operands.
    const double cold = c0 - rS - 1e-12 * (std::fabs(c0) + rS);
    const double g = cg + cold + (double)gf[i];
    const double v = cb + (double)bf[i];
    const double lb = Sos ? g + lambda * v : std::sqrt(std::max(0.0, g)) + lambda * std::sqrt(std::max(0.0, v));
    o[i] = lb - (1e-12 * std::fabs(lb) + noise);
  }
}

__attribute__((target("avx2"))) void blockBoundsAvx2(const BlockInput& in, size_t b0, size_t b1, double* out) {
  if (in.sos) blockBoundsImpl<true>(in, b0, b1, out);
  else blockBoundsImpl<false>(in, b0, b1, out);
}
void blockBoundsBase(const BlockInput& in, size_t b0, size_t b1, double* out) {
  if (in.sos) blockBoundsImpl<true>(in, b0, b1, out);
  else blockBoundsImpl<false>(in, b0, b1, out);
}
void blockBounds(const BlockInput& in, size_t b0, size_t b1, double* out) {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) blockBoundsAvx2(in, b0, b1, out);
  else blockBoundsBase(in, b0, b1, out);
}

}  // namespace

void CandidateTable::scan(size_t begin, size_t end, bool withGeneral, const ExactState& st, const ScreenTable& screen,
                          const BestSoFar& start, BestSoFar& out, ScanCounters& counters) {
  const ScheduleOptions& o = *st.opt;
  const SequenceCounts& c = *st.counts;
  out = start;
  out.runnersUp.clear();
  uint64_t cachedLen = UINT64_MAX;
  double phiGl = 0, phiBl = 0;
  const double scale = std::ldexp(1.0, -2 * st.targets->bits);
  const auto exactPhi = [&](uint64_t l) {
    if (l == cachedLen) return;
    cachedLen = l;
    phiGl = toDouble(st.groups.phi(st.S, l)) * scale;
    phiGl -= 1e-12 * std::fabs(phiGl);
    phiBl = toDouble(st.bins.phi(st.S, l)) * scale;
    phiBl -= 1e-12 * std::fabs(phiBl);
  };
  const auto consider = [&](uint64_t s) {
    if (s == start.seq) return;  // the hint that set the bar
    counters.exactScores++;
    out.consider(s, st.key(s));
  };
  BlockInput in{binCnt_.data(), hotIdx_.data(), hotCnt_.data(), binMask_.data(), sqG_.data(), sqB_.data(), coldAt0_.data(),
                coldRate_.data(), nullptr, 0, 0, B_, cap_, S_, o.lambda, kGaussianBound * o.sigma,
                o.objective == Objective::SumOfSquares};
  double lbs[kBlock];
  for (size_t bk = 0; bk + 1 < bucketStart_.size(); bk++) {
    const size_t r0 = std::max(begin, bucketStart_[bk]), r1 = std::min(end, bucketStart_[bk + 1]);
    if (r0 >= r1) continue;
    in.w = &W_[bk * nW_];
    in.constG = constG_[bk];
    in.constB = constB_[bk];
    for (size_t b0 = r0; b0 < r1; b0 += kBlock) {
      const size_t b1 = std::min(r1, b0 + kBlock);
      blockBounds(in, b0, b1, lbs);
      for (size_t i = b0; i < b1; i++) {
        if (!(lbs[i - b0] <= out.key)) continue;
        const uint64_t s = seq_[i];
        if (posOf_[s] != i) continue;  // removed
        // Re-bound in double at the exact length, refreshing the cold part.
        counters.boundRefreshes++;
        const Rebound r = refresh(i, screen);
        exactPhi(c.length[s]);
        if (ScreenTable::combine(o, phiGl + r.cold + r.hot, phiBl + r.bin) > out.key) continue;
        consider(s);
      }
    }
  }
  if (!withGeneral) return;
  for (General& gen : general_) {
    if (gen.seq == UINT64_MAX) continue;  // removed
    const uint64_t s = gen.seq;
    exactPhi(c.length[s]);
    const double dS = S_ - gen.sref;
    if (ScreenTable::combine(o, phiGl + gen.restG - gen.rateG * dS, phiBl + gen.restB - gen.rateB * dS) > out.key)
      continue;
    counters.boundRefreshes++;
    refreshGeneral(gen, screen);
    if (ScreenTable::combine(o, phiGl + gen.restG, phiBl + gen.restB) > out.key) continue;
    consider(s);
  }
}

void CandidateTable::remove(uint64_t s) {
  const uint64_t i = posOf_[s];
  if (i == UINT64_MAX) return;
  posOf_[s] = UINT64_MAX;
  if (i & kGeneral) {
    general_[i & ~kGeneral].seq = UINT64_MAX;
    return;
  }
  coldAt0_[i] = kDead;
  coldRate_[i] = 0;
  if (++dead_ > seq_.size() / 8 + 64) compact();
}

// Drops removed positions, keeping the order (and so the bucket runs).
void CandidateTable::compact() {
  std::vector<size_t> newStart(bucketStart_.size(), 0);
  size_t w = 0, bk = 0;
  for (size_t i = 0; i < seq_.size(); i++) {
    while (i >= bucketStart_[bk + 1]) newStart[++bk] = w;
    if (posOf_[seq_[i]] != i) continue;
    if (w != i) {
      seq_[w] = seq_[i];
      coldAt0_[w] = coldAt0_[i];
      coldRate_[w] = coldRate_[i];
      sqG_[w] = sqG_[i];
      sqB_[w] = sqB_[i];
      binMask_[w] = binMask_[i];
      for (uint32_t b = 0; b < B_; b++) binCnt_[(size_t)b * cap_ + w] = binCnt_[(size_t)b * cap_ + i];
      for (int k = 0; k < kHotSlots; k++) {
        hotIdx_[k * cap_ + w] = hotIdx_[k * cap_ + i];
        hotCnt_[k * cap_ + w] = hotCnt_[k * cap_ + i];
      }
      posOf_[seq_[w]] = w;
    }
    w++;
  }
  while (bk + 1 < bucketStart_.size()) newStart[++bk] = w;
  bucketStart_ = newStart;
  seq_.resize(w);
  coldAt0_.resize(w);
  coldRate_.resize(w);
  sqG_.resize(w);
  sqB_.resize(w);
  binMask_.resize(w);
  dead_ = 0;
}

}  // namespace curricula
