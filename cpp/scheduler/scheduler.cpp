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
#include "scheduler/candidate_table.hpp"
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

// Brute force (cross-checks and the benchmark baseline): every candidate of a
// slice scored exactly. Slices are independent, so the global best (smallest
// key, then lowest index) is the same for any split.
void scoreSlice(const ExactState& state, const std::vector<uint64_t>& live, size_t begin, size_t end,
                BestSoFar& out, ScanCounters& counters) {
  out = BestSoFar();
  for (size_t i = begin; i < end; i++) out.consider(live[i], state.key(live[i]));
  counters.exactScores += end - begin;
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
  ScreenTable screen;
  screen.refresh(state);
  std::unique_ptr<CandidateTable> table = opt.bruteForce ? nullptr : std::make_unique<CandidateTable>(state, screen, live);
  // The runners-up of one step usually contend at the next: scoring them first
  // gives a low bar early, so the check dismisses more of the scan.
  std::vector<std::pair<double, uint64_t>> hints;
  const size_t kHints = 4;
  std::vector<char> isLive(M, 0);
  for (uint64_t s : live) isLive[s] = 1;
  const bool parallel = opt.threads > 1 && std::thread::hardware_concurrency() > 1;
  std::unique_ptr<SliceWorker> worker = parallel && live.size() >= kParallelMin ? std::make_unique<SliceWorker>() : nullptr;
  BestSoFar bar, first, second;
  ScanCounters c1, c2;
  uint64_t remaining = live.size();
  while (remaining > 0 && res.tokens < setup.tokenGoal) {
    screen.refresh(state);
    bar = BestSoFar();
    second = BestSoFar();
    if (table) {
      table->prepareStep(state, screen);
      for (auto& h : hints)
        if (isLive[h.second]) {
          c1.exactScores++;
          bar.consider(h.second, state.key(h.second));
        }
      const size_t n = table->size();
      if (worker && n >= kParallelMin) {
        const size_t mid = n / 2;
        worker->post([&] { table->scan(mid, n, false, state, screen, bar, second, c2); });
        table->scan(0, mid, true, state, screen, bar, first, c1);
        worker->wait();
      } else {
        table->scan(0, n, true, state, screen, bar, first, c1);
      }
    } else {
      const size_t n = live.size();
      if (worker && n >= kParallelMin) {
        const size_t mid = n / 2;
        worker->post([&] { scoreSlice(state, live, mid, n, second, c2); });
        scoreSlice(state, live, 0, mid, first, c1);
        worker->wait();
      } else {
        scoreSlice(state, live, 0, n, first, c1);
      }
    }
    // Merge: smallest key, ties to the lowest index.
    BestSoFar* winner = &first;
    for (BestSoFar* c : {&bar, &second})
      if (c->beats(*winner)) winner = c;
    const uint64_t s = winner->seq;
    if (s == UINT64_MAX) throw std::logic_error("scheduler found no candidate");
    hints.clear();
    for (BestSoFar* c : {&bar, &first, &second}) {
      hints.insert(hints.end(), c->runnersUp.begin(), c->runnersUp.end());
      if (c->seq != UINT64_MAX) hints.push_back({c->key, c->seq});
    }
    std::sort(hints.begin(), hints.end());
    hints.erase(std::unique(hints.begin(), hints.end(), [](auto& x, auto& y) { return x.second == y.second; }), hints.end());
    hints.erase(std::remove_if(hints.begin(), hints.end(), [&](auto& h) { return h.second == s; }), hints.end());
    if (hints.size() > kHints) hints.resize(kHints);
    if (table) table->remove(s);
    else live.erase(std::lower_bound(live.begin(), live.end(), s));
    isLive[s] = 0;
    remaining--;
    state.apply(s);
    res.order.push_back(s);
    res.tokens += setup.counts.length[s];
    if (progress && (res.order.size() & 63) == 0 && !progress->report(res.order.size(), res.tokens, setup.tokenGoal))
      throw Cancelled();
  }
  res.stats.steps = res.order.size();
  res.stats.exactScores = c1.exactScores + c2.exactScores;
  res.stats.boundRefreshes = c1.boundRefreshes + c2.boundRefreshes;
  if (progress) progress->report(res.order.size(), res.tokens, setup.tokenGoal);
  return res;
}

}  // namespace curricula
