// CUDA brute-force scheduler: each step one fused kernel scores every
// remaining sequence exactly and reduces to the argmin (smallest key, ties to
// the lowest index), then the host advances the CPU's ExactState.
//
// The keys are the CPU's (cpp/scheduler/exact_state.hpp) operation for
// operation: family terms in 128-bit integers from the same deficits and
// running sums, converted to double with correct rounding (i128.cuh, checked
// against the host conversion) and combined with unfused IEEE operations
// (-fmad=false; sqrt is correctly rounded on the GPU), so the order equals the
// CPU brute force bit for bit. With sigma > 0 the per-step noise is drawn on the
// host with scheduleNoise (GPU log/cos may differ by an ulp) and uploaded.
#include <cmath>
#include <limits>

#include "common.cuh"
#include "cuda_api.hpp"
#include "scheduler_key.cuh"
#include "scheduler/exact_state.hpp"
#include "scheduler/schedule_setup.hpp"

namespace curricula::cuda {
namespace {

struct Best {
  double key;
  uint64_t seq;
};

__device__ inline bool better(double k, uint64_t s, const Best& b) { return k < b.key || (k == b.key && s < b.seq); }

constexpr int kThreads = 256;

__device__ void reduceBlock(Best b, Best* out) {
  __shared__ double keys[kThreads];
  __shared__ uint64_t seqs[kThreads];
  keys[threadIdx.x] = b.key;
  seqs[threadIdx.x] = b.seq;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w >>= 1) {
    if (threadIdx.x < w && better(keys[threadIdx.x + w], seqs[threadIdx.x + w], Best{keys[threadIdx.x], seqs[threadIdx.x]})) {
      keys[threadIdx.x] = keys[threadIdx.x + w];
      seqs[threadIdx.x] = seqs[threadIdx.x + w];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) *out = Best{keys[0], seqs[0]};
}

__global__ void scoreStep(FamDev g, FamDev b, SeqDev q, const uint8_t* alive, uint64_t M, KeyParams p, Best* blockBest) {
  Best best{INFINITY, UINT64_MAX};
  for (uint64_t s = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; s < M; s += (uint64_t)gridDim.x * blockDim.x) {
    if (!alive[s]) continue;
    const double k = candidateKey(g, b, q, p, s);
    if (better(k, s, best)) best = Best{k, s};
  }
  reduceBlock(best, blockBest + blockIdx.x);
}

__global__ void reduceBlocks(const Best* in, unsigned n, Best* out) {
  Best best{INFINITY, UINT64_MAX};
  for (unsigned i = threadIdx.x; i < n; i += blockDim.x)
    if (better(in[i].key, in[i].seq, best)) best = in[i];
  reduceBlock(best, out);
}

// Device copy of one family: deficits refreshed every step, rates when the cell changes.
struct FamilyMirror {
  DeviceBuffer<i128> d0;
  DeviceBuffer<uint32_t> rc, rn;
  size_t cell = SIZE_MAX;
  std::vector<i128> host;

  FamDev sync(const FamilyState& f, uint64_t S) {
    const size_t n = f.T.size();
    if (d0.size() != n) d0.resize(n);
    host.resize(n);
    for (uint32_t k = 0; k < n; k++) host[k] = f.deficitAt(k, S);
    d0.upload(host.data(), n);
    if (cell != f.cell) {
      if (rc.size() != n) { rc.resize(n); rn.resize(n); }
      rc.upload(f.rc, n);
      rn.upload(f.rn, n);
      cell = f.cell;
    }
    return FamDev{f.A, f.B, f.C, f.Bn, f.Cn, f.X, S, f.nextStart, f.P, d0.get(), rc.get(), rn.get()};
  }
};

}  // namespace

ScheduleResult scheduleBruteForce(const CorpusView& corpus, const ScheduleOptions& opt, ProgressSink* progress) {
  ScheduleSetup setup(corpus, opt);
  requireDevice();
  ExactState state(setup.targets, setup.counts, opt);
  const uint64_t M = corpus.numSequences;
  std::vector<uint8_t> alive(M, 1);
  uint64_t live = M;
  for (uint64_t s : opt.resume) {
    state.apply(s);
    alive[s] = 0;
    live--;
  }
  const SequenceCounts& c = setup.counts;
  DeviceBuffer<uint64_t> length(M), groupOff(M + 1), binOff(M + 1);
  DeviceBuffer<uint32_t> groupId(c.groupId.size()), groupCount(c.groupCount.size()), binId(c.binId.size()),
      binCount(c.binCount.size());
  DeviceBuffer<uint8_t> aliveDev(M);
  length.upload(c.length);
  groupOff.upload(c.groupOff);
  binOff.upload(c.binOff);
  groupId.upload(c.groupId);
  groupCount.upload(c.groupCount);
  binId.upload(c.binId);
  binCount.upload(c.binCount);
  aliveDev.upload(alive);
  const SeqDev q{length.get(), groupOff.get(), binOff.get(), groupId.get(), groupCount.get(), binId.get(), binCount.get()};
  DeviceBuffer<double> noise(opt.sigma > 0 ? M : 0);
  std::vector<double> noiseHost(opt.sigma > 0 ? M : 0, 0.0);
  KeyParams p{opt.lambda, state.scaleKey, opt.sigma, opt.objective == Objective::SumOfSquares, noise.get()};
  const unsigned blocks = blocksFor(M, kThreads, 1024);
  DeviceBuffer<Best> blockBest(blocks), best(1);
  FamilyMirror gm, bm;
  ScheduleResult res;
  res.stats.fixedPointBits = setup.targets.bits;
  while (live > 0 && res.tokens < setup.tokenGoal) {
    const FamDev g = gm.sync(state.groups, state.S), b = bm.sync(state.bins, state.S);
    if (opt.sigma > 0) {
      for (uint64_t s = 0; s < M; s++)
        if (alive[s]) noiseHost[s] = scheduleNoise(opt.seed, state.step, s);
      noise.upload(noiseHost);
    }
    scoreStep<<<blocks, kThreads>>>(g, b, q, aliveDev.get(), M, p, blockBest.get());
    checkLaunch("scoreStep");
    reduceBlocks<<<1, kThreads>>>(blockBest.get(), blocks, best.get());
    checkLaunch("reduceBlocks");
    Best w;
    best.download(&w, 1);
    if (w.seq >= M || !alive[w.seq]) throw std::logic_error("CUDA scheduler found no candidate");
    res.stats.exactScores += live;
    const uint64_t s = w.seq;
    alive[s] = 0;
    live--;
    check(cudaMemset(aliveDev.get() + s, 0, 1), "cudaMemset");
    state.apply(s);
    res.order.push_back(s);
    res.tokens += c.length[s];
    if (progress && (res.order.size() & 63) == 0 && !progress->report(res.order.size(), res.tokens, setup.tokenGoal))
      throw Cancelled();
  }
  res.stats.steps = res.order.size();
  if (progress) progress->report(res.order.size(), res.tokens, setup.tokenGoal);
  return res;
}

}  // namespace curricula::cuda
