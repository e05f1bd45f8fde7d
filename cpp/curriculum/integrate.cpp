// Cumulative curriculum targets and the target table (bounds: docs/curriculum.md).
#include "curriculum/integrate.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "curriculum/march_kernels.hpp"

namespace curricula::curriculum {
namespace {

constexpr double kEps = 0x1p-53;
// Max of |g(z)|/g(x) on the disc |z - x| <= 1/r, for g = e^s softmax_k(a + b s)
// with r = 1 + (slope range): e / cos(1/2).
constexpr double kDiscRatio = 3.0974;
constexpr int kMaxGauss = 16;

struct GaussRule {
  std::vector<double> x, w;  // on [-1, 1]
};

GaussRule makeGauss(int m) {
  GaussRule r;
  r.x.resize(m);
  r.w.resize(m);
  for (int i = 0; i < m; i++) {
    double x = std::cos(M_PI * (i + 0.75) / (m + 0.5));
    double dp = 1;
    for (int it = 0; it < 100; it++) {
      double p0 = 1, p1 = x;
      for (int k = 2; k <= m; k++) {
        const double p2 = ((2.0 * k - 1) * x * p1 - (k - 1.0) * p0) / k;
        p0 = p1;
        p1 = p2;
      }
      if (m == 1) p0 = 1, p1 = x;
      dp = m * (x * p1 - p0) / (x * x - 1);
      const double dx = p1 / dp;
      x -= dx;
      if (std::fabs(dx) < 1e-17) break;
    }
    r.x[i] = x;
    r.w[i] = 2 / ((1 - x * x) * dp * dp);
  }
  return r;
}

const std::vector<GaussRule>& gaussRules() {
  static const std::vector<GaussRule> rules = [] {
    std::vector<GaussRule> v(kMaxGauss + 1);
    for (int m = 1; m <= kMaxGauss; m++) v[m] = makeGauss(m);
    return v;
  }();
  return rules;
}

// A-priori bound on the relative error of m-point Gauss-Legendre on a piece with
// u = width * r (Cauchy estimate on discs of radius 1/r; docs/curriculum.md).
double gaussBound(int m, double u) {
  const double lg = 4 * std::lgamma(m + 1.0) - std::log(2.0 * m + 1) - 2 * std::lgamma(2.0 * m + 1);
  return std::exp(lg + 2 * m * std::log(u) + u) * kDiscRatio;
}

int gaussOrderFor(double u, double target) {
  if (u <= 0) return 1;
  for (int m = 1; m <= kMaxGauss; m++)
    if (gaussBound(m, u) <= target) return m;
  return kMaxGauss;
}

// Same for the closed 7-point Newton-Cotes rule on a panel with u = width * r.
double newtonCotes7Bound(double u) { return 2.5714e-5 * kDiscRatio * std::pow(u, 8) * std::exp(u); }

double newtonCotes7MaxU(double target) {
  double lo = 0, hi = 1;
  if (newtonCotes7Bound(hi) <= target) return hi;
  for (int i = 0; i < 200; i++) {
    const double mid = 0.5 * (lo + hi);
    (newtonCotes7Bound(mid) <= target ? lo : hi) = mid;
  }
  return lo;
}

void neumaierAdd(double& sum, double& comp, double x) {
  const double t = sum + x;
  if (std::fabs(sum) >= std::fabs(x))
    comp += (sum - t) + x;
  else
    comp += (x - t) + sum;
  sum = t;
}

// Per knot interval: slopes and their range.
struct Interval {
  double s0 = 0, s1 = 0;
  const double* L0 = nullptr;
  const double* L1 = nullptr;
  std::vector<double> slope;
  double bmin = 0, bmax = 0;
  double range() const { return bmax - bmin; }
};

class Engine {
 public:
  explicit Engine(const CurriculumView& c) : c_(c), K_(c.numGroups) {
    for (size_t i = 0; i + 1 < c.numKnots; i++) {
      Interval iv;
      iv.s0 = c.s[i];
      iv.s1 = c.s[i + 1];
      iv.L0 = c.logits + i * K_;
      iv.L1 = c.logits + (i + 1) * K_;
      iv.slope.resize(K_);
      const double ds = iv.s1 - iv.s0;
      iv.bmin = std::numeric_limits<double>::infinity();
      iv.bmax = -iv.bmin;
      for (size_t k = 0; k < K_; k++) {
        iv.slope[k] = (iv.L1[k] - iv.L0[k]) / ds;
        iv.bmin = std::min(iv.bmin, iv.slope[k]);
        iv.bmax = std::max(iv.bmax, iv.slope[k]);
      }
      intervals_.push_back(std::move(iv));
    }
    first_.resize(K_);
    last_.resize(K_);
    softmaxRow(c.logits, first_.data());
    softmaxRow(c.logits + (c.numKnots - 1) * K_, last_.data());
    work_.resize(K_);
  }

