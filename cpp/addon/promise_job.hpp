// A long native job on a libuv worker thread, as JS sees it: { promise, cancel }.
// `run` does the work off the JS thread and reports progress through `report`,
// which returns false once cancel() was called (the core then throws its own
// Cancelled); `finish` builds the result on the JS thread. Only the latest
// progress message of a batch reaches the callback.
#pragma once
#include <napi.h>

#include <atomic>
#include <functional>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>

#include "addon/marshal.hpp"

namespace curricula::addon {

struct JobProgress {
  double v[4] = {0, 0, 0, 0};
  int n = 0;
};
using ReportFn = std::function<bool(std::initializer_list<double>)>;

struct PromiseJob {
  std::function<void(const ReportFn& report)> run;
  std::function<Napi::Value(Napi::Env)> finish;
  std::function<void()> settled;  // optional: on the JS thread, before the promise settles either way
};

class PromiseJobWorker : public Napi::AsyncProgressWorker<JobProgress> {
 public:
  PromiseJobWorker(Napi::Env env, const char* name, std::shared_ptr<PromiseJob> job, Napi::Function onProgress,
                   std::shared_ptr<std::atomic<bool>> cancel)
      : Napi::AsyncProgressWorker<JobProgress>(env, name),
        deferred_(Napi::Promise::Deferred::New(env)),
        job_(std::move(job)),
        cancel_(std::move(cancel)) {
    if (!onProgress.IsEmpty()) onProgress_ = Napi::Persistent(onProgress);
  }
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute(const ExecutionProgress& progress) override {
    const ReportFn report = [&](std::initializer_list<double> values) {
      JobProgress m;
      for (double x : values)
        if (m.n < 4) m.v[m.n++] = x;
      progress.Send(&m, 1);
      return !cancel_->load();
    };
    try {
      if (cancel_->load()) throw std::runtime_error("aborted before it started");
      job_->run(report);
    } catch (const std::exception& e) {
      // Cores throw their own Cancelled once report() returned false.
      code_ = cancel_->load() ? kAborted : dynamic_cast<const std::invalid_argument*>(&e) ? kValidation : kInternal;
      SetError(e.what());
    }
  }
  void OnProgress(const JobProgress* data, size_t count) override {
    if (onProgress_.IsEmpty() || count == 0) return;
    Napi::Env env = Env();
    const JobProgress& m = data[count - 1];
    std::vector<napi_value> args;
    for (int i = 0; i < m.n; i++) args.push_back(Napi::Number::New(env, m.v[i]));
    onProgress_.Call(args);
  }
  void OnOK() override {
    if (job_->settled) job_->settled();
    try {
      deferred_.Resolve(job_->finish(Env()));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (const std::exception& e) {
      deferred_.Reject(makeError(Env(), kInternal, e.what()).Value());
    }
  }
  void OnError(const Napi::Error& e) override {
    if (job_->settled) job_->settled();
    deferred_.Reject(makeError(Env(), code_, e.Message()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<PromiseJob> job_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  Napi::FunctionReference onProgress_;
  std::string code_ = kInternal;
};

// Queues `job` and returns { promise, cancel } to JS.
inline Napi::Object startJob(Napi::Env env, const char* name, std::shared_ptr<PromiseJob> job,
                             Napi::Function onProgress) {
  auto cancel = std::make_shared<std::atomic<bool>>(false);
  auto* worker = new PromiseJobWorker(env, name, std::move(job), onProgress, cancel);
  Napi::Object out = Napi::Object::New(env);
  out.Set("promise", worker->promise());
  out.Set("cancel", Napi::Function::New(env, [cancel](const Napi::CallbackInfo&) { cancel->store(true); }));
  worker->Queue();
  return out;
}

// The optional progress callback at argument `i`.
inline Napi::Function progressArg(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i && info[i].IsFunction() ? info[i].As<Napi::Function>() : Napi::Function();
}

}  // namespace curricula::addon
