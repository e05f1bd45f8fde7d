// Curriculum entry points: mixture and cumulative targets at given points (sync),
// and the scheduler's target table (sync, or a promise_job.hpp worker with progress and cancel).
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "addon/bindings.hpp"
#include "addon/marshal.hpp"
#include "addon/promise_job.hpp"
#include "curriculum/integrate.hpp"
#include "curriculum/march_kernels.hpp"

namespace curricula::addon {
namespace {

using curriculum::CurriculumView;
using curriculum::TargetTable;

// An owned copy of a JS curriculum {s: Float64Array, logits: Float64Array, groups: number}.
struct OwnedCurriculum {
  std::vector<double> s, logits;
  size_t groups = 0;
  CurriculumView view() const { return {s.data(), logits.data(), s.size(), groups}; }
};

OwnedCurriculum curriculumFromJs(const Napi::Value& v) {
  Napi::Env env = v.Env();
  if (!v.IsObject()) throw makeError(env, kValidation, "Expected object for `curriculum`");
  Napi::Object o = v.As<Napi::Object>();
  OwnedCurriculum c;
  c.s = doublesFromJs(o.Get("s"), "curriculum.s");
  c.logits = doublesFromJs(o.Get("logits"), "curriculum.logits");
  Napi::Value g = o.Get("groups");
  const double gd = g.IsNumber() ? g.As<Napi::Number>().DoubleValue() : -1;
  if (!(gd >= 1) || std::floor(gd) != gd || gd > 1e9)
    throw makeError(env, kValidation, "Expected positive integer for `curriculum.groups`");
  c.groups = (size_t)gd;
  if (c.logits.size() != c.s.size() * c.groups)
    throw makeError(env, kValidation,
                    "`curriculum.logits` has " + std::to_string(c.logits.size()) + " entries but knots x groups = " +
                        std::to_string(c.s.size() * c.groups));
  return c;
}

double numberFromJs(const Napi::Value& v, const char* field) {
  if (!v.IsNumber()) throw makeError(v.Env(), kValidation, std::string("Expected number for `") + field + "`");
  return v.As<Napi::Number>().DoubleValue();
}

// Wraps n doubles at `data` in a Float64Array without copying; `release` frees them when
// JS collects the array. The size is reported to V8 so that its collector frees big
// tables promptly.
template <class Release>
Napi::Float64Array external(Napi::Env env, double* data, size_t n, Release release) {
  const int64_t bytes = (int64_t)(n * sizeof(double));
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, data, n * sizeof(double), [bytes, release](Napi::Env e, void* d) {
    release(static_cast<double*>(d));
    Napi::MemoryManagement::AdjustExternalMemory(e, -bytes);
  });
  Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
  return Napi::Float64Array::New(env, n, buf, 0);
}

Napi::Float64Array adopt(Napi::Env env, std::vector<double>&& v) {
  auto* owned = new std::vector<double>(std::move(v));
  return external(env, owned->data(), owned->size(), [owned](double*) { delete owned; });
}

Napi::Float64Array adopt(Napi::Env env, DoubleBuffer&& v) {
  const size_t n = v.size();
  if (n == 0) return Napi::Float64Array::New(env, 0);
  return external(env, v.release(), n, [](double* d) { std::free(d); });
}

Napi::Object tableToJs(Napi::Env env, TargetTable&& t) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("interpolationBound", Napi::Number::New(env, t.interpolationBound));
  out.Set("quadratureBound", Napi::Number::New(env, t.quadratureBound));
  out.Set("tokens", adopt(env, std::move(t.tokens)));
  out.Set("cumulative", adopt(env, std::move(t.cumulative)));
  return out;
}


struct TableArgs {
  OwnedCurriculum cur;
  double total, maxErr;
  size_t maxEntries;
  size_t threads;
};

TableArgs tableArgsFromJs(const Napi::CallbackInfo& info) {
  TableArgs a;
  a.cur = curriculumFromJs(info[0]);
  a.total = numberFromJs(info[1], "totalTokens");
  a.maxErr = numberFromJs(info[2], "maxErrorTokens");
  const double me = numberFromJs(info[3], "maxEntries");
  if (!(me >= 1)) throw makeError(info.Env(), kValidation, "Expected positive integer for `maxEntries`");
  a.maxEntries = me >= 1.8e19 ? SIZE_MAX : (size_t)me;
  const double th = numberFromJs(info[4], "threads");
  if (!(th >= 1 && th <= 64) || std::floor(th) != th)
    throw makeError(info.Env(), kValidation, "Expected integer in [1, 64] for `threads`");
  a.threads = (size_t)th;
  return a;
}

// curriculumMixture(curriculum, s) -> Float64Array(K): softmax(f(s))
Napi::Value CurriculumMixture(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    OwnedCurriculum c = curriculumFromJs(info[0]);
    std::vector<double> out(c.groups);
    curriculum::mixtureAtLog(c.view(), numberFromJs(info[1], "s"), out.data());
    return adopt(env, std::move(out));
  });
}

// curriculumCumulative(curriculum, points: Float64Array) -> Float64Array(P*K)
Napi::Value CurriculumCumulative(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    OwnedCurriculum c = curriculumFromJs(info[0]);
    const std::vector<double> pts = doublesFromJs(info[1], "points");
    std::vector<double> out(pts.size() * c.groups);
    curriculum::cumulativeAt(c.view(), pts.data(), pts.size(), out.data());
    return adopt(env, std::move(out));
  });
}

// curriculumTargetTableSync(curriculum, totalTokens, maxErrorTokens, maxEntries, threads)
Napi::Value CurriculumTargetTableSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    TableArgs a = tableArgsFromJs(info);
    return tableToJs(env, curriculum::buildTargetTable(a.cur.view(), a.total, a.maxErr, a.maxEntries, nullptr, a.threads));
  });
}

// curriculumTargetTable(curriculum, totalTokens, maxErrorTokens, maxEntries, threads, onProgress?) -> { promise, cancel }
Napi::Value CurriculumTargetTable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto a = std::make_shared<TableArgs>(guarded(env, [&] { return tableArgsFromJs(info); }));
  auto result = std::make_shared<TargetTable>();
  auto job = std::make_shared<PromiseJob>();
  job->run = [a, result](const ReportFn& report) {
    struct Sink : curriculum::TableProgress {
      const ReportFn& r;
      explicit Sink(const ReportFn& rr) : r(rr) {}
      bool report(double tokens, double total) override { return r({tokens, total}); }
    } sink(report);
    *result = curriculum::buildTargetTable(a->cur.view(), a->total, a->maxErr, a->maxEntries, &sink, a->threads);
  };
  job->finish = [result](Napi::Env e) -> Napi::Value { return tableToJs(e, std::move(*result)); };
  return startJob(env, "curricula.targetTable", job, progressArg(info, 5));
}

}  // namespace

void registerCurriculum(Napi::Env env, Napi::Object exports) {
  exports.Set("curriculumMixture", Napi::Function::New(env, CurriculumMixture));
  exports.Set("curriculumCumulative", Napi::Function::New(env, CurriculumCumulative));
  exports.Set("curriculumTargetTableSync", Napi::Function::New(env, CurriculumTargetTableSync));
  exports.Set("curriculumTargetTable", Napi::Function::New(env, CurriculumTargetTable));
  exports.Set("curriculumTableKernel", Napi::String::New(env, curriculum::marchUsesAvx2() ? "avx2" : "portable"));
}

}  // namespace curricula::addon