  size_t K() const { return K_; }
  const std::vector<Interval>& intervals() const { return intervals_; }

  void softmaxRow(const double* f, double* out) const {
    double mx = -std::numeric_limits<double>::infinity();
    for (size_t k = 0; k < K_; k++) mx = std::max(mx, f[k]);
    double z = 0;
    for (size_t k = 0; k < K_; k++) z += (out[k] = std::exp(f[k] - mx));
    const double inv = 1 / z;
    for (size_t k = 0; k < K_; k++) out[k] *= inv;
  }

  // softmax(f(s)) for s inside interval iv (linear interpolation exact at both knots).
  void softmaxIn(const Interval& iv, double s, double* out) {
    const double lam = (s - iv.s0) / (iv.s1 - iv.s0);
    for (size_t k = 0; k < K_; k++) work_[k] = (1 - lam) * iv.L0[k] + lam * iv.L1[k];
    softmaxRow(work_.data(), out);
  }

  void mixtureAtLog(double s, double* out) {
    if (!(s > c_.s[0])) return std::copy(first_.begin(), first_.end(), out), void();
    if (s >= c_.s[c_.numKnots - 1]) return std::copy(last_.begin(), last_.end(), out), void();
    softmaxIn(intervals_[intervalOf(s)], s, out);
  }

  size_t intervalOf(double s) const {
    // last i with s_i <= s, clamped to a valid interval
    size_t i = std::upper_bound(c_.s, c_.s + c_.numKnots, s) - c_.s;
    i = i == 0 ? 0 : i - 1;
    return std::min(i, intervals_.size() - 1);
  }

  // sum/comp += ∫_{x0}^{x1} p(n) dn (n-space, 0 <= x0 <= x1), Gauss-Legendre in s.
  void integrateRange(double x0, double x1, double* sum, double* comp, double relTarget) {
    if (!(x1 > x0)) return;
    const double nFirst = std::exp(c_.s[0]);
    const double nLast = std::exp(c_.s[c_.numKnots - 1]);
    if (x0 < nFirst) {
      const double len = std::min(x1, nFirst) - x0;
      for (size_t k = 0; k < K_; k++) neumaierAdd(sum[k], comp[k], first_[k] * len);
    }
    if (x1 > nLast) {
      const double len = x1 - std::max(x0, nLast);
      for (size_t k = 0; k < K_; k++) neumaierAdd(sum[k], comp[k], last_[k] * len);
    }
    if (intervals_.empty()) return;
    const double sa = std::max(std::log(x0), c_.s[0]);
    const double sb = std::min(std::log(x1), c_.s[c_.numKnots - 1]);
    if (!(sb > sa)) return;
    const auto& rules = gaussRules();
    std::vector<double>& p = pbuf_;
    p.resize(K_);
    for (size_t i = intervalOf(sa); i < intervals_.size() && intervals_[i].s0 < sb; i++) {
      const Interval& iv = intervals_[i];
      const double lo = std::max(sa, iv.s0), hi = std::min(sb, iv.s1);
      if (!(hi > lo)) continue;
      const double r = 1 + iv.range();
      const size_t pieces = (size_t)std::max(1.0, std::ceil((hi - lo) * r));
      const double w = (hi - lo) / (double)pieces;
      const int m = gaussOrderFor(w * r, relTarget);
      const GaussRule& g = rules[m];
      for (size_t q = 0; q < pieces; q++) {
        const double a = lo + w * (double)q;
        const double b = q + 1 == pieces ? hi : a + w;
        const double mid = 0.5 * (a + b), half = 0.5 * (b - a);
        for (int t = 0; t < m; t++) {
          const double s = mid + half * g.x[t];
          softmaxIn(iv, s, p.data());
          const double wt = g.w[t] * half * std::exp(s);
          for (size_t k = 0; k < K_; k++) neumaierAdd(sum[k], comp[k], wt * p[k]);
        }
      }
    }
  }

