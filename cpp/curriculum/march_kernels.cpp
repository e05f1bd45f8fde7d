// Per-group passes of the target-table march, on 4-lane vectors (GCC/Clang vector
// extensions): exact IEEE operations in a fixed order, whatever the ISA.
#include "curriculum/march_kernels.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

// The vector helpers are always inlined and internal, so the ABI of passing v4 never applies.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace curricula::curriculum {
namespace {

typedef double v4 __attribute__((vector_size(32)));
typedef long long v4i __attribute__((vector_size(32)));
#define MARCH_INLINE __attribute__((always_inline)) inline

MARCH_INLINE v4 load4(const double* p) {
  v4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
MARCH_INLINE void store4(double* p, v4 v) { std::memcpy(p, &v, sizeof v); }
MARCH_INLINE v4 splat(double x) { return v4{x, x, x, x}; }
MARCH_INLINE v4 vabs(v4 x) {
  const long long m = 0x7fffffffffffffffLL;
  return (v4)((v4i)x & v4i{m, m, m, m});
}
MARCH_INLINE v4 vmax(v4 a, v4 b) { return a < b ? b : a; }
// 32-byte aligned scratch for the rare many-panel cells (std::vector<v4> need not be aligned).
struct V4Scratch {
  v4* p;
  explicit V4Scratch(size_t n) : p(n ? static_cast<v4*>(std::aligned_alloc(32, n * sizeof(v4))) : nullptr) {
    if (n && !p) throw std::bad_alloc();
  }
  ~V4Scratch() { std::free(p); }
};

MARCH_INLINE double laneSum(v4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }
MARCH_INLINE double laneMax(v4 v) {
  const double a = v[0] < v[1] ? v[1] : v[0], b = v[2] < v[3] ? v[3] : v[2];
  return a < b ? b : a;
}

// exp(v) by its Taylor polynomial (relative error < 2e-21 for |v| <= 1e-3), else libm.
MARCH_INLINE v4 expLanes(v4 v, bool taylor) {
  if (taylor) return 1 + v * (1 + v * 0.5 * (1 + v * (1.0 / 3) * (1 + v * 0.25 * (1 + v * 0.2))));
  return v4{std::exp(v[0]), std::exp(v[1]), std::exp(v[2]), std::exp(v[3])};
}

// ---- pass 1: powers of c_k and their sums over groups ----

template <int Mfix>
MARCH_INLINE void powerBlock(const double* b4, const double* p4, v4 h, bool taylor, size_t M, v4* acc, double* c4,
                             double* l4) {
  const v4 cc = expLanes(load4(b4) * h, taylor);
  v4 pw = load4(p4);
  acc[0] += pw;
  for (size_t t = 1; t < (Mfix > 0 ? (size_t)Mfix : M); t++) {
    pw *= cc;
    acc[t] += pw;
  }
  store4(c4, cc);
  store4(l4, pw);
}

template <int Mfix>
MARCH_INLINE void powerSumsImpl(const double* bs, const double* p, size_t n, double hs, bool taylor, size_t M,
                                double* cpow, double* lastPow, double* z) {
  v4 fixedAcc[Mfix > 0 ? Mfix : 1];
  V4Scratch dynAcc(Mfix > 0 ? 0 : M);
  v4* acc = Mfix > 0 ? fixedAcc : dynAcc.p;
  for (size_t t = 0; t < M; t++) acc[t] = splat(0);
  const v4 h = splat(hs);
  const size_t n4 = n & ~size_t(3);
  for (size_t k = 0; k < n4; k += 4)
    powerBlock<Mfix>(bs + k, p + k, h, taylor, M, acc, cpow + k, lastPow + k);
  if (n4 < n) {  // zero padding: c = 1 and p = 0 add exact zeros
    double b4[4] = {0, 0, 0, 0}, p4[4] = {0, 0, 0, 0}, c4[4], l4[4];
    std::memcpy(b4, bs + n4, (n - n4) * sizeof(double));
    std::memcpy(p4, p + n4, (n - n4) * sizeof(double));
    powerBlock<Mfix>(b4, p4, h, taylor, M, acc, c4, l4);
    std::memcpy(cpow + n4, c4, (n - n4) * sizeof(double));
    std::memcpy(lastPow + n4, l4, (n - n4) * sizeof(double));
  }
  for (size_t t = 0; t < M; t++) z[t] = laneSum(acc[t]);
}

// ---- pass 2: increments, compensated accumulation, the next p and its statistics ----

struct LaneStats {
  v4 bbar, qa, qb;
};

template <int Mfix>
MARCH_INLINE void advanceBlock(const v4* om, size_t M, const double* c4, const double* l4, v4 zInv, const double* b4,
                               v4 bbarOld, double* e4, double* m4, double* p4, double* r4, LaneStats& s) {
  const size_t Mn = Mfix > 0 ? (size_t)Mfix : M;
  const v4 cc = load4(c4);
  v4 acc = om[Mn - 1];
  for (size_t t = Mn - 1; t-- > 0;) acc = acc * cc + om[t];
  const v4 x = load4(p4) * acc;
  const v4 e = load4(e4), sum = e + x;
  // Neumaier: the larger operand's low bits are what the rounding of e + x lost
  const v4i big = vabs(e) >= vabs(x);
  const v4 comp = load4(m4) + (big ? (e - sum) + x : (x - sum) + e);
  store4(e4, sum);
  store4(m4, comp);
  store4(r4, sum + comp);
  const v4 pk = load4(l4) * zInv;
  store4(p4, pk);
  const v4 b = load4(b4);
  s.bbar += pk * b;
  s.qa = vmax(s.qa, pk * vabs(b - bbarOld));
  s.qb = vmax(s.qb, pk);
}

template <int Mfix>
MARCH_INLINE CellStats advanceCellImpl(const double* omega, size_t M, const double* cpow, const double* lastPow,
                                       double zInv, const double* bs, double bbarOld, double* E, double* comp,
                                       double* p, double* row, size_t n) {
  v4 fixedOm[Mfix > 0 ? Mfix : 1];
  V4Scratch dynOm(Mfix > 0 ? 0 : M);
  v4* om = Mfix > 0 ? fixedOm : dynOm.p;
  for (size_t t = 0; t < M; t++) om[t] = splat(omega[t]);
  const v4 zi = splat(zInv), bo = splat(bbarOld);
  LaneStats s{splat(0), splat(0), splat(0)};
  const size_t n4 = n & ~size_t(3);
  for (size_t k = 0; k < n4; k += 4)
    advanceBlock<Mfix>(om, M, cpow + k, lastPow + k, zi, bs + k, bo, E + k, comp + k, p + k, row + k, s);
  if (n4 < n) {  // zero padding adds exact zeros to the sums and nothing to the maxima (all >= 0)
    const size_t r = n - n4, bytes = r * sizeof(double);
    double c4[4] = {0, 0, 0, 0}, l4[4] = {0, 0, 0, 0}, b4[4] = {0, 0, 0, 0};
    double e4[4] = {0, 0, 0, 0}, m4[4] = {0, 0, 0, 0}, p4[4] = {0, 0, 0, 0}, r4[4];
    std::memcpy(c4, cpow + n4, bytes);
    std::memcpy(l4, lastPow + n4, bytes);
    std::memcpy(b4, bs + n4, bytes);
    std::memcpy(e4, E + n4, bytes);
    std::memcpy(m4, comp + n4, bytes);
    std::memcpy(p4, p + n4, bytes);
    advanceBlock<Mfix>(om, M, c4, l4, zi, b4, bo, e4, m4, p4, r4, s);
    std::memcpy(E + n4, e4, bytes);
    std::memcpy(comp + n4, m4, bytes);
    std::memcpy(p + n4, p4, bytes);
    std::memcpy(row + n4, r4, bytes);
  }
  return {laneSum(s.bbar), laneMax(s.qa), laneMax(s.qb)};
}

// One body, two instruction sets. The 7-node case (one Newton-Cotes panel) is the common one.
#define MARCH_DEFINE(SUFFIX, ATTR)                                                                                    \
  ATTR void powerSums##SUFFIX(const double* bs, const double* p, size_t n, double hs, bool taylor, size_t M,         \
                              double* cpow, double* lastPow, double* z) {                                             \
    if (M == 7) powerSumsImpl<7>(bs, p, n, hs, taylor, M, cpow, lastPow, z);                                          \
    else powerSumsImpl<0>(bs, p, n, hs, taylor, M, cpow, lastPow, z);                                                 \
  }                                                                                                                   \
  ATTR CellStats advanceCell##SUFFIX(const double* omega, size_t M, const double* cpow, const double* lastPow,        \
                                     double zInv, const double* bs, double bbarOld, double* E, double* comp,          \
                                     double* p, double* row, size_t n) {                                              \
    if (M == 7) return advanceCellImpl<7>(omega, M, cpow, lastPow, zInv, bs, bbarOld, E, comp, p, row, n);           \
    return advanceCellImpl<0>(omega, M, cpow, lastPow, zInv, bs, bbarOld, E, comp, p, row, n);                       \
  }

