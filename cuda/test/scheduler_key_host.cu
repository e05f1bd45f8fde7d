// Host emulation of the CUDA brute-force scheduler, runnable without a GPU:
// the per-step loop of cuda/scheduler.cu with the kernel's own key function
// (scheduler_key.cuh, __host__ __device__) evaluated on the host, compared
// with curricula::schedule(bruteForce = true) on seeded random corpora. Also
// checks i128ToDouble against the host compiler's conversion.
//
// Build and run (scripts/cuda-host-check.sh):
//   nvcc -std=c++17 -O2 -fmad=false -Icpp -Icuda cuda/test/scheduler_key_host.cu <core .cpp files> -o /tmp/k && /tmp/k
#include <cstdio>
#include <random>
#include <vector>

#include "scheduler/exact_state.hpp"
#include "scheduler/schedule_setup.hpp"
#include "scheduler_key.cuh"

using namespace curricula;
using namespace curricula::cuda;

namespace {

FamDev mirror(const FamilyState& f, uint64_t S, std::vector<i128>& d0) {
  d0.resize(f.T.size());
  for (uint32_t k = 0; k < f.T.size(); k++) d0[k] = f.deficitAt(k, S);
  return FamDev{f.A, f.B, f.C, f.Bn, f.Cn, f.X, S, f.nextStart, f.P, d0.data(), f.rc, f.rn};
}

// The loop of cuda::scheduleBruteForce with the argmin done serially (same total order).
std::vector<uint64_t> emulate(const CorpusView& corpus, const ScheduleOptions& opt) {
  ScheduleSetup setup(corpus, opt);
  ExactState state(setup.targets, setup.counts, opt);
  const uint64_t M = corpus.numSequences;
  std::vector<uint8_t> alive(M, 1);
  uint64_t live = M;
  for (uint64_t s : opt.resume) { state.apply(s); alive[s] = 0; live--; }
  const SequenceCounts& c = setup.counts;
  const SeqDev q{c.length.data(), c.groupOff.data(), c.binOff.data(), c.groupId.data(), c.groupCount.data(),
                 c.binId.data(), c.binCount.data()};
  std::vector<double> noise(M);
  const KeyParams p{opt.lambda, state.scaleKey, opt.sigma, opt.objective == Objective::SumOfSquares, noise.data()};
  std::vector<i128> dg, db;
  std::vector<uint64_t> order;
  uint64_t tokens = 0;
  while (live > 0 && tokens < setup.tokenGoal) {
    const FamDev g = mirror(state.groups, state.S, dg), b = mirror(state.bins, state.S, db);
    if (opt.sigma > 0)
      for (uint64_t s = 0; s < M; s++) if (alive[s]) noise[s] = scheduleNoise(opt.seed, state.step, s);
    double bestKey = INFINITY;
    uint64_t best = UINT64_MAX;
    for (uint64_t s = 0; s < M; s++) {
      if (!alive[s]) continue;
      const double k = candidateKey(g, b, q, p, s);
      if (k < bestKey || (k == bestKey && s < best)) { bestKey = k; best = s; }
    }
    alive[best] = 0;
    live--;
    state.apply(best);
    order.push_back(best);
    tokens += c.length[best];
  }
  return order;
}

}  // namespace

int main() {
  // i128 -> double
  std::mt19937_64 g(1);
  long bad = 0;
  for (int it = 0; it < 1000000; it++) {
    unsigned __int128 u = ((unsigned __int128)g() << 64) | g();
    __int128 x = (__int128)(u >> (g() % 128));
    if (it % 3 == 0) x = (__int128)((((unsigned __int128)(g() >> 11)) << (g() % 70)) | (g() % 2));
    if (g() & 1) x = -x;
    if (i128ToDouble(x) != (double)x) bad++;
  }
  std::printf("i128ToDouble: %ld mismatches in 1000000\n", bad);
  int failures = bad ? 1 : 0, cases = 0;
  for (int id = 0; id < 60; id++) {
    std::mt19937_64 r(100 + id);
    const uint32_t K = 1 + r() % 40, B = 1 + r() % 8;
    const uint64_t M = 20 + r() % 150;
    const uint32_t L = std::vector<uint32_t>{2048, 12, 1u << 27}[id % 3];
    std::vector<uint64_t> off{0};
    std::vector<uint32_t> grp, bin, tok;
    for (uint64_t s = 0; s < M; s++) {
      const int segs = 1 + r() % 4;
      for (int j = 0; j < segs; j++) {
        grp.push_back((uint32_t)(r() % K) * (uint32_t)(r() % 2) % K);  // skewed towards 0
        bin.push_back(r() % B);
        tok.push_back(1 + r() % L);
      }
      off.push_back(grp.size());
    }
    CorpusView cv;
    cv.numSequences = M;
    cv.offsets = off.data();
    cv.group = grp.data();
    cv.bin = bin.data();
    cv.tokens = tok.data();
    cv.numGroups = K;
    cv.numBins = B;
    ScheduleOptions o;
    o.mixture.assign(K, 1.0 / K);
    o.lambda = std::vector<double>{0, 0.3, 1}[id % 3];
    o.objective = id % 2 ? Objective::Norm : Objective::SumOfSquares;
    if (id % 7 == 3) { o.sigma = 0.5; o.seed = id; }
    o.bruteForce = true;
    o.threads = 1;
    if (id % 5 == 4) {
      const ScheduleResult full = schedule(cv, o, nullptr);
      o.resume.assign(full.order.begin(), full.order.begin() + full.order.size() / 4);
      o.budgetTokens = 1;  // stop after one more sequence
    }
    const ScheduleResult cpu = schedule(cv, o, nullptr);
    const std::vector<uint64_t> emu = emulate(cv, o);
    cases++;
    if (emu != cpu.order) {
      failures++;
      std::printf("case %d: order differs (M=%llu K=%u B=%u)\n", id, (unsigned long long)M, K, B);
    }
  }
  std::printf("scheduler emulation: %d cases, %d failures\n", cases, failures);
  return failures ? 1 : 0;
}
