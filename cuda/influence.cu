// CUDA twins of the influence pipeline (cpp/influence/): per-example norms and
// clipping, dense / Rademacher / Kronecker projections with the CPU's
// counter-based elements, per-cluster segment sums and the covariance.
//
// Precision: projections are FP32 GEMMs with FP32 accumulation (as the CPU's
// sgemm); norms, the Kronecker outer products, segment sums and the covariance
// are FP64 with unfused multiply-adds (-fmad=false), each output summed over
// rows in row order, so they differ from the CPU only through the FP32 GEMM's
// summation order.
#include <cuda_fp16.h>

#include <cmath>
#include <limits>
#include <string>

#include "common.cuh"
#include "cuda_api.hpp"
#include "gemm.cuh"
#include "rng_device.cuh"

namespace curricula::cuda {
namespace {

using influence::GradBatch;
using influence::GradDtype;
using influence::ProjectionKind;
using influence::ProjectionSpec;

// ---- projection matrices, element for element as projection.cpp ----

// Divides by sqrt(d) as the CPU does (multiplying by 1/sqrt(d) can round differently).
__global__ void denseMatrix(uint64_t seed, size_t rows, size_t cols, double sqrtD, float* out) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < rows * cols; i += (size_t)gridDim.x * blockDim.x)
    out[i] = (float)(deviceGaussian(seed, i / cols, i % cols) / sqrtD);
}

__global__ void rademacherMatrix(uint64_t seed, size_t rows, size_t cols, float scale, float* out) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < rows * cols; i += (size_t)gridDim.x * blockDim.x) {
    const size_t r = i / cols, c = i % cols;
    const uint64_t h = counterHash(seed, r, c >> 6);
    out[i] = (h >> (c & 63)) & 1 ? -scale : scale;
  }
}

// ---- inputs ----

__global__ void widen(const uint16_t* in, size_t n, bool bf16, float* out) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    out[i] = bf16 ? __uint_as_float((uint32_t)in[i] << 16) : __half2float(__ushort_as_half(in[i]));
}

template <int kThreads>
__device__ double blockSum(double v) {
  __shared__ double part[kThreads];
  part[threadIdx.x] = v;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
    __syncthreads();
  }
  return part[0];
}

// One block per row: sqrt(sum g^2) in double, NaN when not finite (as l2Norm).
__global__ void rowNorms(const float* G, size_t D, double* out) {
  const float* g = G + blockIdx.x * D;
  double s = 0;
  for (size_t i = threadIdx.x; i < D; i += blockDim.x) s += (double)g[i] * (double)g[i];
  s = blockSum<256>(s);
  if (threadIdx.x == 0) out[blockIdx.x] = isfinite(s) ? sqrt(s) : nan("");
}

// One block per example: |sum_t g_t a_t^T|_F = sqrt(sum_{t,u} (g_t.g_u)(a_t.a_u)) (as kroneckerNorm).
__global__ void kroneckerNorms(const float* A, const float* Gout, size_t T, size_t in, size_t out, double* norms) {
  const float* a = A + blockIdx.x * T * in;
  const float* g = Gout + blockIdx.x * T * out;
  double s = 0;
  bool finite = true;
  for (size_t i = threadIdx.x; i < T * in; i += blockDim.x) finite &= isfinite(a[i]);
  for (size_t i = threadIdx.x; i < T * out; i += blockDim.x) finite &= isfinite(g[i]);
  for (size_t p = threadIdx.x; p < T * T; p += blockDim.x) {
    const size_t t = p / T, u = p % T;
    double ga = 0, aa = 0;
    for (size_t j = 0; j < out; j++) ga += (double)g[t * out + j] * (double)g[u * out + j];
    for (size_t j = 0; j < in; j++) aa += (double)a[t * in + j] * (double)a[u * in + j];
    s += ga * aa;
  }
  const int allFinite = __syncthreads_and(finite);
  s = blockSum<256>(s);
  if (threadIdx.x == 0) norms[blockIdx.x] = allFinite ? sqrt(s > 0 ? s : 0.0) : nan("");
}

// F[r][j] = scale[r] * (double)P[r][j]
__global__ void scaleRows(const float* P, const double* scale, size_t n, size_t d, double* F) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n * d; i += (size_t)gridDim.x * blockDim.x)
    F[i] = scale[i / d] * (double)P[i];
}

// feature[e][p * dIn + q] = sum_t gp[e,t][p] * ap[e,t][q] in double, then the clip factor.
__global__ void kroneckerFeatures(const float* ap, const float* gp, size_t n, size_t T, size_t dIn, size_t dOut,
                                  const double* scale, double* F) {
  const size_t d = dIn * dOut;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n * d; i += (size_t)gridDim.x * blockDim.x) {
    const size_t e = i / d, p = (i % d) / dIn, q = i % dIn;
    double f = 0;
    for (size_t t = 0; t < T; t++) f += (double)gp[(e * T + t) * dOut + p] * (double)ap[(e * T + t) * dIn + q];
    F[i] = scale[e] != 1.0 ? f * scale[e] : f;
  }
}

