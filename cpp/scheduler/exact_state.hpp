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

// Per-step double copies of the deficits (O(K + B) to refresh), so screening a
// candidate costs one lookup and two flops per characteristic.
struct ScreenTable {
  std::vector<double> zg, rg, zb, rb;  // deficit at S and target rate per token
  void refresh(const ExactState& st) {
    fill(st.groups, st.S, zg, rg);
    fill(st.bins, st.S, zb, rb);
  }
  static void fill(const FamilyState& f, uint64_t S, std::vector<double>& z, std::vector<double>& r) {
    const size_t n = f.T.size();
    z.resize(n);
    r.resize(n);
    const double invP = 1.0 / (double)f.P;
    for (size_t k = 0; k < n; k++) {
      z[k] = (double)(f.P * f.T[k] - (*f.rate)[k] * (int64_t)S) * invP;  // exact int64, one rounding
      r[k] = (double)(*f.rate)[k] * invP;
    }
  }
  // Lower bounds on the two family terms of candidate s without Phi (tokens^2),
  // and the rates (per token of prefix) at which they can fall through drift.
  void parts(const ExactState& st, uint64_t s, double& g, double& b, double& rateG, double& rateB) const {
    const SequenceCounts& c = *st.counts;
    const double l = (double)c.length[s];
    double magG = 0, magB = 0;
    g = b = rateG = rateB = 0;
    for (uint64_t i = c.groupOff[s]; i < c.groupOff[s + 1]; i++) {
      const uint32_t k = c.groupId[i];
      const double z = zg[k] - rg[k] * l, n = c.groupCount[i];
      g += n * (n + 2 * z);
      magG += n * (n + 2 * std::fabs(z));
      rateG += 2 * n * rg[k];
    }
    for (uint64_t i = c.binOff[s]; i < c.binOff[s + 1]; i++) {
      const uint32_t k = c.binId[i];
      const double z = zb[k] - rb[k] * l, n = c.binCount[i];
      b += n * (n + 2 * z);
      magB += n * (n + 2 * std::fabs(z));
      rateB += 2 * n * rb[k];
    }
    g -= 1e-10 * magG + 1e-6;
    b -= 1e-10 * magB + 1e-6;
    rateG *= 1 + 1e-12;
    rateB *= 1 + 1e-12;
  }
  // Lower bound on key(s) given lower bounds on both family terms (Phi included).
  static double combine(const ScheduleOptions& o, double g, double b) {
    double r = o.objective == Objective::SumOfSquares ? g + o.lambda * b
                                                      : std::sqrt(std::max(0.0, g)) + o.lambda * std::sqrt(std::max(0.0, b));
    r -= 1e-12 * std::fabs(r);
    return r - kGaussianBound * o.sigma;
  }
};

}  // namespace curricula
