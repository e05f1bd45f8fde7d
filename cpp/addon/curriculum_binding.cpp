// Curriculum entry points: mixture and cumulative targets at given points (sync),
// and the scheduler's target table (sync, or an AsyncProgressWorker with cancel).
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>

#include "addon/bindings.hpp"
#include "addon/marshal.hpp"
#include "curriculum/integrate.hpp"

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

// Hands a vector's memory to JS without copying (freed by the finalizer).
Napi::Float64Array adopt(Napi::Env env, std::vector<double>&& v) {
  auto* owned = new std::vector<double>(std::move(v));
  const size_t n = owned->size();
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(
      env, owned->data(), n * sizeof(double), [](Napi::Env, void*, std::vector<double>* p) { delete p; }, owned);
  return Napi::Float64Array::New(env, n, buf, 0);
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

struct Progress { double tokens, total; };

class TableWorker : public Napi::AsyncProgressWorker<Progress> {
 public:
  TableWorker(Napi::Env env, TableArgs args, Napi::Function onProgress, std::shared_ptr<std::atomic<bool>> cancel)
      : Napi::AsyncProgressWorker<Progress>(env, "curricula.targetTable"),
        deferred_(Napi::Promise::Deferred::New(env)),
        args_(std::move(args)),
        cancel_(std::move(cancel)) {
    if (!onProgress.IsEmpty()) onProgress_ = Napi::Persistent(onProgress);
  }
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute(const ExecutionProgress& progress) override {
    struct Sink : curriculum::TableProgress {
      const ExecutionProgress& p;
      std::atomic<bool>& cancel;
      Sink(const ExecutionProgress& pp, std::atomic<bool>& c) : p(pp), cancel(c) {}
      bool report(double tokens, double total) override {
        Progress m{tokens, total};
        p.Send(&m, 1);
        return !cancel.load();
      }
    } sink(progress, *cancel_);
    try {
      if (cancel_->load()) throw curriculum::Cancelled();
      result_ = curriculum::buildTargetTable(args_.cur.view(), args_.total, args_.maxErr, args_.maxEntries, &sink,
                                            args_.threads);
    } catch (const curriculum::Cancelled& e) {
      code_ = kAborted;
      SetError(e.what());
    } catch (const std::invalid_argument& e) {
      code_ = kValidation;
      SetError(e.what());
    } catch (const std::exception& e) {
      code_ = kInternal;
      SetError(e.what());
    }
  }
  void OnProgress(const Progress* data, size_t count) override {
    if (onProgress_.IsEmpty() || count == 0) return;
    Napi::Env env = Env();
    onProgress_.Call({Napi::Number::New(env, data[count - 1].tokens), Napi::Number::New(env, data[count - 1].total)});
  }
  void OnOK() override { deferred_.Resolve(tableToJs(Env(), std::move(result_))); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(makeError(Env(), code_, e.Message()).Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  TableArgs args_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  Napi::FunctionReference onProgress_;
  TargetTable result_;
  std::string code_ = kInternal;
};

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
  TableArgs a = guarded(env, [&] { return tableArgsFromJs(info); });
  Napi::Function onProgress = info.Length() > 5 && info[5].IsFunction() ? info[5].As<Napi::Function>() : Napi::Function();
  auto cancel = std::make_shared<std::atomic<bool>>(false);
  auto* worker = new TableWorker(env, std::move(a), onProgress, cancel);
  Napi::Object out = Napi::Object::New(env);
  out.Set("promise", worker->promise());
  out.Set("cancel", Napi::Function::New(env, [cancel](const Napi::CallbackInfo&) { cancel->store(true); }));
  worker->Queue();
  return out;
}

}  // namespace

void registerCurriculum(Napi::Env env, Napi::Object exports) {
  exports.Set("curriculumMixture", Napi::Function::New(env, CurriculumMixture));
  exports.Set("curriculumCumulative", Napi::Function::New(env, CurriculumCumulative));
  exports.Set("curriculumTargetTableSync", Napi::Function::New(env, CurriculumTargetTableSync));
  exports.Set("curriculumTargetTable", Napi::Function::New(env, CurriculumTargetTable));
}

}  // namespace curricula::addon