 private:
  CurriculumView c_;
  size_t K_;
  std::vector<Interval> intervals_;
  std::vector<double> first_, last_, work_, pbuf_;
};

// Reusable barrier for a few threads; spins briefly, then yields (the machine may be busy).
class SpinBarrier {
 public:
  explicit SpinBarrier(size_t n) : n_(n) {}
  void wait() {
    if (n_ == 1) return;
    const size_t gen = gen_.load(std::memory_order_acquire);
    if (count_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_) {
      count_.store(0, std::memory_order_relaxed);
      gen_.fetch_add(1, std::memory_order_acq_rel);
      return;
    }
    for (int spins = 0; gen_.load(std::memory_order_acquire) == gen;)
      if (++spins > 256) std::this_thread::yield();
  }

 private:
  size_t n_;
  std::atomic<size_t> count_{0}, gen_{0};
};

std::string num(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

}  // namespace

void validateCurriculum(const CurriculumView& c) {
  if (c.numKnots < 1) throw std::invalid_argument("a curriculum needs at least one knot (`knots` is empty)");
  if (c.numGroups < 1) throw std::invalid_argument("a curriculum needs at least one group (`groups` is 0)");
  for (size_t i = 0; i < c.numKnots; i++) {
    if (!std::isfinite(c.s[i]))
      throw std::invalid_argument("knot s[" + std::to_string(i) + "] = " + num(c.s[i]) + " is not finite");
    if (i > 0 && !(c.s[i] > c.s[i - 1]))
      throw std::invalid_argument("knots must be strictly increasing but s[" + std::to_string(i) + "] = " + num(c.s[i]) +
                                  " <= s[" + std::to_string(i - 1) + "] = " + num(c.s[i - 1]));
  }
  for (size_t i = 0; i < c.numKnots * c.numGroups; i++)
    if (!std::isfinite(c.logits[i]))
      throw std::invalid_argument("logits[" + std::to_string(i / c.numGroups) + "][" + std::to_string(i % c.numGroups) +
                                  "] = " + num(c.logits[i]) + " is not finite");
}

void mixtureAtLog(const CurriculumView& c, double s, double* out) {
  validateCurriculum(c);
  Engine(c).mixtureAtLog(s, out);
}

void cumulativeAt(const CurriculumView& c, const double* points, size_t numPoints, double* out) {
  validateCurriculum(c);
  for (size_t i = 0; i < numPoints; i++)
    if (!std::isfinite(points[i]) || points[i] < 0)
      throw std::invalid_argument("points[" + std::to_string(i) + "] = " + num(points[i]) +
                                  " must be a finite number of tokens >= 0");
  Engine eng(c);
  const size_t K = c.numGroups;
  std::vector<size_t> order(numPoints);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return points[a] < points[b]; });
  std::vector<double> sum(K, 0.0), comp(K, 0.0);
  double x = 0;
  for (size_t idx : order) {
    eng.integrateRange(x, points[idx], sum.data(), comp.data(), 1e-15);
    x = std::max(x, points[idx]);
    for (size_t k = 0; k < K; k++) out[idx * K + k] = sum[k] + comp[k];
  }
}

