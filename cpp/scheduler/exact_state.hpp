// Exact scheduler state shared by the fast and brute-force searches: cumulative
// counts T_k, U_b, the prefix length S, and the running sums that give
// Phi(S + l) = sum_k (P T_k - t_k (S + l))^2 in O(1) for any length l.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "common/rng.hpp"
#include "scheduler/scheduler.hpp"

namespace curricula {

// One characteristic family (groups or length bins) with integer targets.
struct FamilyState {
  const std::vector<int64_t>* rate = nullptr;  // targets t_k, sum P
  int64_t P = 0;
  std::vector<int64_t> T;  // cumulative tokens per characteristic
  i128 A = 0, B = 0, C = 0;  // sum D^2, sum t D, sum t^2 with D_k = P T_k - t_k S

  void init(const std::vector<int64_t>& t, int64_t p) {
    rate = &t;
    P = p;
    T.assign(t.size(), 0);
    A = B = 0;
    C = 0;
    for (int64_t x : t) C += (i128)x * x;
  }
  // sum_k (P T_k - t_k (S + l))^2
  i128 phi(uint64_t l) const { return A - 2 * (i128)l * B + (i128)l * (i128)l * C; }
  // D_k at prefix length S + l.
  i128 deficit(uint32_t k, uint64_t S, uint64_t l) const {
    return (i128)P * T[k] - (i128)(*rate)[k] * (i128)(S + l);
  }
  // Increment of the family term when c tokens of k are added at prefix S + l.
  i128 delta(uint32_t k, uint32_t c, uint64_t S, uint64_t l) const {
    const i128 pc = (i128)P * c;
    return pc * (pc + 2 * deficit(k, S, l));
  }
  // Moves the prefix from S to S + l and adds the sequence's counts.
  void advance(uint64_t S, uint64_t l, const uint32_t* ids, const uint32_t* counts, uint64_t n) {
    A = phi(l);
    B -= (i128)l * C;
    for (uint64_t i = 0; i < n; i++) {
      const uint32_t k = ids[i];
      const i128 d = deficit(k, S, l);
      const i128 pc = (i128)P * counts[i];
      A += pc * (pc + 2 * d);
      B += (i128)(*rate)[k] * pc;
      T[k] += counts[i];
    }
  }
};

struct ExactState {
  const FixedTargets* targets;
  const SequenceCounts* counts;
  const ScheduleOptions* opt;
  FamilyState groups, bins;
  uint64_t S = 0;
  uint64_t step = 0;
  double scaleKey = 0;  // 2^-2bits (sos) or 2^-bits (norm): keys in tokens^2 or tokens

  ExactState(const FixedTargets& t, const SequenceCounts& c, const ScheduleOptions& o)
      : targets(&t), counts(&c), opt(&o) {
    groups.init(t.group, t.P);
    bins.init(t.bin, t.P);
    scaleKey = opt->objective == Objective::SumOfSquares ? std::ldexp(1.0, -2 * t.bits) : std::ldexp(1.0, -t.bits);
  }

  i128 groupTerm(uint64_t s) const {
    const uint64_t l = counts->length[s];
    i128 g = groups.phi(l);
    for (uint64_t i = counts->groupOff[s]; i < counts->groupOff[s + 1]; i++)
      g += groups.delta(counts->groupId[i], counts->groupCount[i], S, l);
    return g;
  }
  i128 binTerm(uint64_t s) const {
    const uint64_t l = counts->length[s];
    i128 b = bins.phi(l);
    for (uint64_t i = counts->binOff[s]; i < counts->binOff[s + 1]; i++)
      b += bins.delta(counts->binId[i], counts->binCount[i], S, l);
    return b;
  }
  // The canonical score; the test suite's reference computes exactly these operations.
  double combine(i128 g, i128 b) const {
    if (opt->objective == Objective::SumOfSquares) return (toDouble(g) + opt->lambda * toDouble(b)) * scaleKey;
    return (std::sqrt(toDouble(g)) + opt->lambda * std::sqrt(toDouble(b))) * scaleKey;
  }
  double key(uint64_t s) const {
    double k = combine(groupTerm(s), binTerm(s));
    if (opt->sigma > 0) k += opt->sigma * scheduleNoise(opt->seed, step, s);
    return k;
  }
  // A lower bound on key(s) from double arithmetic with safety margins, cheap
  // enough to screen every candidate before the exact integer score. When
  // hotDim is given, also returns the part of the group term from groups k with
  // hotDim[k] < 0 (a lower bound, in tokens^2).
  double keyBound(uint64_t s, double phiG, double phiB, const int* hotDim, double* cold) const {
    const uint64_t l = counts->length[s];
    const int64_t P = targets->P;
    const int64_t at = (int64_t)(S + l);
    const double invP = 1.0 / (double)P;
    double g = phiG, b = phiB, magG = std::fabs(phiG), magB = std::fabs(phiB), coldSum = 0;
    for (uint64_t i = counts->groupOff[s]; i < counts->groupOff[s + 1]; i++) {
      const uint32_t k = counts->groupId[i];
      // P T_k - t_k (S + l) is exact in int64 because 2 P S_total < 2^62.
      const double z = (double)(P * groups.T[k] - targets->group[k] * at) * invP;
      const double c = counts->groupCount[i];
      const double t = c * (c + 2 * z);
      g += t;
      magG += c * (c + 2 * std::fabs(z));
      if (hotDim && hotDim[k] < 0) coldSum += t;
    }
    for (uint64_t i = counts->binOff[s]; i < counts->binOff[s + 1]; i++) {
      const uint32_t k = counts->binId[i];
      const double z = (double)(P * bins.T[k] - targets->bin[k] * at) * invP;
      const double c = counts->binCount[i];
      b += c * (c + 2 * z);
      magB += c * (c + 2 * std::fabs(z));
    }
    if (cold) *cold = coldSum - 1e-10 * magG;
    g -= 1e-10 * magG + 1e-6;
    b -= 1e-10 * magB + 1e-6;
    double r = opt->objective == Objective::SumOfSquares ? g + opt->lambda * b
                                                         : std::sqrt(std::max(0.0, g)) + opt->lambda * std::sqrt(std::max(0.0, b));
    r -= 1e-12 * std::fabs(r);
    return r - kGaussianBound * opt->sigma;
  }
  double phiDouble(const FamilyState& f, uint64_t l) const {
    return toDouble(f.phi(l)) * std::ldexp(1.0, -2 * targets->bits);
  }

  void apply(uint64_t s) {
    const uint64_t l = counts->length[s];
    const uint64_t g0 = counts->groupOff[s], b0 = counts->binOff[s];
    groups.advance(S, l, &counts->groupId[g0], &counts->groupCount[g0], counts->groupOff[s + 1] - g0);
    bins.advance(S, l, &counts->binId[b0], &counts->binCount[b0], counts->binOff[s + 1] - b0);
    S += l;
    step++;
  }
};

}  // namespace curricula
