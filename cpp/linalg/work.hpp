// Progress, cancellation and a deterministic two-way parallel loop for the
// long linear-algebra jobs. Work is split by output element, so every value is
// computed by the same arithmetic whatever the thread count.
#pragma once
#include <algorithm>
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <thread>
#include <vector>

namespace curricula::linalg {

// Called between units of work; return false to cancel (the job then throws Cancelled).
class WorkMonitor {
 public:
  virtual ~WorkMonitor() = default;
  virtual bool report(double done, double total) = 0;
};

struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("the operation was aborted") {}
};

inline void checkpoint(WorkMonitor* m, double done, double total) {
  if (m != nullptr && !m->report(done, total)) throw Cancelled();
}

// Runs f(t, T) for t in [0, T) with T = min(threads, work) threads; f must only
// write outputs owned by its part. Exceptions from helper threads are rethrown.
template <typename F>
void parallelParts(int threads, size_t work, F&& f) {
  const int T = (int)std::max<size_t>(1, std::min<size_t>((size_t)std::max(threads, 1), work));
  if (T == 1) {
    f(0, 1);
    return;
  }
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(T);
  for (int t = 1; t < T; t++)
    pool.emplace_back([&, t] {
      try {
        f(t, T);
      } catch (...) {
        errors[t] = std::current_exception();
      }
    });
  try {
    f(0, T);
  } catch (...) {
    errors[0] = std::current_exception();
  }
  for (auto& th : pool) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

// Contiguous range [begin, end) of part t of T over n items.
inline std::pair<size_t, size_t> partRange(size_t n, int t, int T) {
  return {n * (size_t)t / (size_t)T, n * (size_t)(t + 1) / (size_t)T};
}

}  // namespace curricula::linalg
