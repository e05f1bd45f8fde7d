// A growable array of doubles for outputs that can reach gigabytes: nothing is
// zero-filled, and it grows by realloc, which glibc does for large blocks by
// remapping pages instead of copying them. The memory comes from malloc, so it
// can be handed on (release) and freed with std::free.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>

namespace curricula {

class DoubleBuffer {
 public:
  DoubleBuffer() = default;
  DoubleBuffer(const DoubleBuffer&) = delete;
  DoubleBuffer& operator=(const DoubleBuffer&) = delete;
  DoubleBuffer(DoubleBuffer&& o) noexcept { swap(o); }
  DoubleBuffer& operator=(DoubleBuffer&& o) noexcept {
    DoubleBuffer(std::move(o)).swap(*this);
    return *this;
  }
  ~DoubleBuffer() { std::free(data_); }

  size_t size() const { return size_; }
  double* data() { return data_; }
  const double* data() const { return data_; }

  // Appends n uninitialised values and returns where they start; earlier pointers
  // into the buffer are invalid afterwards.
  double* append(size_t n) {
    if (n > cap_ - size_) grow(size_ + n);
    double* at = data_ + size_;
    size_ += n;
    return at;
  }

  // Hands the memory over (free it with std::free); the buffer is empty afterwards.
  double* release() {
    double* p = data_;
    data_ = nullptr;
    size_ = cap_ = 0;
    return p;
  }

 private:
  void swap(DoubleBuffer& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(cap_, o.cap_);
  }

  void grow(size_t need) {
    size_t cap = cap_ < (size_t(1) << 17) ? size_t(1) << 17 : cap_;
    while (cap < need) cap = cap > SIZE_MAX / 4 / sizeof(double) ? need : 2 * cap;
    void* p = std::realloc(data_, cap * sizeof(double));
    if (!p) throw std::bad_alloc();
    data_ = static_cast<double*>(p);
    cap_ = cap;
  }

  double* data_ = nullptr;
  size_t size_ = 0, cap_ = 0;
};

}  // namespace curricula
