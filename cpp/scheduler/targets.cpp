#include "scheduler/targets.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "scheduler/fixed_point.hpp"

namespace curricula {

namespace {

std::string num(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

// kappa_{b|j}: group j's tokens by length bin (the global shares for an empty group).
std::vector<long double> binSharesByGroup(const SequenceCounts& counts, uint32_t K, uint32_t B) {
  std::vector<long double> kappa((size_t)K * B);
  for (uint32_t j = 0; j < K; j++)
    for (uint32_t b = 0; b < B; b++)
      kappa[(size_t)j * B + b] =
          counts.groupTokens[j] > 0
              ? (long double)counts.groupBinTokens[(size_t)j * B + b] / (long double)counts.groupTokens[j]
              : (long double)counts.binTokens[b] / (long double)counts.totalTokens;
  return kappa;
}

void finishMax(Targets& t) {
  t.groupRateMax.assign(t.K, 0);
  t.binRateMax.assign(t.B, 0);
  for (size_t g = 0; g < t.cells(); g++) {
    for (uint32_t k = 0; k < t.K; k++) t.groupRateMax[k] = std::max(t.groupRateMax[k], t.groupRate[g * t.K + k]);
    for (uint32_t b = 0; b < t.B; b++) t.binRateMax[b] = std::max(t.binRateMax[b], t.binRate[g * t.B + b]);
  }
}

std::vector<uint32_t> toRates(const std::vector<int64_t>& q) { return std::vector<uint32_t>(q.begin(), q.end()); }

}  // namespace

Targets buildFixedTargets(const SequenceCounts& counts, const std::vector<double>& mixture, uint32_t K, uint32_t B) {
  Targets t;
  t.K = K;
  t.B = B;
  t.bits = chooseFixedPointBits(counts.totalTokens);
  t.P = int64_t(1) << t.bits;
  t.start = {0};
  t.groupRate = toRates(quantizeWeights(mixture, t.bits));
  // U*_b = sum_j tau_j kappa_{b|j}: length targets consistent with the group mixture.
  const std::vector<long double> kappa = binSharesByGroup(counts, K, B);
  std::vector<long double> acc(B, 0.0L);
  for (uint32_t j = 0; j < K; j++)
    if (mixture[j] != 0)
      for (uint32_t b = 0; b < B; b++) acc[b] += (long double)mixture[j] * kappa[(size_t)j * B + b];
  std::vector<double> binWeights(B);
  for (uint32_t b = 0; b < B; b++) binWeights[b] = (double)acc[b];
  t.binRate = toRates(quantizeWeights(binWeights, t.bits));
  t.groupBase.assign(K, 0);
  t.binBase.assign(B, 0);
  finishMax(t);
  return t;
}

Targets buildTableTargets(const SequenceCounts& counts, const TargetTable& table, uint32_t K, uint32_t B,
                          uint64_t neededTokens) {
  const auto bad = [](const std::string& m) { return std::invalid_argument(m); };
  const std::vector<double>& x = table.tokens;
  const size_t G = x.size();
  if (G < 2) throw bad("targets.tokens must have at least 2 grid points but has " + std::to_string(G));
  if (table.cumulative.size() != G * K)
    throw bad("targets.cumulative must have tokens.length x numGroups = " + std::to_string(G * K) +
              " entries but has " + std::to_string(table.cumulative.size()));
  for (size_t g = 0; g < G; g++) {
    if (!std::isfinite(x[g]) || x[g] < 0 || x[g] != std::floor(x[g]) || x[g] > 9007199254740992.0)
      throw bad("targets.tokens[" + std::to_string(g) + "] must be a non-negative integer but is " + num(x[g]));
    if (g == 0 && x[0] != 0) throw bad("targets.tokens[0] must be 0 but is " + num(x[0]));
    if (g > 0 && !(x[g] > x[g - 1]))
      throw bad("targets.tokens must be strictly increasing but tokens[" + std::to_string(g) + "] = " + num(x[g]) +
                " follows " + num(x[g - 1]));
  }
  if (x[G - 1] < (double)neededTokens)
    throw bad("targets.tokens ends at " + num(x[G - 1]) + " tokens but the schedule reaches " +
              std::to_string(neededTokens) + " tokens");
  for (size_t g = 0; g < G; g++) {
    long double row = 0;
    for (uint32_t k = 0; k < K; k++) {
      const size_t i = g * K + k;
      const double e = table.cumulative[i];
      if (!std::isfinite(e) || e < 0)
        throw bad("targets.cumulative[" + std::to_string(i) + "] must be finite and >= 0 but is " + num(e));
      if (g > 0 && e < table.cumulative[i - K] - 1e-9 * std::max(1.0, x[g]))
        throw bad("targets.cumulative must be non-decreasing in tokens, but group " + std::to_string(k) +
                  " falls from " + num(table.cumulative[i - K]) + " to " + num(e) + " at tokens[" + std::to_string(g) +
                  "]");
      row += e;
    }
    if (std::fabs((double)row - x[g]) > 1e-6 * std::max(1.0, x[g]))
      throw bad("targets.cumulative row " + std::to_string(g) + " sums to " + num((double)row) +
                " but must equal tokens[" + std::to_string(g) + "] = " + num(x[g]));
  }
  uint64_t maxLen = 1;
  for (uint64_t l : counts.length) maxLen = std::max(maxLen, l);

  // Grid points past the first one that covers the schedule are never reached.
  size_t last = 1;
  while (x[last] < (double)neededTokens) last++;
  // Keep grid points so that every cell but the last is at least maxLen wide.
  std::vector<size_t> kept = {0};
  for (size_t g = 1; g <= last; g++)
    if (x[g] - x[kept.back()] >= (double)maxLen || g == last) kept.push_back(g);

  Targets t;
  t.K = K;
  t.B = B;
  t.bits = chooseFixedPointBits(std::max<uint64_t>(counts.totalTokens, (uint64_t)x[last]));
  t.P = int64_t(1) << t.bits;
  // kappa_{b|j} as sparse rows: most groups touch few length bins.
  const std::vector<long double> kappaDense = binSharesByGroup(counts, K, B);
  std::vector<uint32_t> kOff(K + 1, 0), kBin;
  std::vector<double> kVal;
  for (uint32_t j = 0; j < K; j++) {
    for (uint32_t b = 0; b < B; b++)
      if (kappaDense[(size_t)j * B + b] > 0) {
        kBin.push_back(b);
        kVal.push_back((double)kappaDense[(size_t)j * B + b]);
      }
    kOff[j + 1] = (uint32_t)kBin.size();
  }
  const size_t cells = kept.size() - 1;
  t.start.resize(cells);
  t.groupRate.resize(cells * K);
  t.binRate.resize(cells * B);
  t.groupBase.resize(cells * K);
  t.binBase.resize(cells * B);
  std::vector<int64_t> Vg(K, 0), Vb(B, 0);
  std::vector<double> rho(std::max(K, B));
  for (size_t c = 0; c < cells; c++) {
    const size_t g1 = kept[c + 1];
    const uint64_t s0 = (uint64_t)x[kept[c]], s1 = (uint64_t)x[g1];
    const long double W = (long double)(s1 - s0);
    t.start[c] = s0;
    std::copy(Vg.begin(), Vg.end(), t.groupBase.begin() + c * K);
    std::copy(Vb.begin(), Vb.end(), t.binBase.begin() + c * B);
    // Rows are rescaled to sum to the grid point exactly; rates aim at the next
    // grid point from where the integer targets actually are (error feedback).
    double row = 0;
    for (uint32_t k = 0; k < K; k++) row += table.cumulative[g1 * K + k];
    const double scale = row > 0 ? (double)s1 / row : 0;
    std::vector<double> ub(B, 0.0);
    const double Pd = (double)t.P, Wd = (double)W;
    for (uint32_t k = 0; k < K; k++) {
      const double yk = table.cumulative[g1 * K + k] * scale;
      rho[k] = std::max(0.0, (yk * Pd - (double)Vg[k]) / Wd);
      for (uint32_t i = kOff[k]; i < kOff[k + 1]; i++) ub[kBin[i]] += yk * kVal[i];
    }
    const std::vector<int64_t> qg = quantizeWeights(std::vector<double>(rho.begin(), rho.begin() + K), t.bits);
    for (uint32_t b = 0; b < B; b++) rho[b] = std::max(0.0, (ub[b] * Pd - (double)Vb[b]) / Wd);
    const std::vector<int64_t> qb = quantizeWeights(std::vector<double>(rho.begin(), rho.begin() + B), t.bits);
    for (uint32_t k = 0; k < K; k++) {
      t.groupRate[c * K + k] = (uint32_t)qg[k];
      Vg[k] += qg[k] * (int64_t)(s1 - s0);
    }
    for (uint32_t b = 0; b < B; b++) {
      t.binRate[c * B + b] = (uint32_t)qb[b];
      Vb[b] += qb[b] * (int64_t)(s1 - s0);
    }
  }
  finishMax(t);
  return t;
}

}  // namespace curricula
