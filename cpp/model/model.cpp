#include "model/model.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <thread>

#include "common/rng.hpp"

#if defined(__SSE2__) || defined(_M_X64)
#include <xmmintrin.h>
#define CURRICULA_MODEL_SSE 1
#endif

namespace curricula::model {
namespace {

// Eight independent partial sums in a fixed order: vectorisable without
// -ffast-math and bit-identical on every run.
inline float dot(const float* a, const float* b, size_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; l++) acc[l] += a[i + l] * b[i + l];
  float tail = 0;
  for (; i < n; i++) tail += a[i] * b[i];
  return (((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))) + tail;
}

inline void axpy(float* __restrict y, float a, const float* __restrict x, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

struct Scratch {
  std::vector<uint32_t> ctx;
  std::vector<float> x, h, p, g2, dh, g1, dx;
  explicit Scratch(const ModelShape& s)
      : ctx(s.context), x((size_t)s.context * s.embed), h(s.hidden), p(s.vocab), g2(s.vocab), dh(s.hidden),
        g1(s.hidden), dx((size_t)s.context * s.embed) {}
};

// Fills the context of position t of the sequence [begin, end).
inline void contextAt(const ModelShape& s, const uint32_t* ids, size_t begin, size_t t, Scratch& w) {
  for (uint32_t m = 0; m < s.context; m++) {
    const size_t back = s.context - m;  // positions before t
    w.ctx[m] = t >= begin + back ? ids[t - back] : kPadToken;
  }
}

// Forward pass for one position; leaves the softmax in w.p and returns the loss (nats).
float forward(const ModelShape& s, const ParamLayout& L, const float* p, uint32_t target, Scratch& w) {
  const size_t E = s.embed, H = s.hidden, V = s.vocab, KE = (size_t)s.context * E;
  for (uint32_t m = 0; m < s.context; m++) std::copy_n(p + L.emb + (size_t)w.ctx[m] * E, E, w.x.data() + m * E);
  float* h = w.h.data();
  std::copy_n(p + L.b1, H, h);
  for (size_t i = 0; i < KE; i++) axpy(h, w.x[i], p + L.w1 + i * H, H);
  for (size_t j = 0; j < H; j++) h[j] = std::tanh(h[j]);
  float* z = w.p.data();
  std::copy_n(p + L.b2, V, z);
  for (size_t j = 0; j < H; j++) axpy(z, h[j], p + L.w2 + j * V, V);
  float mx = z[0];
  for (size_t v = 1; v < V; v++) mx = std::max(mx, z[v]);
  const float zt = z[target];
  double sum = 0;
  for (size_t v = 0; v < V; v++) {
    z[v] = std::exp(z[v] - mx);
    sum += z[v];
  }
  const float inv = (float)(1.0 / sum);
  for (size_t v = 0; v < V; v++) z[v] *= inv;
  return (float)(std::log(sum) + (double)mx - (double)zt);
}

// d loss / d logits (w.g2) and d loss / d hidden pre-activation (w.g1), after forward().
void backwardSignals(const ModelShape& s, const ParamLayout& L, const float* p, uint32_t target, Scratch& w) {
  const size_t H = s.hidden, V = s.vocab;
  std::copy_n(w.p.data(), V, w.g2.data());
  w.g2[target] -= 1.0f;
  for (size_t j = 0; j < H; j++) {
    w.dh[j] = dot(p + L.w2 + j * V, w.g2.data(), V);
    w.g1[j] = w.dh[j] * (1.0f - w.h[j] * w.h[j]);
  }
}

// Positions are processed in tiles so the output layer's weights are streamed
// once per tile instead of once per position. Per element the additions happen
// in the same order as position by position, so tiling never changes a result.
constexpr size_t kTile = 8;

struct TileScratch {
  size_t n = 0;                  // positions in the tile
  std::vector<uint32_t> ctx, target;
  std::vector<float> x, h, p, g1, dx;  // [kTile][...]
  explicit TileScratch(const ModelShape& s)
      : ctx(kTile * s.context), target(kTile), x(kTile * s.context * s.embed), h(kTile * s.hidden),
        p(kTile * s.vocab), g1(kTile * s.hidden), dx((size_t)s.context * s.embed) {}
  void add(const ModelShape& s, const uint32_t* ids, size_t begin, size_t t) {
    for (uint32_t m = 0; m < s.context; m++) {
      const size_t back = s.context - m;
      ctx[n * s.context + m] = t >= begin + back ? ids[t - back] : kPadToken;
    }
    target[n++] = ids[t];
  }
};

// The output layer (H x V) is most of the work. On x86-64 these two loops are
// register-blocked with SSE (4 positions x 8 columns, or 4 rows x 8 columns,
// held in registers across the whole reduction); every element is still
// formed as a separate multiply then add, in the same order as the plain
// loops, so both paths give bit-identical results.

// z[i][:] = b2 + sum_j h[i][j] * w2[j][:] for the n positions of a tile.
void outputLogits(const float* b2, const float* w2, size_t V, size_t H, const float* h, size_t n, float* z) {
  size_t i0 = 0;
#ifdef CURRICULA_MODEL_SSE
  const size_t V8 = V & ~size_t(7);
  for (; i0 + 4 <= n; i0 += 4) {
    const float* hb = h + i0 * H;
    float* zb = z + i0 * V;
    for (size_t v = 0; v < V8; v += 8) {
      __m128 a[4][2];
      for (int t = 0; t < 4; t++) a[t][0] = _mm_loadu_ps(b2 + v), a[t][1] = _mm_loadu_ps(b2 + v + 4);
      for (size_t j = 0; j < H; j++) {
        const __m128 w0 = _mm_loadu_ps(w2 + j * V + v), w1 = _mm_loadu_ps(w2 + j * V + v + 4);
        for (int t = 0; t < 4; t++) {
          const __m128 hv = _mm_set1_ps(hb[t * H + j]);
          a[t][0] = _mm_add_ps(a[t][0], _mm_mul_ps(hv, w0));
          a[t][1] = _mm_add_ps(a[t][1], _mm_mul_ps(hv, w1));
        }
      }
      for (int t = 0; t < 4; t++) _mm_storeu_ps(zb + t * V + v, a[t][0]), _mm_storeu_ps(zb + t * V + v + 4, a[t][1]);
    }
    for (size_t v = V8; v < V; v++)
      for (size_t t = 0; t < 4; t++) {
        float acc = b2[v];
        for (size_t j = 0; j < H; j++) acc += hb[t * H + j] * w2[j * V + v];
        zb[t * V + v] = acc;
      }
  }
#endif
  for (; i0 < n; i0++) {
    float* zi = z + i0 * V;
    std::copy_n(b2, V, zi);
    for (size_t j = 0; j < H; j++) axpy(zi, h[i0 * H + j], w2 + j * V, V);
  }
}

// g2[j][:] += sum over positions i (in order) of h[i][j] * gz[i][:].
void outputWeightGrad(float* g2, size_t V, size_t H, const float* h, const float* gz, size_t n) {
  size_t j0 = 0;
#ifdef CURRICULA_MODEL_SSE
  const size_t V8 = V & ~size_t(7);
  for (; j0 + 4 <= H; j0 += 4) {
    for (size_t v = 0; v < V8; v += 8) {
      __m128 a[4][2];
      for (int r = 0; r < 4; r++) a[r][0] = _mm_loadu_ps(g2 + (j0 + r) * V + v), a[r][1] = _mm_loadu_ps(g2 + (j0 + r) * V + v + 4);
      for (size_t i = 0; i < n; i++) {
        const __m128 x0 = _mm_loadu_ps(gz + i * V + v), x1 = _mm_loadu_ps(gz + i * V + v + 4);
        for (int r = 0; r < 4; r++) {
          const __m128 hv = _mm_set1_ps(h[i * H + j0 + r]);
          a[r][0] = _mm_add_ps(a[r][0], _mm_mul_ps(hv, x0));
          a[r][1] = _mm_add_ps(a[r][1], _mm_mul_ps(hv, x1));
        }
      }
      for (int r = 0; r < 4; r++) _mm_storeu_ps(g2 + (j0 + r) * V + v, a[r][0]), _mm_storeu_ps(g2 + (j0 + r) * V + v + 4, a[r][1]);
    }
    for (size_t v = V8; v < V; v++)
      for (size_t r = 0; r < 4; r++) {
        float acc = g2[(j0 + r) * V + v];
        for (size_t i = 0; i < n; i++) acc += h[i * H + j0 + r] * gz[i * V + v];
        g2[(j0 + r) * V + v] = acc;
      }
  }
#endif
  for (; j0 < H; j0++)
    for (size_t i = 0; i < n; i++) axpy(g2 + j0 * V, h[i * H + j0], gz + i * V, V);
}

// dh[i][j] = dot(w2 row j, gz row i) for every position of the tile, in the lane
// pattern of dot() (so bit-identical to it); SSE keeps 4 positions' partial
// sums in registers while the row streams by once.
void outputInputGrad(const float* w2, size_t V, size_t H, const float* gz, size_t n, float* dh) {
  for (size_t j = 0; j < H; j++) {
    const float* wr = w2 + j * V;
    size_t i0 = 0;
#ifdef CURRICULA_MODEL_SSE
    const size_t V8 = V & ~size_t(7);
    for (; i0 + 4 <= n; i0 += 4) {
      __m128 a[4][2];
      for (int t = 0; t < 4; t++) a[t][0] = _mm_setzero_ps(), a[t][1] = _mm_setzero_ps();
      for (size_t v = 0; v < V8; v += 8) {
        const __m128 w0 = _mm_loadu_ps(wr + v), w1 = _mm_loadu_ps(wr + v + 4);
        for (int t = 0; t < 4; t++) {
          const float* g = gz + (i0 + t) * V + v;
          a[t][0] = _mm_add_ps(a[t][0], _mm_mul_ps(w0, _mm_loadu_ps(g)));
          a[t][1] = _mm_add_ps(a[t][1], _mm_mul_ps(w1, _mm_loadu_ps(g + 4)));
        }
      }
      for (int t = 0; t < 4; t++) {
        float l[8];
        _mm_storeu_ps(l, a[t][0]);
        _mm_storeu_ps(l + 4, a[t][1]);
        float tail = 0;
        for (size_t v = V8; v < V; v++) tail += wr[v] * gz[(i0 + t) * V + v];
        dh[(i0 + t) * H + j] = (((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))) + tail;
      }
    }
#endif
    for (; i0 < n; i0++) dh[i0 * H + j] = dot(wr, gz + i0 * V, V);
  }
}

// Forward pass of the tile; leaves softmax rows in w.p and adds each loss to losses[i].
void forwardTile(const ModelShape& s, const ParamLayout& L, const float* p, TileScratch& w, double* losses) {
  const size_t E = s.embed, H = s.hidden, V = s.vocab, K = s.context, KE = K * E, n = w.n;
  for (size_t i = 0; i < n; i++) {
    float* x = w.x.data() + i * KE;
    for (size_t m = 0; m < K; m++) std::copy_n(p + L.emb + (size_t)w.ctx[i * K + m] * E, E, x + m * E);
    float* h = w.h.data() + i * H;
    std::copy_n(p + L.b1, H, h);
    for (size_t k = 0; k < KE; k++) axpy(h, x[k], p + L.w1 + k * H, H);
    for (size_t j = 0; j < H; j++) h[j] = std::tanh(h[j]);
  }
  outputLogits(p + L.b2, p + L.w2, V, H, w.h.data(), n, w.p.data());
  for (size_t i = 0; i < n; i++) {
    float* z = w.p.data() + i * V;
    float mx = z[0];
    for (size_t v = 1; v < V; v++) mx = std::max(mx, z[v]);
    const float zt = z[w.target[i]];
    double sum = 0;
    for (size_t v = 0; v < V; v++) {
      z[v] = std::exp(z[v] - mx);
      sum += z[v];
    }
    const float inv = (float)(1.0 / sum);
    for (size_t v = 0; v < V; v++) z[v] *= inv;
    losses[i] += (float)(std::log(sum) + (double)mx - (double)zt);
  }
}

// Backward pass of the tile after forwardTile (which left softmax rows in w.p);
// adds the gradient of the tile's summed loss to g.
void backwardTile(const ModelShape& s, const ParamLayout& L, const float* p, TileScratch& w, float* g) {
  const size_t E = s.embed, H = s.hidden, V = s.vocab, K = s.context, KE = K * E, n = w.n;
  for (size_t i = 0; i < n; i++) w.p[i * V + w.target[i]] -= 1.0f;  // w.p now holds d loss / d logits
  for (size_t i = 0; i < n; i++) axpy(g + L.b2, 1.0f, w.p.data() + i * V, V);
  outputInputGrad(p + L.w2, V, H, w.p.data(), n, w.g1.data());  // d loss / d h
  for (size_t k = 0; k < n * H; k++) w.g1[k] *= 1.0f - w.h[k] * w.h[k];
  outputWeightGrad(g + L.w2, V, H, w.h.data(), w.p.data(), n);
  for (size_t i = 0; i < n; i++) {
    const float* g1 = w.g1.data() + i * H;
    const float* x = w.x.data() + i * KE;
    axpy(g + L.b1, 1.0f, g1, H);
    for (size_t k = 0; k < KE; k++) {
      axpy(g + L.w1 + k * H, x[k], g1, H);
      w.dx[k] = dot(p + L.w1 + k * H, g1, H);
    }
    for (size_t m = 0; m < K; m++) axpy(g + L.emb + (size_t)w.ctx[i * K + m] * E, 1.0f, w.dx.data() + m * E, E);
  }
}

// Runs fn(first, last) over [0, n) in `threads` contiguous chunks; each item's
// result depends only on the item, so the thread count never changes results.
template <typename Fn>
void parallelFor(size_t n, unsigned threads, Fn fn) {
  threads = std::max(1u, std::min<unsigned>(threads, (unsigned)std::max<size_t>(1, n)));
  if (threads == 1) return fn(0, n);
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(threads);
  for (unsigned t = 0; t < threads; t++) {
    pool.emplace_back([&, t] {
      try {
        fn(n * t / threads, n * (t + 1) / threads);
      } catch (...) {
        errors[t] = std::current_exception();
      }
    });
  }
  for (auto& th : pool) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

void checkParams(const ModelShape& s, const std::vector<float>& params) {
  const size_t want = layoutOf(s).total;
  if (params.size() != want)
    throw std::invalid_argument("`params` has " + std::to_string(params.size()) + " entries but the model needs " +
                                std::to_string(want));
}

void checkExamples(const TokenSequences& seqs, const std::vector<uint32_t>& examples, const char* field) {
  for (size_t i = 0; i < examples.size(); i++)
    if (examples[i] >= seqs.numSequences)
      throw std::invalid_argument(std::string(field) + "[" + std::to_string(i) + "] = " + std::to_string(examples[i]) +
                                  " is out of range [0, " + std::to_string(seqs.numSequences) + ")");
}

}  // namespace

void validateShape(const ModelShape& s) {
  const auto need = [](uint32_t v, uint32_t lo, uint32_t hi, const char* f) {
    if (v < lo || v > hi)
      throw std::invalid_argument(std::string("Expected `") + f + "` in [" + std::to_string(lo) + ", " +
                                  std::to_string(hi) + "] but received " + std::to_string(v));
  };
  need(s.vocab, 2, 1u << 20, "vocab");
  need(s.context, 1, 64, "context");
  need(s.embed, 1, 4096, "embed");
  need(s.hidden, 1, 4096, "hidden");
}

ParamLayout layoutOf(const ModelShape& s) {
  ParamLayout L;
  const size_t V = s.vocab, E = s.embed, H = s.hidden, KE = (size_t)s.context * E;
  L.emb = 0;
  L.w1 = L.emb + V * E;
  L.b1 = L.w1 + KE * H;
  L.w2 = L.b1 + H;
  L.b2 = L.w2 + H * V;
  L.total = L.b2 + V;
  return L;
}

LayerDims layerDims(const ModelShape& s, Layer layer) {
  if (layer == Layer::Hidden) return {s.context * s.embed, s.hidden};
  return {s.hidden, s.vocab};
}

std::vector<float> initParams(const ModelShape& s, uint64_t seed) {
  validateShape(s);
  const ParamLayout L = layoutOf(s);
  std::vector<float> p(L.total, 0.0f);
  // Stream a of the counter RNG names the tensor, b the element.
  const auto fill = [&](size_t off, size_t n, uint64_t stream, double scale) {
    for (size_t i = 0; i < n; i++) p[off + i] = (float)(scale * gaussian(seed, stream, i));
  };
  const double KE = (double)s.context * s.embed;
  fill(L.emb, (size_t)s.vocab * s.embed, 1, 0.1);
  fill(L.w1, (size_t)KE * s.hidden, 2, 1.0 / std::sqrt(KE));
  fill(L.w2, (size_t)s.hidden * s.vocab, 3, 1.0 / std::sqrt((double)s.hidden));
  return p;
}

void validateSequences(const ModelShape& s, const TokenSequences& seqs) {
  if (seqs.offsets == nullptr) throw std::invalid_argument("`offsets` is missing");
  if (seqs.offsets[0] != 0) throw std::invalid_argument("offsets[0] must be 0");
  for (size_t i = 0; i < seqs.numSequences; i++)
    if (seqs.offsets[i + 1] <= seqs.offsets[i])
      throw std::invalid_argument("offsets[" + std::to_string(i + 1) + "] must be greater than offsets[" +
                                  std::to_string(i) + "] (sequences are nonempty and in order)");
  if (seqs.offsets[seqs.numSequences] != seqs.numIds)
    throw std::invalid_argument("`offsets` ends at " + std::to_string(seqs.offsets[seqs.numSequences]) +
                                " but `ids` has " + std::to_string(seqs.numIds) + " entries");
  for (size_t i = 0; i < seqs.numIds; i++)
    if (seqs.ids[i] >= s.vocab)
      throw std::invalid_argument("ids[" + std::to_string(i) + "] = " + std::to_string(seqs.ids[i]) +
                                  " is out of range [0, " + std::to_string(s.vocab) + ") (vocab)");
}

TrainResult train(const ModelShape& s, std::vector<float> params, const TokenSequences& seqs,
                  const std::vector<uint32_t>& order, const TrainOptions& opt, TrainSink* sink) {
  validateShape(s);
  checkParams(s, params);
  validateSequences(s, seqs);
  checkExamples(seqs, order, "order");
  if (opt.batchSize < 1) throw std::invalid_argument("Expected `batchSize` >= 1");
  const size_t steps = (order.size() + opt.batchSize - 1) / opt.batchSize;
  if (opt.lr.size() != steps)
    throw std::invalid_argument("`lr` has " + std::to_string(opt.lr.size()) + " entries but training takes " +
                                std::to_string(steps) + " steps");
  for (size_t i = 0; i < opt.lr.size(); i++)
    if (!std::isfinite(opt.lr[i]) || opt.lr[i] < 0)
      throw std::invalid_argument("lr[" + std::to_string(i) + "] must be finite and >= 0");
  for (size_t i = 1; i < opt.checkpoints.size(); i++)
    if (opt.checkpoints[i] < opt.checkpoints[i - 1]) throw std::invalid_argument("`checkpoints` must be nondecreasing");

  const ParamLayout L = layoutOf(s);
  TrainResult r;
  r.stepLoss.reserve(steps);
  std::vector<float> g(L.total);
  TileScratch w(s);
  size_t nextCheckpoint = 0;
  for (size_t step = 0; step < steps; step++) {
    std::fill(g.begin(), g.end(), 0.0f);
    double loss = 0;
    uint64_t count = 0;
    const auto flush = [&] {
      double tileLoss[kTile] = {0};
      forwardTile(s, L, params.data(), w, tileLoss);
      backwardTile(s, L, params.data(), w, g.data());
      for (size_t i = 0; i < w.n; i++) loss += tileLoss[i];
      w.n = 0;
    };
    const size_t first = step * opt.batchSize, last = std::min(order.size(), first + opt.batchSize);
    for (size_t b = first; b < last; b++) {
      const size_t begin = seqs.offsets[order[b]], end = seqs.offsets[order[b] + 1];
      for (size_t t = begin; t < end; t++) {
        w.add(s, seqs.ids, begin, t);
        if (w.n == kTile) flush();
      }
      count += end - begin;
    }
    if (w.n > 0) flush();
    const float meanLoss = (float)(loss / (double)count);
    if (!std::isfinite(meanLoss))
      throw std::runtime_error("training diverged: non-finite loss at step " + std::to_string(step) +
                               " (lower the learning rate)");
    float scale = (float)(1.0 / (double)count);
    if (opt.clipNorm > 0) {
      double sq = 0;
      for (float v : g) sq += (double)v * v;
      const double norm = std::sqrt(sq) * scale;
      if (norm > opt.clipNorm) scale = (float)(scale * (opt.clipNorm / norm));
    }
    const float step_ = opt.lr[step] * scale;
    for (size_t i = 0; i < L.total; i++) params[i] -= step_ * g[i];
    r.tokens += count;
    r.stepLoss.push_back(meanLoss);
    while (nextCheckpoint < opt.checkpoints.size() && r.tokens >= opt.checkpoints[nextCheckpoint]) {
      r.checkpointParams.push_back(params);
      r.checkpointTokens.push_back(r.tokens);
      nextCheckpoint++;
    }
    if (sink && !sink->report(step + 1, steps, r.tokens, meanLoss)) throw Cancelled();
  }
  r.params = std::move(params);
  return r;
}

std::vector<double> sequenceLosses(const ModelShape& s, const std::vector<float>& params, const TokenSequences& seqs,
                                   unsigned threads) {
  validateShape(s);
  checkParams(s, params);
  validateSequences(s, seqs);
  const ParamLayout L = layoutOf(s);
  std::vector<double> out(seqs.numSequences, 0.0);
  parallelFor(seqs.numSequences, threads, [&](size_t a, size_t b) {
    TileScratch w(s);
    for (size_t i = a; i < b; i++) {
      const size_t begin = seqs.offsets[i], end = seqs.offsets[i + 1];
      double sum = 0;
      for (size_t t = begin; t < end;) {
        for (w.n = 0; w.n < kTile && t < end; t++) w.add(s, seqs.ids, begin, t);
        double tileLoss[kTile] = {0};
        forwardTile(s, L, params.data(), w, tileLoss);
        for (size_t k = 0; k < w.n; k++) sum += tileLoss[k];
      }
      out[i] = sum;
    }
  });
  return out;
}

LinearInputs linearInputs(const ModelShape& s, const std::vector<float>& params, const TokenSequences& seqs,
                          const std::vector<uint32_t>& examples, Layer layer) {
  validateShape(s);
  checkParams(s, params);
  validateSequences(s, seqs);
  checkExamples(seqs, examples, "examples");
  const ParamLayout L = layoutOf(s);
  const LayerDims d = layerDims(s, layer);
  LinearInputs r;
  r.in = d.in + 1;
  r.out = d.out;
  r.exampleOffsets.push_back(0);
  size_t rows = 0;
  for (uint32_t e : examples) {
    rows += seqs.offsets[e + 1] - seqs.offsets[e];
    if (rows > 0xffffffffULL) throw std::invalid_argument("too many token rows for `examples` (over 2^32)");
    r.exampleOffsets.push_back((uint32_t)rows);
  }
  r.acts.resize(rows * r.in);
  r.grads.resize(rows * r.out);
  Scratch w(s);
  size_t row = 0;
  for (uint32_t e : examples) {
    const size_t begin = seqs.offsets[e], end = seqs.offsets[e + 1];
    for (size_t t = begin; t < end; t++, row++) {
      contextAt(s, seqs.ids, begin, t, w);
      forward(s, L, params.data(), seqs.ids[t], w);
      backwardSignals(s, L, params.data(), seqs.ids[t], w);
      float* a = r.acts.data() + row * r.in;
      const std::vector<float>& src = layer == Layer::Hidden ? w.x : w.h;
      std::copy(src.begin(), src.end(), a);
      a[d.in] = 1.0f;
      const std::vector<float>& gs = layer == Layer::Hidden ? w.g1 : w.g2;
      std::copy(gs.begin(), gs.end(), r.grads.data() + row * r.out);
    }
  }
  return r;
}

std::vector<float> exampleGradients(const ModelShape& s, const std::vector<float>& params, const TokenSequences& seqs,
                                    const std::vector<uint32_t>& examples, Layer layer, unsigned threads) {
  validateShape(s);
  checkParams(s, params);
  validateSequences(s, seqs);
  checkExamples(seqs, examples, "examples");
  const ParamLayout L = layoutOf(s);
  const LayerDims d = layerDims(s, layer);
  const size_t in = d.in + 1, out = d.out, size = in * out;
  std::vector<float> result(examples.size() * size, 0.0f);
  parallelFor(examples.size(), threads, [&](size_t a, size_t b) {
    Scratch w(s);
    for (size_t i = a; i < b; i++) {
      float* gm = result.data() + i * size;
      const size_t begin = seqs.offsets[examples[i]], end = seqs.offsets[examples[i] + 1];
      for (size_t t = begin; t < end; t++) {
        contextAt(s, seqs.ids, begin, t, w);
        forward(s, L, params.data(), seqs.ids[t], w);
        backwardSignals(s, L, params.data(), seqs.ids[t], w);
        const float* act = layer == Layer::Hidden ? w.x.data() : w.h.data();
        const float* gr = layer == Layer::Hidden ? w.g1.data() : w.g2.data();
        for (size_t r = 0; r < d.in; r++) axpy(gm + r * out, act[r], gr, out);
        axpy(gm + d.in * out, 1.0f, gr, out);
      }
    }
  });
  return result;
}

}  // namespace curricula::model
