// Option checks, targets, and the greedy search.
#include "scheduler/scheduler.hpp"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <cmath>
#include <limits>
#include <string>

#include "common/rng.hpp"
#include "scheduler/exact_state.hpp"
#include "scheduler/schedule_setup.hpp"

namespace curricula {

double scheduleNoise(uint64_t seed, uint64_t step, uint64_t index) { return gaussian(seed, step, index); }

void validateScheduleOptions(const CorpusView& corpus, const SequenceCounts& counts, const ScheduleOptions& opt) {
  const auto bad = [](const std::string& m) { return std::invalid_argument(m); };
  if (!opt.table.empty()) {
    if (!opt.mixture.empty()) throw bad("give either a mixture or a targets table, not both");
  } else if (opt.mixture.size() != corpus.numGroups)
    throw bad("mixture has " + std::to_string(opt.mixture.size()) + " entries but the corpus has " +
              std::to_string(corpus.numGroups) + " groups");
  long double sum = 0;
  for (size_t i = 0; i < opt.mixture.size(); i++) {
    const double m = opt.mixture[i];
    if (!std::isfinite(m) || m < 0)
      throw bad("mixture[" + std::to_string(i) + "] must be a finite non-negative number but is " + std::to_string(m));
    sum += m;
  }
  if (opt.table.empty() && std::fabs((double)sum - 1.0) > 1e-6)
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
  resumedTokens = 0;
  for (uint64_t s : opt.resume) resumedTokens += counts.length[s];
  tokenGoal = opt.budgetTokens > 0 ? opt.budgetTokens : counts.totalTokens - resumedTokens;
  targets = opt.table.empty()
                ? buildFixedTargets(counts, opt.mixture, corpus.numGroups, corpus.numBins)
                : buildTableTargets(counts, opt.table, corpus.numGroups, corpus.numBins, resumedTokens + tokenGoal);
}

namespace {

// Best candidate of one slice of the live list. Slices are independent, so the
// global best (smallest key, then lowest index) is the same for any split.
struct SliceBest {
  double key = std::numeric_limits<double>::infinity();
  uint64_t seq = UINT64_MAX;
  uint64_t exactScores = 0, boundRefreshes = 0;
  std::vector<std::pair<double, uint64_t>> runnersUp;

