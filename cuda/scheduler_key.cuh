// The scheduler key of one candidate, operation for operation as
// ExactState::key (cpp/scheduler/exact_state.hpp). __host__ __device__ so the
// host emulation test (cuda/test/scheduler_key_host.cu) runs this very code
// on a machine without a GPU.
#pragma once
#include <cmath>
#include <cstdint>

#include "i128.cuh"
#include "scheduler/fixed_point.hpp"

namespace curricula::cuda {

// One family's state at the current prefix S (see FamilyState).
struct FamDev {
  i128 A, B, C, Bn, Cn, X;
  uint64_t S, nextStart;
  int64_t P;
  const i128* d0;  // deficitAt(k, S)
  const uint32_t* rc;
  const uint32_t* rn;
};

struct SeqDev {
  const uint64_t* length;
  const uint64_t *groupOff, *binOff;
  const uint32_t *groupId, *groupCount, *binId, *binCount;
};

__host__ __device__ inline i128 deficit(const FamDev& f, uint32_t k, uint64_t l) {
  const uint64_t e = f.S + l;
  if (e <= f.nextStart) return f.d0[k] - (i128)f.rc[k] * (i128)l;
  const uint64_t u = f.nextStart - f.S, v = e - f.nextStart;
  return f.d0[k] - (i128)f.rc[k] * (i128)u - (i128)f.rn[k] * (i128)v;
}

__host__ __device__ inline i128 phi(const FamDev& f, uint64_t l) {
  const uint64_t e = f.S + l;
  if (e <= f.nextStart) return f.A - 2 * (i128)l * f.B + (i128)l * (i128)l * f.C;
  const i128 u = (i128)(f.nextStart - f.S), v = (i128)(e - f.nextStart);
  return f.A - 2 * u * f.B - 2 * v * f.Bn + u * u * f.C + 2 * u * v * f.X + v * v * f.Cn;
}

__host__ __device__ inline i128 familyTerm(const FamDev& f, uint64_t l, const uint64_t* off, const uint32_t* id,
                                  const uint32_t* count, uint64_t s) {
  i128 t = phi(f, l);
  for (uint64_t i = off[s]; i < off[s + 1]; i++) {
    const i128 pc = (i128)f.P * count[i];
    t += pc * (pc + 2 * deficit(f, id[i], l));
  }
  return t;
}

struct KeyParams {
  double lambda, scaleKey, sigma;
  bool sos;
  const double* noise;  // M entries when sigma > 0
};

// (group term + lambda * bin term) * scale (sos) or with square roots (norm), plus the noise.
__host__ __device__ inline double candidateKey(const FamDev& g, const FamDev& b, const SeqDev& q, const KeyParams& p,
                                               uint64_t s) {
  const uint64_t l = q.length[s];
  const double gt = i128ToDouble(familyTerm(g, l, q.groupOff, q.groupId, q.groupCount, s));
  const double bt = i128ToDouble(familyTerm(b, l, q.binOff, q.binId, q.binCount, s));
  double k = p.sos ? (gt + p.lambda * bt) * p.scaleKey : (sqrt(gt) + p.lambda * sqrt(bt)) * p.scaleKey;
  if (p.sigma > 0) k += p.sigma * p.noise[s];
  return k;
}

}  // namespace curricula::cuda
