// schedule / scheduleSync / scheduleBruteForceSync: the scheduler runs on a
// libuv worker thread (promise_job.hpp), reports progress to JS, and stops when
// cancel() is called.
#include <memory>

#include "addon/bindings.hpp"
#include "addon/marshal.hpp"
#include "addon/promise_job.hpp"
#include "scheduler/scheduler.hpp"

namespace curricula::addon {
namespace {

template <typename Fn>
Napi::Value runSync(const Napi::CallbackInfo& info, Fn fn) {
  Napi::Env env = info.Env();
  CorpusHandle corpus = corpusFromJs(info[0].As<Napi::Object>());
  ScheduleOptions opt = optionsFromJs(info[1].As<Napi::Object>());
  return guarded(env, [&]() -> Napi::Value {
    return resultToJs(env, fn(corpus.view, opt, nullptr), corpus.view.numSequences);
  });
}

}  // namespace

// schedule(corpus, options, onProgress?) -> { promise, cancel }
Napi::Value Schedule(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto corpus = std::make_shared<CorpusHandle>(corpusFromJs(info[0].As<Napi::Object>()));
  auto opt = std::make_shared<ScheduleOptions>(optionsFromJs(info[1].As<Napi::Object>()));
  auto result = std::make_shared<ScheduleResult>();
  auto job = std::make_shared<PromiseJob>();
  job->run = [corpus, opt, result](const ReportFn& report) {
    struct Sink : ProgressSink {
      const ReportFn& r;
      explicit Sink(const ReportFn& rr) : r(rr) {}
      bool report(uint64_t steps, uint64_t tokens, uint64_t goal) override {
        return r({(double)steps, (double)tokens, (double)goal});
      }
    } sink(report);
    *result = curricula::schedule(corpus->view, *opt, &sink);
  };
  job->finish = [corpus, result](Napi::Env e) -> Napi::Value {
    return resultToJs(e, *result, corpus->view.numSequences);
  };
  return startJob(env, "curricula.schedule", job, progressArg(info, 2));
}

Napi::Value ScheduleSync(const Napi::CallbackInfo& info) { return runSync(info, curricula::schedule); }

Napi::Value ScheduleBruteForceSync(const Napi::CallbackInfo& info) {
  return runSync(info, [](const CorpusView& c, ScheduleOptions o, ProgressSink* p) {
    o.bruteForce = true;
    return curricula::schedule(c, o, p);
  });
}

}  // namespace curricula::addon
