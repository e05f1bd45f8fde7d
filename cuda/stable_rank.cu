// CUDA twin of analysis::stableRanks: the CPU's Lanczos driver
// (linalg::lanczosLargest: same seeded start vector, same stopping rule
// residual <= tol * value) with each product M^T M x or M M^T x computed on the
// GPU in double. The operator choice (which Gram side) is the CPU's, so the
// Krylov spaces are the same and results differ only by summation order.
#include <cmath>
#include <string>

#include "common.cuh"
#include "cuda_api.hpp"
#include "linalg/lanczos.hpp"

namespace curricula::cuda {
namespace {

// u[i] = r_i . x, one 128-thread block per row.
template <typename T>
__global__ void rowDots(const T* M, size_t rows, size_t cols, const double* x, double* u) {
  __shared__ double part[128];
  const T* r = M + blockIdx.x * cols;
  double s = 0;
  for (size_t j = threadIdx.x; j < cols; j += blockDim.x) s += (double)r[j] * x[j];
  part[threadIdx.x] = s;
  __syncthreads();
  for (int k = 64; k > 0; k >>= 1) {
    if (threadIdx.x < k) part[threadIdx.x] += part[threadIdx.x + k];
    __syncthreads();
  }
  if (threadIdx.x == 0) u[blockIdx.x] = part[0];
}

// y[j] = sum_i M[i][j] u[i], one thread per column (coalesced across the warp).
template <typename T>
__global__ void colDots(const T* M, size_t rows, size_t cols, const double* u, double* y) {
  const size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  if (j >= cols) return;
  double s = 0;
  for (size_t i = 0; i < rows; i++) s += (double)M[i * cols + j] * u[i];
  y[j] = s;
}

// Per-block partial sums of squares (summed on the host in block order: deterministic).
template <typename T>
__global__ void sumSquares(const T* M, size_t n, double* partial) {
  __shared__ double part[256];
  double s = 0;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    s += (double)M[i] * (double)M[i];
  part[threadIdx.x] = s;
  __syncthreads();
  for (int k = 128; k > 0; k >>= 1) {
    if (threadIdx.x < k) part[threadIdx.x] += part[threadIdx.x + k];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = part[0];
}

template <typename T>
analysis::StableRank one(const T* host, size_t rows, size_t cols, size_t index, const analysis::StableRankOptions& o,
                         linalg::WorkMonitor* monitor) {
  analysis::StableRank out;
  DeviceBuffer<T> M(rows * cols);
  M.upload(host, rows * cols);
  const unsigned blocks = blocksFor(rows * cols, 256, 1024);
  DeviceBuffer<double> partial(blocks);
  sumSquares<T><<<blocks, 256>>>(M.get(), rows * cols, partial.get());
  checkLaunch("sumSquares");
  double fro = 0;
  for (double p : partial.toHost()) fro += p;
  out.frobenius2 = fro;
  if (!(fro > 0))
    throw std::invalid_argument("`matrices[" + std::to_string(index) + "]` is all zeros; its stable rank is undefined");
  if (!std::isfinite(fro)) throw std::invalid_argument("`matrices[" + std::to_string(index) + "]` has non-finite entries");
  const bool fused = cols <= std::max<size_t>(4 * rows, 8192);  // the CPU's choice of side
  const size_t n = fused ? cols : rows;
  DeviceBuffer<double> x(n), y(n), mid(fused ? rows : cols);
  auto apply = [&](const double* xh, double* yh) {
    x.upload(xh, n);
    if (fused) {  // y = M^T (M x)
      rowDots<T><<<(unsigned)rows, 128>>>(M.get(), rows, cols, x.get(), mid.get());
      colDots<T><<<blocksFor(cols, 128), 128>>>(M.get(), rows, cols, mid.get(), y.get());
    } else {  // y = M (M^T x)
      colDots<T><<<blocksFor(cols, 128), 128>>>(M.get(), rows, cols, x.get(), mid.get());
      rowDots<T><<<(unsigned)rows, 128>>>(M.get(), rows, cols, mid.get(), y.get());
    }
    checkLaunch("stable rank product");
    y.download(yh, n);
  };
  const linalg::LanczosResult r = linalg::lanczosLargest(n, apply, o.seed, index, o.tol, o.maxIter, monitor);
  out.spectral2 = r.value;
  out.residual = r.residual;
  out.iterations = r.iterations;
  out.converged = r.converged;
  out.srank = fro / r.value;
  return out;
}

}  // namespace

std::vector<analysis::StableRank> stableRanks(const std::vector<analysis::MatrixView>& ms,
                                              const analysis::StableRankOptions& o, linalg::WorkMonitor* monitor) {
  if (!(o.tol > 0)) throw std::invalid_argument("`tol` must be > 0");
  if (o.maxIter < 1) throw std::invalid_argument("`maxIterations` must be >= 1");
  for (size_t i = 0; i < ms.size(); i++) {
    if (ms[i].rows == 0 || ms[i].cols == 0 || ms[i].data == nullptr)
      throw std::invalid_argument("`matrices[" + std::to_string(i) + "]` is empty");
    if (ms[i].rows > 0x7fffffff) throw std::invalid_argument("`matrices[" + std::to_string(i) + "]` has too many rows for one launch");
  }
  requireDevice();
  std::vector<analysis::StableRank> out(ms.size());
  // as the CPU: a single matrix reports Lanczos steps, several report matrices done
  linalg::WorkMonitor* inner = ms.size() == 1 ? monitor : nullptr;
  for (size_t i = 0; i < ms.size(); i++) {
    const analysis::MatrixView& v = ms[i];
    out[i] = v.isFloat32 ? one(static_cast<const float*>(v.data), v.rows, v.cols, i, o, inner)
                         : one(static_cast<const double*>(v.data), v.rows, v.cols, i, o, inner);
    if (ms.size() > 1) linalg::checkpoint(monitor, (double)(i + 1), (double)ms.size());
  }
  return out;
}

}  // namespace curricula::cuda