  void consider(uint64_t s, double k) {
    exactScores++;
    if (k < key || (k == key && s < seq)) {
      if (seq != UINT64_MAX) runnersUp.push_back({key, seq});
      key = k;
      seq = s;
    } else {
      runnersUp.push_back({k, s});
    }
  }
};

// Lazy bounds: each candidate's family terms (without Phi) only fall through
// target drift between evaluations, so rest - rate * (S - sref) stays a lower
// bound; most candidates are skipped on that alone.
struct LazyBounds {
  std::vector<double> restG, restB, rateG, rateB, sref;
  explicit LazyBounds(uint64_t M) : restG(M), restB(M), rateG(M), rateB(M), sref(M, 0.0) {}
  void refresh(const ScreenTable& screen, const ExactState& st, uint64_t s) {
    screen.parts(st, s, restG[s], restB[s], rateG[s], rateB[s]);
    sref[s] = (double)st.S;
  }
};

// Scores live[begin, end) against a bar that starts at `start`.
void scanSlice(const ExactState& state, const ScreenTable& screen, LazyBounds& lazy, const std::vector<uint64_t>& live,
               size_t begin, size_t end, const SliceBest& start, SliceBest& out) {
  const ScheduleOptions& opt = *state.opt;
  out = SliceBest();
  out.key = start.key;
  out.seq = start.seq;
  const double S = (double)state.S;
  uint64_t cachedLen = UINT64_MAX;
  double phiG = 0, phiB = 0;
  for (size_t i = begin; i < end; i++) {
    const uint64_t s = live[i];
    const uint64_t l = state.counts->length[s];
    if (l != cachedLen) {
      cachedLen = l;
      phiG = state.phiDouble(state.groups, l);
      phiG -= 1e-12 * std::fabs(phiG);
      phiB = state.phiDouble(state.bins, l);
      phiB -= 1e-12 * std::fabs(phiB);
    }
    if (opt.bruteForce) { out.consider(s, state.key(s)); continue; }
    const double dS = S - lazy.sref[s];
    if (ScreenTable::combine(opt, phiG + lazy.restG[s] - lazy.rateG[s] * dS, phiB + lazy.restB[s] - lazy.rateB[s] * dS) > out.key)
      continue;
    // Refresh the bound at this prefix; score exactly only what could beat the bar.
    lazy.refresh(screen, state, s);
    out.boundRefreshes++;
    if (ScreenTable::combine(opt, phiG + lazy.restG[s], phiB + lazy.restB[s]) > out.key) continue;
    if (s == start.seq) continue;  // the hint that set the bar
    out.consider(s, state.key(s));
  }
}

// One helper thread that scans the second half of the live list each step.
class SliceWorker {
 public:
  SliceWorker() : thread_([this] { loop(); }) {}
  ~SliceWorker() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void post(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      job_ = std::move(job);
      done_ = false;
    }
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait(lk, [this] { return done_; });
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      cv_.wait(lk, [this] { return stop_ || job_; });
      if (stop_) return;
      auto job = std::move(job_);
      job_ = nullptr;
      lk.unlock();
      try {
        job();
      } catch (...) {
        error_ = std::current_exception();
      }
      lk.lock();
      done_ = true;
      cv_.notify_all();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> job_;
  bool done_ = true, stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

// Below this many live candidates a step is too short to be worth a handoff.
constexpr size_t kParallelMin = 8192;

}  // namespace

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
  const uint64_t M = corpus.numSequences;
  LazyBounds lazy(M);
  ScreenTable screen;
  screen.refresh(state);
  for (uint64_t s : live) lazy.refresh(screen, state, s);
  // The runners-up of one step usually contend at the next: scoring them first
  // gives a low bar early, so the lazy bounds skip more of the scan.
  std::vector<std::pair<double, uint64_t>> hints;
  const size_t kHints = 4;
  std::vector<char> isLive(M, 0);
  for (uint64_t s : live) isLive[s] = 1;
  const bool parallel = opt.threads > 1 && std::thread::hardware_concurrency() > 1;
  std::unique_ptr<SliceWorker> worker = parallel && live.size() >= kParallelMin ? std::make_unique<SliceWorker>() : nullptr;
  SliceBest bar, first, second;
  while (!live.empty() && res.tokens < setup.tokenGoal) {
    screen.refresh(state);
    bar = SliceBest();
    if (!opt.bruteForce)
      for (auto& h : hints) if (isLive[h.second]) bar.consider(h.second, state.key(h.second));
    const size_t n = live.size();
    if (worker && n >= kParallelMin) {
      const size_t mid = n / 2;
      worker->post([&] { scanSlice(state, screen, lazy, live, mid, n, bar, second); });
      scanSlice(state, screen, lazy, live, 0, mid, bar, first);
      worker->wait();
    } else {
      scanSlice(state, screen, lazy, live, 0, n, bar, first);
      second = SliceBest();
    }
    // Merge: smallest key, ties to the lowest index.
    SliceBest* winner = &first;
    for (SliceBest* c : {&bar, &second})
      if (c->seq != UINT64_MAX && (c->key < winner->key || (c->key == winner->key && c->seq < winner->seq))) winner = c;
    const uint64_t s = winner->seq;
    if (s == UINT64_MAX) throw std::logic_error("scheduler found no candidate");
    res.stats.exactScores += bar.exactScores + first.exactScores + second.exactScores;
    res.stats.boundRefreshes += first.boundRefreshes + second.boundRefreshes;
    live.erase(std::lower_bound(live.begin(), live.end(), s));
    isLive[s] = 0;
    hints.clear();
    for (SliceBest* c : {&bar, &first, &second}) {
      hints.insert(hints.end(), c->runnersUp.begin(), c->runnersUp.end());
      if (c->seq != UINT64_MAX) hints.push_back({c->key, c->seq});
    }
    std::sort(hints.begin(), hints.end());
    hints.erase(std::unique(hints.begin(), hints.end(), [](auto& x, auto& y) { return x.second == y.second; }), hints.end());
    hints.erase(std::remove_if(hints.begin(), hints.end(), [&](auto& h) { return h.second == s; }), hints.end());
    if (hints.size() > kHints) hints.resize(kHints);
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
