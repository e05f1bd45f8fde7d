// Per-example L2 norms (in double, with a non-finite check) and the clipping
// factor min(1, t / |g|).
#pragma once
#include <cstddef>
#include <cstdint>

namespace curricula::influence {

enum class GradDtype { F32, F16, BF16 };

float halfToFloat(uint16_t h);
inline float bf16ToFloat(uint16_t b) {
  union { uint32_t u; float f; } v{(uint32_t)b << 16};
  return v.f;
}

// Row `r` of an n x D matrix of `dtype` into dst (D floats).
void rowToFloat(const void* src, GradDtype dtype, size_t D, size_t r, float* dst);

// sqrt(sum g_i^2) in double; NaN if any element is not finite.
double l2Norm(const float* g, size_t D);

// |sum_t g_t a_t^T|_F for one example without forming the out x in matrix:
// sqrt(sum_{t,s} (g_t.g_s)(a_t.a_s)), O(T^2 (in + out)).
double kroneckerNorm(const float* A, const float* G, size_t T, size_t in, size_t out);

// The clipping factor: 1 when t is infinite or |g| <= t, else t / |g|.
inline double clipFactor(double norm, double t) { return norm > t ? t / norm : 1.0; }

}  // namespace curricula::influence