__global__ void firstNonFinite(const double* F, size_t n, unsigned long long* first) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    if (!isfinite(F[i])) atomicMin(first, (unsigned long long)i);
}

// ---- accumulation ----

// One thread per feature column: rows added in row order (as Accumulator::add).
__global__ void segmentSums(const double* F, size_t n, size_t d, const int32_t* cluster, const uint8_t* target,
                            double* sum, double* targetSum) {
  const size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  if (j >= d) return;
  for (size_t r = 0; r < n; r++) {
    const double f = F[r * d + j];
    if (target && target[r]) targetSum[j] += f;
    else sum[(size_t)cluster[r] * d + j] += f;
  }
}

// cov[i][j] = sum over the listed rows of F[r][i] * F[r][j], 16 x 16 tiles, rows in order.
__global__ void gram(const double* F, size_t d, const uint32_t* rows, size_t m, double* cov) {
  __shared__ double Fi[16][17], Fj[16][17];
  const size_t i = blockIdx.y * (size_t)16 + threadIdx.y, j = blockIdx.x * (size_t)16 + threadIdx.x;
  double acc = 0;
  for (size_t r0 = 0; r0 < m; r0 += 16) {
    const size_t r = r0 + threadIdx.y;
    const size_t ci = blockIdx.y * (size_t)16 + threadIdx.x, cj = blockIdx.x * (size_t)16 + threadIdx.x;
    Fi[threadIdx.y][threadIdx.x] = r < m && ci < d ? F[(size_t)rows[r] * d + ci] : 0.0;
    Fj[threadIdx.y][threadIdx.x] = r < m && cj < d ? F[(size_t)rows[r] * d + cj] : 0.0;
    __syncthreads();
    const size_t kk = m - r0 < 16 ? m - r0 : 16;
    for (size_t k = 0; k < kk; k++) acc += Fi[k][threadIdx.y] * Fj[k][threadIdx.x];
    __syncthreads();
  }
  if (i < d && j < d) cov[i * d + j] = acc;
}

void checkShape(const ProjectionSpec& spec, const GradBatch& b) {
  if (spec.kind == ProjectionKind::Kronecker) {
    if (b.n > 0 && (!b.activations || !b.outGrads || b.tokens == 0))
      throw std::invalid_argument("a kronecker batch needs `activations`, `outGrads` and `tokens` > 0");
  } else if (b.n > 0 && !b.grads) {
    throw std::invalid_argument("the batch has no `grads`");
  }
}

std::string rowLabel(uint64_t firstRow, size_t r) { return "example " + std::to_string(firstRow + r); }

// Clipped features on the device (n x d); throws like batchFeatures on non-finite rows or features.
DeviceBuffer<double> features(const ProjectionSpec& spec, const GradBatch& b, double clip, uint64_t firstRow) {
  influence::validateProjectionSpec(spec);
  checkShape(spec, b);
  requireDevice();
  const size_t n = b.n, d = spec.featureDim();
  DeviceBuffer<double> F(n * d);
  if (n == 0) return F;
  DeviceBuffer<double> norms(n);
  DeviceBuffer<float> ap, gp;
  if (spec.kind == ProjectionKind::Kronecker) {
    const size_t T = b.tokens, in = spec.inDim, out = spec.outDim, dIn = spec.inProj, dOut = spec.outProj;
    DeviceBuffer<float> A(n * T * in), G(n * T * out), Pin(in * dIn), Pout(out * dOut);
    A.upload(b.activations, A.size());
    G.upload(b.outGrads, G.size());
    kroneckerNorms<<<(unsigned)n, 256>>>(A.get(), G.get(), T, in, out, norms.get());
    checkLaunch("kroneckerNorms");
    const uint64_t sIn = counterHash(spec.seed, influence::kKroneckerTag, 0);
    const uint64_t sOut = counterHash(spec.seed, influence::kKroneckerTag, 1);
    denseMatrix<<<blocksFor(Pin.size(), 256), 256>>>(sIn, in, dIn, std::sqrt((double)dIn), Pin.get());
    denseMatrix<<<blocksFor(Pout.size(), 256), 256>>>(sOut, out, dOut, std::sqrt((double)dOut), Pout.get());
    checkLaunch("kronecker matrices");
    ap.resize(n * T * dIn);
    gp.resize(n * T * dOut);
    sgemm(n * T, dIn, in, A.get(), Pin.get(), ap.get());
    sgemm(n * T, dOut, out, G.get(), Pout.get(), gp.get());
  } else {
    const size_t D = spec.inputDim;
    DeviceBuffer<float> G(n * D), P(D * d);
    if (b.dtype == GradDtype::F32) {
      G.upload(static_cast<const float*>(b.grads), n * D);
    } else {
      DeviceBuffer<uint16_t> raw(n * D);
      raw.upload(static_cast<const uint16_t*>(b.grads), n * D);
      widen<<<blocksFor(n * D, 256), 256>>>(raw.get(), n * D, b.dtype == GradDtype::BF16, G.get());
      checkLaunch("widen");
    }
    rowNorms<<<(unsigned)n, 256>>>(G.get(), D, norms.get());
    checkLaunch("rowNorms");
    if (spec.kind == ProjectionKind::Dense)
      denseMatrix<<<blocksFor(P.size(), 256), 256>>>(spec.seed, D, d, std::sqrt((double)d), P.get());
    else
      rademacherMatrix<<<blocksFor(P.size(), 256), 256>>>(spec.seed ^ influence::kRademacherTag, D, d,
                                                          (float)(1.0 / std::sqrt((double)d)), P.get());
    checkLaunch("projection matrix");
    ap.resize(n * d);
    sgemm(n, d, D, G.get(), P.get(), ap.get());
  }
  // norms -> clip factors on the host, with the CPU's error for the first non-finite row
  std::vector<double> nrm = norms.toHost();
  for (size_t r = 0; r < n; r++)
    if (std::isnan(nrm[r]))
      throw std::invalid_argument("non-finite gradient value (NaN or infinity) in " + rowLabel(firstRow, r) +
                                  " (row " + std::to_string(r) + " of the batch)");
  for (double& x : nrm) x = influence::clipFactor(x, clip);
  norms.upload(nrm);
  if (spec.kind == ProjectionKind::Kronecker) {
    kroneckerFeatures<<<blocksFor(n * d, 256), 256>>>(ap.get(), gp.get(), n, b.tokens, spec.inProj, spec.outProj,
                                                      norms.get(), F.get());
  } else {
    scaleRows<<<blocksFor(n * d, 256), 256>>>(ap.get(), norms.get(), n, d, F.get());
  }
  checkLaunch("features");
  DeviceBuffer<unsigned long long> first(1);
  const unsigned long long none = std::numeric_limits<unsigned long long>::max();
  first.upload(&none, 1);
  firstNonFinite<<<blocksFor(n * d, 256), 256>>>(F.get(), n * d, first.get());
  checkLaunch("firstNonFinite");
  unsigned long long bad;
  first.download(&bad, 1);
  if (bad != none)
    throw std::invalid_argument("projected features of " + rowLabel(firstRow, bad / d) +
                                " are not finite (float overflow in the projection; scale the gradients down)");
  return F;
}

}  // namespace

