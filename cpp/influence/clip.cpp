#include "influence/clip.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace curricula::influence {

float halfToFloat(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t mant = h & 0x3ff;
  float f;
  if (exp == 0) {
    f = std::ldexp((float)mant, -24);  // zero or subnormal
    if (sign) f = -f;
    return f;
  }
  uint32_t bits;
  if (exp == 31) bits = sign | 0x7f800000u | (mant << 13);  // inf / nan
  else bits = sign | ((exp + 112) << 23) | (mant << 13);
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

void rowToFloat(const void* src, GradDtype dtype, size_t D, size_t r, float* dst) {
  switch (dtype) {
    case GradDtype::F32:
      std::memcpy(dst, static_cast<const float*>(src) + r * D, D * sizeof(float));
      return;
    case GradDtype::F16: {
      const uint16_t* s = static_cast<const uint16_t*>(src) + r * D;
      for (size_t i = 0; i < D; i++) dst[i] = halfToFloat(s[i]);
      return;
    }
    case GradDtype::BF16: {
      const uint16_t* s = static_cast<const uint16_t*>(src) + r * D;
      for (size_t i = 0; i < D; i++) dst[i] = bf16ToFloat(s[i]);
      return;
    }
  }
}

double l2Norm(const float* g, size_t D) {
  double s = 0;
  for (size_t i = 0; i < D; i++) s += (double)g[i] * (double)g[i];
  // s is NaN or inf exactly when some element is (float^2 * D cannot overflow a double)
  return std::isfinite(s) ? std::sqrt(s) : NAN;
}

double kroneckerNorm(const float* A, const float* G, size_t T, size_t in, size_t out) {
  for (size_t i = 0; i < T * in; i++)
    if (!std::isfinite(A[i])) return NAN;
  for (size_t i = 0; i < T * out; i++)
    if (!std::isfinite(G[i])) return NAN;
  auto dot = [](const float* x, const float* y, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * (double)y[i];
    return s;
  };
  double s = 0;
  for (size_t t = 0; t < T; t++)
    for (size_t u = 0; u < T; u++) s += dot(G + t * out, G + u * out, out) * dot(A + t * in, A + u * in, in);
  return std::sqrt(std::max(0.0, s));  // rounding can make a zero norm slightly negative
}

}  // namespace curricula::influence