TargetTable buildTargetTable(const CurriculumView& c, double T, double maxErr, size_t maxEntries, TableProgress* progress,
                             size_t threads) {
  validateCurriculum(c);
  if (!(T >= 1) || T > 9007199254740992.0 || std::floor(T) != T)
    throw std::invalid_argument("totalTokens = " + num(T) + " must be a positive integer below 2^53");
  if (!std::isfinite(maxErr) || maxErr < 0.3)
    throw std::invalid_argument("maxErrorTokens = " + num(maxErr) + " must be a finite number >= 0.3");
  const size_t K = c.numGroups;
  double maxAbsLogit = 0;
  for (size_t i = 0; i < c.numKnots * K; i++) maxAbsLogit = std::max(maxAbsLogit, std::fabs(c.logits[i]));

  TargetTable out;
  const double quadRel = std::min(1e-13, 0.01 * maxErr / T);
  const double roundRel = (2.0 * (double)K + 16 * maxAbsLogit + 400) * kEps;
  out.quadratureBound = T * (quadRel + roundRel);
  const double eps = maxErr - out.quadratureBound;
  if (eps < 0.25)
    throw std::invalid_argument("maxErrorTokens = " + num(maxErr) + " is too small for totalTokens = " + num(T) + " and " +
                                std::to_string(K) + " groups: the quadrature and rounding bound alone is " +
                                num(out.quadratureBound) + " tokens and one-token cells need 0.25");
  const double uMax = newtonCotes7MaxU(quadRel);

  Engine eng(c);
  const auto& intervals = eng.intervals();

  // Grid marks: floor/ceil of every knot inside (0, T), and T.
  std::vector<double> marks{T}, knotTokens(c.numKnots);
  for (size_t i = 0; i < c.numKnots; i++) {
    // nondecreasing; a knot within 1e-12 relative of an integer is taken as that integer
    // (exp(log(10)) = 10.000000000000002); the sliver this moves is below any bound here
    const double n = std::exp(c.s[i]), rn = std::round(n);
    knotTokens[i] = std::fabs(n - rn) <= 1e-12 * n ? rn : n;
  }
  for (size_t i = 0; i < c.numKnots; i++) {
    const double n = knotTokens[i];
    if (!(n < T)) continue;
    if (std::floor(n) >= 1) marks.push_back(std::floor(n));
    marks.push_back(std::ceil(n));
  }
  std::sort(marks.begin(), marks.end());
  marks.erase(std::unique(marks.begin(), marks.end()), marks.end());

  std::vector<double> E(K, 0.0), comp(K, 0.0);
  size_t rows = 0;
  // Reserves the row for grid point `tokens` and returns where its K values go
  // (valid until the next row is reserved).
  auto newRow = [&](double tokens) -> double* {
    if (rows + 1 > maxEntries / K)
      throw std::invalid_argument("the target table would exceed maxEntries = " + std::to_string(maxEntries) +
                                  " entries (" + std::to_string(rows + 1) + " grid points x " + std::to_string(K) +
                                  " groups, reached at " + num(tokens) + " of " + num(T) +
                                  " tokens); raise maxErrorTokens or maxEntries");
    out.tokens.push_back(tokens);
    rows++;
    return out.cumulative.append(K);
  };
  auto appendRow = [&](double tokens) {
    double* row = newRow(tokens);
    for (size_t k = 0; k < K; k++) row[k] = E[k] + comp[k];
  };
  appendRow(0);
  size_t cells = 0;
  auto tick = [&](double x) {
    if (progress && (++cells & 63) == 0 && !progress->report(x, T)) throw Cancelled();
  };

  std::vector<double> p(K), cpow(K), lastPow(K), bs(K);
  // Groups are processed in fixed chunks; per-chunk partial sums are combined in chunk
  // order, so the table is the same for any number of threads.
  constexpr size_t kChunk = 512;
  const size_t nChunks = (K + kChunk - 1) / kChunk;
  const size_t nThreads = std::max<size_t>(1, std::min<size_t>(threads, nChunks));
  std::vector<std::vector<double>> zPart(nChunks);
  std::vector<CellStats> statPart(nChunks);

  auto march = [&](const Interval& iv, double xStart, double y) {
    const double R = iv.range(), r = 1 + R;
    // slopes shifted by bmax (<= 0): powers of c stay <= 1; the shift cancels in p_k c^t / Z_t
    for (size_t k = 0; k < K; k++) bs[k] = iv.slope[k] - iv.bmax;
    const double growthCap = std::expm1(1 / R);
    // Start-of-cell statistics of p: b̄ = Σ p_k b_k, Qa = max p_k |b_k − b̄|, Qb = max p_k (set by thread 0).
    double sBbar = 0, sQa = 0, sQb = 0;
    auto exactStart = [&](double at) {
      eng.softmaxIn(iv, std::log(at), p.data());
      sBbar = 0, sQa = 0, sQb = 0;
      for (size_t k = 0; k < K; k++) sBbar += p[k] * bs[k];
      for (size_t k = 0; k < K; k++) {
        sQa = std::max(sQa, p[k] * std::fabs(bs[k] - sBbar));
        sQb = std::max(sQb, p[k]);
      }
    };
    exactStart(xStart);
    SpinBarrier barrier(nThreads);
    bool stop = false;
    std::exception_ptr error;
    double* sharedRow = nullptr;

    auto worker = [&](size_t tid) {
      double x = xStart, bbar = sBbar, Qa = sQa, Qb = sQb;
      size_t sinceRefresh = 0;
      std::vector<double> W, omega, Z;
      while (x < y) {
        // Curvature bound (docs/curriculum.md): on [x, x e^d], |E_k''(n)| <= e^{R d} (Qa + Qb d R^2/4) / x.
        const double qa = Qa * (1 + 1e-9) + 1e-300;  // p carries a tiny propagation error
        const double qb = Qb * (1 + 1e-9);
        double h = std::min(std::sqrt(8 * eps * x / qa), x * growthCap);
        const double d0 = std::log1p(h / x);
        const double Qd = (qa + qb * d0 * R * R / 4) * std::exp(R * d0);
        h = std::min(h, std::sqrt(8 * eps * x / Qd));
        const double step = h >= y - x ? y - x : std::max(1.0, std::floor(h));
        const double x1 = x + step;
        const double delta = std::log1p(step / x);

        // Composite closed 7-point Newton-Cotes in s over [log x, log x1]: nodes t = j*hs.
        const size_t P = (size_t)std::max(1.0, std::ceil(delta * r / uMax));
        const size_t M = 6 * P + 1;
        const double hs = delta / (double)(6 * P);
        static const double nc[7] = {41, 216, 27, 272, 27, 216, 41};
        W.assign(M, 0.0);
        for (size_t q = 0; q < P; q++)
          for (int t = 0; t < 7; t++) W[6 * q + t] += nc[t] * hs / 140;
        // exp(bs*hs) by its Taylor polynomial when |bs*hs| <= 1e-3 (relative error < 2e-21)
        const bool taylor = R * hs <= 1e-3;
        for (size_t ch = tid; ch < nChunks; ch += nThreads) {
          const size_t k0 = ch * kChunk, n = std::min(K, k0 + kChunk) - k0;
          zPart[ch].resize(M);
          powerSums(&bs[k0], &p[k0], n, hs, taylor, M, &cpow[k0], &lastPow[k0], zPart[ch].data());
        }
        if (tid == 0) {
          out.interpolationBound = std::max(out.interpolationBound, std::min(0.25 * step, step * step / 8 * Qd / x));
          try {
            tick(x);
            sharedRow = newRow(x1);
          } catch (...) {
            error = std::current_exception();
            stop = true;
          }
        }
        barrier.wait();
        if (stop) return;
        Z.assign(M, 0.0);
        for (size_t ch = 0; ch < nChunks; ch++)
          for (size_t t = 0; t < M; t++) Z[t] += zPart[ch][t];
        omega.resize(M);
        for (size_t t = 0; t < M; t++) omega[t] = W[t] * x * std::exp((double)t * hs) / Z[t];
        const double zInv = 1 / Z[M - 1];
        // One pass: increments, the row, p at x1, and the next cell's statistics. Qa is taken
        // against the old b̄ and widened by |b̄_new − b̄_old| (triangle inequality), so it stays a bound.
        for (size_t ch = tid; ch < nChunks; ch += nThreads) {
          const size_t k0 = ch * kChunk, n = std::min(K, k0 + kChunk) - k0;
          statPart[ch] = advanceCell(omega.data(), M, &cpow[k0], &lastPow[k0], zInv, &bs[k0], bbar, &E[k0], &comp[k0],
                                     &p[k0], sharedRow + k0, n);
        }
        barrier.wait();
        double nbbar = 0, nQa = 0, nQb = 0;
        for (size_t ch = 0; ch < nChunks; ch++) {
          nbbar += statPart[ch].bbar;
          nQa = std::max(nQa, statPart[ch].qa);
          nQb = std::max(nQb, statPart[ch].qb);
        }
        Qa = nQa + nQb * std::fabs(nbbar - bbar);
        Qb = nQb;
        bbar = nbbar;
        x = x1;
        if (++sinceRefresh == 16 && x1 < y) {
          if (tid == 0) exactStart(x1);  // bound the drift of propagated p
          barrier.wait();
          bbar = sBbar, Qa = sQa, Qb = sQb;
          sinceRefresh = 0;
        }
      }
    };
    std::vector<std::thread> pool;
    for (size_t t = 1; t < nThreads; t++) pool.emplace_back(worker, t);
    worker(0);
    for (auto& th : pool) th.join();
    if (error) std::rethrow_exception(error);
  };

  double x = 0;
  for (double y : marks) {
    if (!(y > x)) continue;
    // A knot strictly inside (x, y) makes this a one-token cell; otherwise (x, y) lies in one region.
    const double sMid = std::log(0.5 * (x + y));
    const auto next = std::upper_bound(knotTokens.begin(), knotTokens.end(), x);
    const bool inside = next != knotTokens.end() && *next < y;
    const bool constant = intervals.empty() || !(sMid > c.s[0]) || sMid >= c.s[c.numKnots - 1] ||
                          intervals[eng.intervalOf(sMid)].range() == 0;
    if (inside || constant || x == 0) {
      eng.integrateRange(x, y, E.data(), comp.data(), 1e-15);
      appendRow(y);
      if (!constant || inside) out.interpolationBound = std::max(out.interpolationBound, 0.25 * (y - x));
      tick(y);
      x = y;
      continue;
    }
    // March through knot interval iv from x to y (x >= 1).
    const Interval& iv = intervals[eng.intervalOf(sMid)];
    march(iv, x, y);
    x = y;
  }
  return out;
}

}  // namespace curricula::curriculum
