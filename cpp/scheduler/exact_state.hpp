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
#include "scheduler/targets.hpp"

namespace curricula {

// One characteristic family (groups or length bins). Targets come in cells
// (targets.hpp); D_k(S) = P T_k - E_k(S). Running sums over the current cell's
// rates rc and the next cell's rates rn give Phi(S + l) in O(1) for any
// l up to the next cell's width (cells are at least the longest sequence wide).
struct FamilyState {
  const Targets* t = nullptr;
  bool isBins = false;
  uint32_t n = 0;
  int64_t P = 0;
  std::vector<int64_t> T;  // cumulative tokens per characteristic
  size_t cell = 0;
  uint64_t cellStart = 0, nextStart = UINT64_MAX;
  const uint32_t* rc = nullptr;  // rates of the current cell
  const uint32_t* rn = nullptr;  // rates of the next cell (the current one's if last)
  const int64_t* E0 = nullptr;   // targets at the current cell's start
  // With D_k at the current S: sum D^2, sum rc D, sum rc^2, sum rn D, sum rn^2, sum rc rn.
  i128 A = 0, B = 0, C = 0, Bn = 0, Cn = 0, X = 0;

  const uint32_t* rates(size_t g) const {
    return isBins ? t->binRate.data() + g * t->B : t->groupRate.data() + g * t->K;
  }
  const int64_t* bases(size_t g) const {
    return isBins ? t->binBase.data() + g * t->B : t->groupBase.data() + g * t->K;
  }
  const uint32_t* rateMax() const { return isBins ? t->binRateMax.data() : t->groupRateMax.data(); }

  void init(const Targets& targets, bool bins) {
    t = &targets;
    isBins = bins;
    n = bins ? targets.B : targets.K;
    P = targets.P;
    T.assign(n, 0);
    enter(0, 0);
  }
  // Moves to cell g and recomputes the sums at prefix S (O(n); once per cell).
  void enter(size_t g, uint64_t S) {
    cell = g;
    cellStart = t->start[g];
    const bool last = g + 1 >= t->cells();
    nextStart = last ? UINT64_MAX : t->start[g + 1];
    rc = rates(g);
    rn = last ? rc : rates(g + 1);
    E0 = bases(g);
    A = B = C = Bn = Cn = X = 0;
    for (uint32_t k = 0; k < n; k++) {
      const i128 d = deficitAt(k, S);
      A += d * d;
      B += (i128)rc[k] * d;
      C += (i128)rc[k] * rc[k];
      Bn += (i128)rn[k] * d;
      Cn += (i128)rn[k] * rn[k];
      X += (i128)rc[k] * rn[k];
    }
  }
  // D_k at S, for S in the current cell.
  i128 deficitAt(uint32_t k, uint64_t S) const {
    return (i128)P * T[k] - E0[k] - (i128)rc[k] * (i128)(S - cellStart);
  }
  // D_k at S + l.
  i128 deficit(uint32_t k, uint64_t S, uint64_t l) const {
    const uint64_t e = S + l;
    if (e <= nextStart) return deficitAt(k, S) - (i128)rc[k] * (i128)l;
    const uint64_t u = nextStart - S, v = e - nextStart;
    return deficitAt(k, S) - (i128)rc[k] * (i128)u - (i128)rn[k] * (i128)v;
  }
  // sum_k D_k(S + l)^2
  i128 phi(uint64_t S, uint64_t l) const {
    const uint64_t e = S + l;
    if (e <= nextStart) return A - 2 * (i128)l * B + (i128)l * (i128)l * C;
    const i128 u = (i128)(nextStart - S), v = (i128)(e - nextStart);
    return A - 2 * u * B - 2 * v * Bn + u * u * C + 2 * u * v * X + v * v * Cn;
  }
  // min over integer l in [lo, hi] of phi(S, l). phi is a convex quadratic in l
  // on each side of the next cell's start, so the minimum lies at an end or
  // next to a vertex; the few candidates are evaluated exactly.
  i128 phiMin(uint64_t S, uint64_t lo, uint64_t hi) const {
    i128 best = phi(S, lo);
    const auto tryAt = [&](double x, uint64_t a, uint64_t b) {
      if (a > b || !(x == x)) return;
      const double f = std::floor(x);
      for (double c = f - 1; c <= f + 2; c++) {
        const uint64_t l = c <= (double)a ? a : c >= (double)b ? b : (uint64_t)c;
        const i128 v = phi(S, l);
        if (v < best) best = v;
      }
    };
    const i128 atHi = phi(S, hi);
    if (atHi < best) best = atHi;
    const uint64_t u = nextStart == UINT64_MAX ? UINT64_MAX : nextStart - S;
    if (C > 0) tryAt(toDouble(B) / toDouble(C), lo, std::min(hi, u));
    if (u < hi && Cn > 0) tryAt((double)u + (toDouble(Bn) - (double)u * toDouble(X)) / toDouble(Cn), std::max(lo, u), hi);
    return best;
  }
  // Increment of the family term when c tokens of k are added at prefix S + l.
  i128 delta(uint32_t k, uint32_t c, uint64_t S, uint64_t l) const {
    const i128 pc = (i128)P * c;
    return pc * (pc + 2 * deficit(k, S, l));
  }
  // Moves the prefix from S to S + l and adds the sequence's counts.
  void advance(uint64_t S, uint64_t l, const uint32_t* ids, const uint32_t* counts, uint64_t m) {
    const uint64_t e = S + l;
    if (e >= nextStart) {
      for (uint64_t i = 0; i < m; i++) T[ids[i]] += counts[i];
      size_t g = cell;
      while (g + 1 < t->cells() && t->start[g + 1] <= e) g++;
      enter(g, e);
      return;
    }
    A = phi(S, l);
    B -= (i128)l * C;
    Bn -= (i128)l * X;
    for (uint64_t i = 0; i < m; i++) {
      const uint32_t k = ids[i];
      const i128 d = deficit(k, S, l);
      const i128 pc = (i128)P * counts[i];
      A += pc * (pc + 2 * d);
      B += (i128)rc[k] * pc;
      Bn += (i128)rn[k] * pc;
      T[k] += counts[i];
    }
  }
};

struct ExactState {
  const Targets* targets;
  const SequenceCounts* counts;
  const ScheduleOptions* opt;
  FamilyState groups, bins;
  uint64_t S = 0;
  uint64_t step = 0;
  double scaleKey = 0;  // 2^-2bits (sos) or 2^-bits (norm): keys in tokens^2 or tokens

