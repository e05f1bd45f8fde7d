// Shared helpers for the .cu files: error checks that throw, and an owning
// device buffer (freed on every path, so a throwing batch leaks nothing).
#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace curricula::cuda {

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}
// After a kernel launch: launch-configuration errors now, execution errors at the next sync.
inline void checkLaunch(const char* what) { check(cudaGetLastError(), what); }

template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t n) { resize(n); }
  ~DeviceBuffer() { if (p_) cudaFree(p_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr; o.n_ = 0; }
  void resize(size_t n) {
    if (p_) cudaFree(p_);
    p_ = nullptr;
    n_ = n;
    if (n > 0) check(cudaMalloc(&p_, n * sizeof(T)), "cudaMalloc");
  }
  void upload(const T* src, size_t n) {
    if (n > n_) throw std::logic_error("DeviceBuffer upload overflow");
    if (n) check(cudaMemcpy(p_, src, n * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy H2D");
  }
  void upload(const std::vector<T>& v) { if (v.size() > n_) resize(v.size()); upload(v.data(), v.size()); }
  void download(T* dst, size_t n) const {
    if (n > n_) throw std::logic_error("DeviceBuffer download overflow");
    if (n) check(cudaMemcpy(dst, p_, n * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
  }
  std::vector<T> toHost() const {
    std::vector<T> v(n_);
    download(v.data(), n_);
    return v;
  }
  void zero() { if (n_) check(cudaMemset(p_, 0, n_ * sizeof(T)), "cudaMemset"); }
  T* get() const { return p_; }
  size_t size() const { return n_; }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

inline unsigned blocksFor(size_t n, unsigned threads, unsigned cap = 65535u * 16) {
  const size_t b = (n + threads - 1) / threads;
  return (unsigned)(b == 0 ? 1 : (b > cap ? cap : b));
}

}  // namespace curricula::cuda