std::vector<double> influenceFeatures(const ProjectionSpec& spec, const GradBatch& b, double clip, uint64_t firstRow) {
  return features(spec, b, clip, firstRow).toHost();
}

InfluenceDelta influenceAccumulate(const ProjectionSpec& spec, const GradBatch& b, size_t K, double clip,
                                   uint64_t firstRow) {
  if (K == 0) throw std::invalid_argument("Expected positive integer for `numClusters` but received 0");
  if (!(clip > 0)) throw std::invalid_argument("Expected `clip` > 0 but received " + std::to_string(clip));
  if (b.n > 0 && !b.cluster) throw std::invalid_argument("the batch has no `cluster` ids");
  const size_t d = spec.featureDim();
  InfluenceDelta out;
  out.count.assign(K, 0.0);
  std::vector<uint32_t> plain;
  for (size_t r = 0; r < b.n; r++) {
    if (b.target && b.target[r]) {
      out.targetCount += 1;
      continue;
    }
    const int32_t c = b.cluster[r];
    if (c < 0 || (size_t)c >= K)
      throw std::invalid_argument("cluster id " + std::to_string(c) + " of " + rowLabel(firstRow, r) +
                                  " is out of range [0, " + std::to_string(K) + ") (numClusters = " +
                                  std::to_string(K) + ")");
    out.count[c] += 1;
    plain.push_back((uint32_t)r);
  }
  if (b.n > UINT32_MAX) throw std::invalid_argument("a CUDA batch holds at most 2^32 - 1 examples");
  DeviceBuffer<double> F = features(spec, b, clip, firstRow);
  DeviceBuffer<double> sum(K * d), targetSum(d), cov(d * d);
  sum.zero();
  targetSum.zero();
  DeviceBuffer<int32_t> cluster(b.n);
  DeviceBuffer<uint8_t> target(b.target ? b.n : 0);
  DeviceBuffer<uint32_t> rows(plain.size());
  cluster.upload(b.cluster, b.n);
  if (b.target) target.upload(b.target, b.n);
  rows.upload(plain);
  if (b.n > 0) {
    segmentSums<<<blocksFor(d, 128), 128>>>(F.get(), b.n, d, cluster.get(), b.target ? target.get() : nullptr,
                                            sum.get(), targetSum.get());
    checkLaunch("segmentSums");
  }
  const unsigned tiles = (unsigned)((d + 15) / 16);
  gram<<<dim3(tiles, tiles), dim3(16, 16)>>>(F.get(), d, rows.get(), plain.size(), cov.get());
  checkLaunch("gram");
  out.sum = sum.toHost();
  out.targetSum = targetSum.toHost();
  out.cov = cov.toHost();
  out.covCount = (double)plain.size();
  return out;
}

}  // namespace curricula::cuda