  ExactState(const Targets& t, const SequenceCounts& c, const ScheduleOptions& o)
      : targets(&t), counts(&c), opt(&o) {
    groups.init(t, false);
    bins.init(t, true);
    scaleKey = opt->objective == Objective::SumOfSquares ? std::ldexp(1.0, -2 * t.bits) : std::ldexp(1.0, -t.bits);
  }

  i128 groupTerm(uint64_t s) const {
    const uint64_t l = counts->length[s];
    i128 g = groups.phi(S, l);
    for (uint64_t i = counts->groupOff[s]; i < counts->groupOff[s + 1]; i++)
      g += groups.delta(counts->groupId[i], counts->groupCount[i], S, l);
    return g;
  }
  i128 binTerm(uint64_t s) const {
    const uint64_t l = counts->length[s];
    i128 b = bins.phi(S, l);
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
    return toDouble(f.phi(S, l)) * std::ldexp(1.0, -2 * targets->bits);
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

// Deficits in double precision for bounds. Bins (few) are copied every step;
// a group's deficit is computed on demand in O(1), so a step costs O(B), not O(K).
// Rates (largest fall per token over the next cell, and over all cells) change
// only between cells.
struct ScreenTable {
  std::vector<double> rg, ag, zb, rb, ab;
  size_t cellG = SIZE_MAX, cellB = SIZE_MAX;  // the cells the rates were filled for
  // On-demand group deficits: (P T_k - E0_k - rc_k dS) / P.
  const int64_t* gT = nullptr;
  const int64_t* gE0 = nullptr;
  const uint32_t* grc = nullptr;
  int64_t gP = 1, gdS = 0;
  double ginvP = 1;

  void refresh(const ExactState& st) {
    rates(st.groups, rg, ag, cellG);
    rates(st.bins, rb, ab, cellB);
    const FamilyState& g = st.groups;
    gT = g.T.data();
    gE0 = g.E0;
    grc = g.rc;
    gP = g.P;
    gdS = (int64_t)(st.S - g.cellStart);
    ginvP = 1.0 / (double)g.P;
    const FamilyState& b = st.bins;
    zb.resize(b.n);
    const int64_t dS = (int64_t)(st.S - b.cellStart);
    const double invP = 1.0 / (double)b.P;
    for (uint32_t k = 0; k < b.n; k++) zb[k] = (double)(b.P * b.T[k] - b.E0[k] - (int64_t)b.rc[k] * dS) * invP;
  }
  // |P T - E0| and rc (S - start) are below 2^62, so this is exact in int64 with one rounding.
  double zg(uint32_t k) const { return (double)(gP * gT[k] - gE0[k] - (int64_t)grc[k] * gdS) * ginvP; }

  static void rates(const FamilyState& f, std::vector<double>& r, std::vector<double>& a, size_t& cell) {
    const size_t n = f.T.size();
    if (cell == f.cell && r.size() == n) return;
    const double invP = 1.0 / (double)f.P;
    r.resize(n);
    a.resize(n);
    const uint32_t* rmax = f.rateMax();
    for (size_t k = 0; k < n; k++) {
      r[k] = (double)std::max(f.rc[k], f.rn[k]) * invP;
      a[k] = (double)rmax[k] * invP;
    }
    cell = f.cell;
  }
  // Lower bound on the family-term increment n (n + 2 z) of one characteristic at
  // S + l, and its magnitude (for the rounding margin).
  static void term(double n, double z, double r, double l, double& sum, double& mag) {
    const double zz = z - r * l;
    sum += n * (n + 2 * zz);
    mag += n * (n + 2 * std::fabs(zz));
  }
  // Lower bound on the bin term of candidate s without Phi (tokens^2).
  double binPart(const ExactState& st, uint64_t s) const {
    const SequenceCounts& c = *st.counts;
    const double l = (double)c.length[s];
    double b = 0, mag = 0;
    for (uint64_t i = c.binOff[s]; i < c.binOff[s + 1]; i++) {
      const uint32_t k = c.binId[i];
      term(c.binCount[i], zb[k], rb[k], l, b, mag);
    }
    return b - (1e-10 * mag + 1e-6);
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
