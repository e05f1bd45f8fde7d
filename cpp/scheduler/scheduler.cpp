// Option checks, targets, and the greedy search.
#include "scheduler/scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "common/rng.hpp"
#include "scheduler/exact_state.hpp"
#include "scheduler/schedule_setup.hpp"

namespace curricula {

double scheduleNoise(uint64_t seed, uint64_t step, uint64_t index) { return gaussian(seed, step, index); }

FixedTargets buildFixedTargets(const SequenceCounts& counts, const std::vector<double>& mixture, uint32_t K,
                               uint32_t B, uint64_t extraTokens) {
  FixedTargets t;
  t.bits = chooseFixedPointBits(counts.totalTokens + extraTokens);
  t.P = int64_t(1) << t.bits;
  t.group = quantizeWeights(mixture, t.bits);
  // U*_b = sum_j tau_j kappa_{b|j}: length targets consistent with the group mixture.
  std::vector<double> binWeights(B, 0.0);
  std::vector<long double> acc(B, 0.0L);
  for (uint32_t j = 0; j < K; j++) {
    if (mixture[j] == 0) continue;
    for (uint32_t b = 0; b < B; b++) {
      const long double kappa =
          counts.groupTokens[j] > 0
              ? (long double)counts.groupBinTokens[(size_t)j * B + b] / (long double)counts.groupTokens[j]
              : (long double)counts.binTokens[b] / (long double)counts.totalTokens;  // empty group: global share
      acc[b] += (long double)mixture[j] * kappa;
    }
  }
  for (uint32_t b = 0; b < B; b++) binWeights[b] = (double)acc[b];
  t.bin = quantizeWeights(binWeights, t.bits);
  return t;
}

void validateScheduleOptions(const CorpusView& corpus, const SequenceCounts& counts, const ScheduleOptions& opt) {
  const auto bad = [](const std::string& m) { return std::invalid_argument(m); };
  if (opt.mixture.size() != corpus.numGroups)
    throw bad("mixture has " + std::to_string(opt.mixture.size()) + " entries but the corpus has " +
              std::to_string(corpus.numGroups) + " groups");
  long double sum = 0;
  for (size_t i = 0; i < opt.mixture.size(); i++) {
    const double m = opt.mixture[i];
    if (!std::isfinite(m) || m < 0)
      throw bad("mixture[" + std::to_string(i) + "] must be a finite non-negative number but is " + std::to_string(m));
    sum += m;
  }
  if (std::fabs((double)sum - 1.0) > 1e-6)
    throw bad("mixture must sum to 1 but sums to " + std::to_string((double)sum));
  if (!std::isfinite(opt.lambda) || opt.lambda < 0) throw bad("lambda must be finite and >= 0");
  if (!std::isfinite(opt.sigma) || opt.sigma < 0) throw bad("sigma must be finite and >= 0");
  std::vector<char> seen(corpus.numSequences, 0);
  uint64_t resumed = 0;
  for (size_t i = 0; i < opt.resume.size(); i++) {
    const uint64_t s = opt.resume[i];
    if (s >= corpus.numSequences)
      throw bad("resume[" + std::to_string(i) + "] = " + std::to_string(s) + " is out of range [0, " +
                std::to_string(corpus.numSequences) + ")");
    if (seen[s]) throw bad("resume[" + std::to_string(i) + "] = " + std::to_string(s) + " appears twice");
    seen[s] = 1;
    resumed += counts.length[s];
  }
  if (opt.budgetTokens > counts.totalTokens - resumed)
    throw bad("budget of " + std::to_string(opt.budgetTokens) + " tokens is larger than the " +
              std::to_string(counts.totalTokens - resumed) + " tokens left to schedule");
}

ScheduleSetup::ScheduleSetup(const CorpusView& corpus, const ScheduleOptions& opt) {
  validateCorpus(corpus);
  counts = countCharacteristics(corpus);
  validateScheduleOptions(corpus, counts, opt);
  targets = buildFixedTargets(counts, opt.mixture, corpus.numGroups, corpus.numBins, 0);
  resumedTokens = 0;
  for (uint64_t s : opt.resume) resumedTokens += counts.length[s];
  tokenGoal = opt.budgetTokens > 0 ? opt.budgetTokens : counts.totalTokens - resumedTokens;
}

ScheduleResult schedule(const CorpusView& corpus, const ScheduleOptions& opt, ProgressSink* progress) {
  ScheduleSetup setup(corpus, opt);
  ExactState state(setup.targets, setup.counts, opt);
  std::vector<uint64_t> live;
  {
    std::vector<char> taken(corpus.numSequences, 0);
    for (uint64_t s : opt.resume) { state.apply(s); taken[s] = 1; }
    for (uint64_t s = 0; s < corpus.numSequences; s++) if (!taken[s]) live.push_back(s);
  }
  ScheduleResult res;
  res.stats.fixedPointBits = setup.targets.bits;
  // Lazy bounds: each candidate's family terms (without Phi) only fall through
  // target drift between evaluations, so restG - rateG * (S - sref) stays a
  // lower bound; most candidates are skipped on that alone.
  const uint64_t M = corpus.numSequences;
  std::vector<double> restG(M), restB(M), rateG(M), rateB(M), sref(M, 0.0);
  ScreenTable screen;
  screen.refresh(state);
  for (uint64_t s : live) screen.parts(state, s, restG[s], restB[s], rateG[s], rateB[s]);
  for (uint64_t s : live) sref[s] = (double)state.S;
  // The runners-up of one step usually contend at the next: scoring them first
  // gives a low bar early, so the lazy bounds skip more of the scan.
  std::vector<std::pair<double, uint64_t>> runnersUp, hints;
  const size_t kHints = 4;
  std::vector<char> isLive(M, 0);
  for (uint64_t s : live) isLive[s] = 1;
  while (!live.empty() && res.tokens < setup.tokenGoal) {
    screen.refresh(state);
    const double S = (double)state.S;
    double best = std::numeric_limits<double>::infinity();
    uint64_t bestSeq = UINT64_MAX;
    runnersUp.clear();
    const auto consider = [&](uint64_t s, double k) {
      res.stats.exactScores++;
      if (k < best || (k == best && s < bestSeq)) {
        if (bestSeq != UINT64_MAX) runnersUp.push_back({best, bestSeq});
        best = k;
        bestSeq = s;
      } else {
        runnersUp.push_back({k, s});
      }
    };
    if (!opt.bruteForce)
      for (auto& h : hints) if (isLive[h.second]) consider(h.second, state.key(h.second));
    uint64_t cachedLen = UINT64_MAX;
    double phiG = 0, phiB = 0;
    for (size_t i = 0; i < live.size(); i++) {
      const uint64_t s = live[i];
      const uint64_t l = setup.counts.length[s];
      if (l != cachedLen) {
        cachedLen = l;
        phiG = state.phiDouble(state.groups, l);
        phiG -= 1e-12 * std::fabs(phiG);
        phiB = state.phiDouble(state.bins, l);
        phiB -= 1e-12 * std::fabs(phiB);
      }
      if (opt.bruteForce) { consider(s, state.key(s)); continue; }
      const double dS = S - sref[s];
      if (ScreenTable::combine(opt, phiG + restG[s] - rateG[s] * dS, phiB + restB[s] - rateB[s] * dS) > best) continue;
      // Refresh the bound at this prefix; score exactly only what could beat the best so far.
      screen.parts(state, s, restG[s], restB[s], rateG[s], rateB[s]);
      sref[s] = S;
      res.stats.boundRefreshes++;
      if (ScreenTable::combine(opt, phiG + restG[s], phiB + restB[s]) > best) continue;
      if (s == bestSeq) continue;  // a hint already scored
      consider(s, state.key(s));
    }
    const uint64_t s = bestSeq;
    live.erase(std::lower_bound(live.begin(), live.end(), s));
    isLive[s] = 0;
    std::sort(runnersUp.begin(), runnersUp.end());
    hints.clear();
    for (auto& r : runnersUp) {
      if (hints.size() == kHints) break;
      if (r.second != s && (hints.empty() || hints.back().second != r.second)) hints.push_back(r);
    }
    state.apply(s);
    res.order.push_back(s);
    res.tokens += setup.counts.length[s];
    if (progress && (res.order.size() & 63) == 0 && !progress->report(res.order.size(), res.tokens, setup.tokenGoal))
      throw Cancelled();
  }
  res.stats.steps = res.order.size();
  if (progress) progress->report(res.order.size(), res.tokens, setup.tokenGoal);
  return res;
}

}  // namespace curricula
