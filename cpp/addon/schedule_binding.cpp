// schedule / scheduleSync / scheduleBruteForceSync: the scheduler runs on a
// libuv worker thread, reports progress to JS, and stops when cancel() is called.
#include <atomic>
#include <memory>

#include "addon/bindings.hpp"
#include "addon/marshal.hpp"
#include "scheduler/scheduler.hpp"

namespace curricula::addon {
namespace {

struct ProgressMsg { uint64_t steps, tokens, goal; };

class ScheduleWorker : public Napi::AsyncProgressWorker<ProgressMsg> {
 public:
  ScheduleWorker(Napi::Env env, CorpusHandle corpus, ScheduleOptions opt, Napi::Function onProgress,
                 std::shared_ptr<std::atomic<bool>> cancel)
      : Napi::AsyncProgressWorker<ProgressMsg>(env, "curricula.schedule"),
        deferred_(Napi::Promise::Deferred::New(env)),
        corpus_(std::move(corpus)),
        opt_(std::move(opt)),
        cancel_(std::move(cancel)) {
    if (!onProgress.IsEmpty()) onProgress_ = Napi::Persistent(onProgress);
  }
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute(const ExecutionProgress& progress) override {
    struct Sink : ProgressSink {
      const ExecutionProgress& p;
      std::atomic<bool>& cancel;
      Sink(const ExecutionProgress& pp, std::atomic<bool>& c) : p(pp), cancel(c) {}
      bool report(uint64_t steps, uint64_t tokens, uint64_t goal) override {
        ProgressMsg m{steps, tokens, goal};
        p.Send(&m, 1);
        return !cancel.load();
      }
    } sink(progress, *cancel_);
    try {
      result_ = curricula::schedule(corpus_.view, opt_, &sink);
    } catch (const Cancelled& e) {
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
  void OnProgress(const ProgressMsg* data, size_t count) override {
    if (onProgress_.IsEmpty() || count == 0) return;
    Napi::Env env = Env();
    const ProgressMsg& m = data[count - 1];
    onProgress_.Call({Napi::Number::New(env, (double)m.steps), Napi::Number::New(env, (double)m.tokens),
                      Napi::Number::New(env, (double)m.goal)});
  }
  void OnOK() override {
    Napi::Env env = Env();
    deferred_.Resolve(resultToJs(env, result_, corpus_.view.numSequences));
  }
  void OnError(const Napi::Error& e) override {
    deferred_.Reject(makeError(Env(), code_, e.Message()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  CorpusHandle corpus_;
  ScheduleOptions opt_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  Napi::FunctionReference onProgress_;
  ScheduleResult result_;
  std::string code_ = kInternal;
};

template <typename Fn>
Napi::Value runSync(const Napi::CallbackInfo& info, Fn fn) {
  Napi::Env env = info.Env();
  CorpusHandle corpus = corpusFromJs(info[0].As<Napi::Object>());
  ScheduleOptions opt = optionsFromJs(info[1].As<Napi::Object>());
  try {
    return resultToJs(env, fn(corpus.view, opt, nullptr), corpus.view.numSequences);
  } catch (const std::invalid_argument& e) {
    throw makeError(env, kValidation, e.what());
  } catch (const std::exception& e) {
    throw makeError(env, kInternal, e.what());
  }
}

}  // namespace

// schedule(corpus, options, onProgress?) -> { promise, cancel }
Napi::Value Schedule(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CorpusHandle corpus = corpusFromJs(info[0].As<Napi::Object>());
  ScheduleOptions opt = optionsFromJs(info[1].As<Napi::Object>());
  Napi::Function onProgress = info.Length() > 2 && info[2].IsFunction() ? info[2].As<Napi::Function>() : Napi::Function();
  auto cancel = std::make_shared<std::atomic<bool>>(false);
  auto* worker = new ScheduleWorker(env, std::move(corpus), std::move(opt), onProgress, cancel);
  Napi::Object out = Napi::Object::New(env);
  out.Set("promise", worker->promise());
  out.Set("cancel", Napi::Function::New(env, [cancel](const Napi::CallbackInfo&) { cancel->store(true); }));
  worker->Queue();
  return out;
}

Napi::Value ScheduleSync(const Napi::CallbackInfo& info) { return runSync(info, curricula::schedule); }

Napi::Value ScheduleBruteForceSync(const Napi::CallbackInfo& info) {
  return runSync(info, [](const CorpusView& c, ScheduleOptions o, ProgressSink* p) {
    o.bruteForce = true;
    return curricula::schedule(c, o, p);
  });
}

}  // namespace curricula::addon