MARCH_DEFINE(Base, )
#if defined(__x86_64__) || defined(__i386__)
MARCH_DEFINE(Avx2, __attribute__((target("avx2"))))
#endif

}  // namespace

bool marchUsesAvx2() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool on = [] {
    const char* off = std::getenv("CURRICULA_NO_AVX2");  // lets tests compare the two builds
    return __builtin_cpu_supports("avx2") && !(off && *off && std::strcmp(off, "0") != 0);
  }();
  return on;
#else
  return false;
#endif
}

void powerSums(const double* bs, const double* p, size_t n, double hs, bool taylor, size_t M, double* cpow,
               double* lastPow, double* z) {
#if defined(__x86_64__) || defined(__i386__)
  if (marchUsesAvx2()) return powerSumsAvx2(bs, p, n, hs, taylor, M, cpow, lastPow, z);
#endif
  powerSumsBase(bs, p, n, hs, taylor, M, cpow, lastPow, z);
}

CellStats advanceCell(const double* omega, size_t M, const double* cpow, const double* lastPow, double zInv,
                      const double* bs, double bbarOld, double* E, double* comp, double* p, double* row, size_t n) {
#if defined(__x86_64__) || defined(__i386__)
  if (marchUsesAvx2()) return advanceCellAvx2(omega, M, cpow, lastPow, zInv, bs, bbarOld, E, comp, p, row, n);
#endif
  return advanceCellBase(omega, M, cpow, lastPow, zInv, bs, bbarOld, E, comp, p, row, n);
}

}  // namespace curricula::curriculum
