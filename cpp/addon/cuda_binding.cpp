// Entry points of the CUDA twins (cuda/). Compiled in every build: without
// CURRICULA_WITH_CUDA only cudaDeviceInfo works and the others throw a
// validation error naming `device`, so the CPU build needs no CUDA headers.
#include <atomic>
#include <cmath>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "addon/bindings.hpp"
#include "addon/influence_marshal.hpp"
#include "addon/analysis_marshal.hpp"
#include "addon/marshal.hpp"
#include "analysis/stable_rank.hpp"
#include "influence/accumulator.hpp"

#ifdef CURRICULA_WITH_CUDA
#include "cuda_api.hpp"
#endif

namespace curricula::addon {
namespace {

using influence::GradBatch;
using influence::GradDtype;
using influence::ProjectionKind;
using influence::ProjectionSpec;

[[noreturn]] void invalid(const std::string& m) { throw std::invalid_argument(m); }

#ifdef CURRICULA_WITH_CUDA

// Keeps typed arrays alive while native code (maybe on a worker) reads them.
struct Inputs {
  std::vector<Napi::ObjectReference> refs;
};

// A typed array of `type` with exactly `want` elements (bounds are checked here, not trusted from JS).
const void* typed(const Napi::Value& v, const std::string& field, napi_typedarray_type type, const char* tname,
                  size_t want, Inputs& in) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    invalid("Expected " + std::string(tname) + " for `" + field + "`");
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.ElementLength() != want)
    invalid("`" + field + "` has " + std::to_string(ta.ElementLength()) + " elements but " + std::to_string(want) +
            " are needed");
  in.refs.emplace_back(Napi::Persistent(ta.As<Napi::Object>()));
  return static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
}

// Same object shapes as influence_binding.cpp (NativeProjectionSpec / NativeGradBatch in lib/binding.ts).
ProjectionSpec specFromJs(const Napi::Value& v) { return projectionSpecFromJs(v); }

GradBatch batchFromJs(const ProjectionSpec& spec, const Napi::Value& v, bool needClusters, Inputs& in) {
  if (!v.IsObject()) invalid("Expected an object for `batch`");
  const Napi::Object o = v.As<Napi::Object>();
  GradBatch b;
  b.n = sizeField(o, "n");
  if (spec.kind == ProjectionKind::Kronecker) {
    b.tokens = sizeField(o, "tokens");
    if (b.tokens == 0) invalid("Expected positive integer for `tokens`");
    b.activations = static_cast<const float*>(
        typed(o.Get("activations"), "activations", napi_float32_array, "Float32Array", b.n * b.tokens * spec.inDim, in));
    b.outGrads = static_cast<const float*>(
        typed(o.Get("outGrads"), "outGrads", napi_float32_array, "Float32Array", b.n * b.tokens * spec.outDim, in));
  } else {
    const std::string dtype = o.Get("dtype").IsUndefined() ? "f32" : o.Get("dtype").ToString().Utf8Value();
    const size_t want = b.n * spec.inputDim;
    if (dtype == "f32") {
      b.dtype = GradDtype::F32;
      b.grads = typed(o.Get("grads"), "grads", napi_float32_array, "Float32Array (dtype f32)", want, in);
    } else if (dtype == "f16" || dtype == "bf16") {
      b.dtype = dtype == "f16" ? GradDtype::F16 : GradDtype::BF16;
      b.grads = typed(o.Get("grads"), "grads", napi_uint16_array, "Uint16Array (dtype f16 or bf16)", want, in);
    } else {
      invalid("Expected 'f32', 'f16' or 'bf16' for `dtype`");
    }
  }
  if (needClusters) {
    b.cluster = static_cast<const int32_t*>(typed(o.Get("cluster"), "cluster", napi_int32_array, "Int32Array", b.n, in));
    if (!o.Get("target").IsUndefined())
      b.target = static_cast<const uint8_t*>(typed(o.Get("target"), "target", napi_uint8_array, "Uint8Array", b.n, in));
  }
  return b;
}

double clipArg(const Napi::Value& v) {
  if (!v.IsNumber()) invalid("Expected positive number for `clip`");
  const double c = v.As<Napi::Number>().DoubleValue();
  if (!(c > 0)) invalid("Expected positive number for `clip` but received " + std::to_string(c));
  return c;
}

Napi::Float64Array toF64(Napi::Env env, const std::vector<double>& v) {
  Napi::Float64Array a = Napi::Float64Array::New(env, v.size());
  std::copy(v.begin(), v.end(), a.Data());
  return a;
}

Napi::Object deltaToJs(Napi::Env env, const cuda::InfluenceDelta& d) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("count", toF64(env, d.count));
  o.Set("sum", toF64(env, d.sum));
  o.Set("targetCount", d.targetCount);
  o.Set("targetSum", toF64(env, d.targetSum));
  o.Set("covCount", d.covCount);
  o.Set("cov", toF64(env, d.cov));
  return o;
}

// (spec, batch, clip, firstRow?) -> n x d Float64Array
Napi::Value CudaInfluenceFeatures(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Inputs in;
    const ProjectionSpec spec = specFromJs(info[0]);
    const GradBatch b = batchFromJs(spec, info[1], false, in);
    const uint64_t first = info.Length() > 3 && !info[3].IsUndefined() ? u64FromJs(info[3], "firstRow") : 0;
    return toF64(info.Env(), cuda::influenceFeatures(spec, b, clipArg(info[2]), first));
  });
}

// (spec, batch, numClusters, clip, firstRow?) -> { count, sum, targetCount, targetSum, covCount, cov } to add to a state
Napi::Value CudaInfluenceAccumulate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    Inputs in;
    const ProjectionSpec spec = specFromJs(info[0]);
    const GradBatch b = batchFromJs(spec, info[1], true, in);
    const size_t K = info[2].IsNumber() ? (size_t)info[2].As<Napi::Number>().DoubleValue() : 0;
    const uint64_t first = info.Length() > 4 && !info[4].IsUndefined() ? u64FromJs(info[4], "firstRow") : 0;
    return deltaToJs(env, cuda::influenceAccumulate(spec, b, K, clipArg(info[3]), first));
  });
}

std::vector<analysis::MatrixView> matricesFromJs(const Napi::Value& v, Inputs& in) {
  if (!v.IsArray()) invalid("`matrices` must be an array");
  const Napi::Array arr = v.As<Napi::Array>();
  std::vector<analysis::MatrixView> ms(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    const std::string field = "matrices[" + std::to_string(i) + "]";
    if (!arr.Get(i).IsObject()) invalid("`" + field + "` must be an object");
    const Napi::Object m = arr.Get(i).As<Napi::Object>();
    ms[i].rows = sizeField(m, "rows");
    ms[i].cols = sizeField(m, "cols");
    if (ms[i].cols != 0 && ms[i].rows > SIZE_MAX / ms[i].cols / 8) invalid("`" + field + "` is too large");
    const Napi::Value data = m.Get("data");
    ms[i].isFloat32 = data.IsTypedArray() && data.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array;
    ms[i].data = typed(data, field + ".data", ms[i].isFloat32 ? napi_float32_array : napi_float64_array,
                       "Float32Array or Float64Array", ms[i].rows * ms[i].cols, in);
  }
  return ms;
}

analysis::StableRankOptions stableOptionsFromJs(const Napi::Value& v) {
  analysis::StableRankOptions o;
  if (!v.IsObject()) return o;
  const Napi::Object obj = v.As<Napi::Object>();
  auto num = [&](const char* f, double fallback) {
    const Napi::Value x = obj.Get(f);
    if (x.IsUndefined()) return fallback;
    if (!x.IsNumber()) invalid(std::string("`") + f + "` must be a number");
    return x.As<Napi::Number>().DoubleValue();
  };
  o.tol = num("tol", o.tol);
  o.maxIter = (int)num("maxIterations", o.maxIter);
  o.seed = (uint64_t)num("seed", 0);
  return o;
}


// (matrices, options) -> rows (sync; each matrix is a few GPU products per Lanczos step)
Napi::Value CudaStableRankSync(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Inputs in;
    const auto ms = matricesFromJs(info[0], in);
    return stableRanksToJs(info.Env(), cuda::stableRanks(ms, stableOptionsFromJs(info[1])));
  });
}

struct Progress3 {
  double a, b, c;
};

// Runs `run` off the event loop; forwards (steps, tokens, goal) progress and honours cancel().
class CudaWorker : public Napi::AsyncProgressWorker<Progress3> {
 public:
  using Report = std::function<bool(double, double, double)>;
  using Run = std::function<void(const Report&)>;
  using Finish = std::function<Napi::Value(Napi::Env)>;
  CudaWorker(Napi::Env env, std::shared_ptr<Inputs> inputs, Run run, Finish finish, Napi::Function onProgress,
             std::shared_ptr<std::atomic<bool>> cancel)
      : Napi::AsyncProgressWorker<Progress3>(env, "curricula.cuda"),
        deferred_(Napi::Promise::Deferred::New(env)),
        inputs_(std::move(inputs)),
        run_(std::move(run)),
        finish_(std::move(finish)),
        cancel_(std::move(cancel)) {
    if (!onProgress.IsEmpty()) onProgress_ = Napi::Persistent(onProgress);
  }
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute(const ExecutionProgress& progress) override {
    try {
      run_([&](double a, double b, double c) {
        Progress3 m{a, b, c};
        progress.Send(&m, 1);
        return !cancel_->load();
      });
    } catch (const Cancelled& e) {
      code_ = kAborted;
      SetError(e.what());
    } catch (const linalg::Cancelled& e) {
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
  void OnProgress(const Progress3* data, size_t count) override {
    if (onProgress_.IsEmpty() || count == 0) return;
    Napi::Env env = Env();
    const Progress3& p = data[count - 1];
    onProgress_.Call({Napi::Number::New(env, p.a), Napi::Number::New(env, p.b), Napi::Number::New(env, p.c)});
  }
  void OnOK() override { deferred_.Resolve(finish_(Env())); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(makeError(Env(), code_, e.Message()).Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<Inputs> inputs_;
  Run run_;
  Finish finish_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  Napi::FunctionReference onProgress_;
  std::string code_ = kInternal;
};

Napi::Object jobToJs(Napi::Env env, CudaWorker* worker, std::shared_ptr<std::atomic<bool>> cancel) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("promise", worker->promise());
  out.Set("cancel", Napi::Function::New(env, [cancel](const Napi::CallbackInfo&) { cancel->store(true); }));
  worker->Queue();
  return out;
}

Napi::Function optionalFunction(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i && info[i].IsFunction() ? info[i].As<Napi::Function>() : Napi::Function();
}

struct Sink : ProgressSink {
  CudaWorker::Report f;
  bool report(uint64_t steps, uint64_t tokens, uint64_t goal) override {
    return f((double)steps, (double)tokens, (double)goal);
  }
};

// (corpus, options) -> ScheduleResult, synchronously
Napi::Value CudaScheduleBruteForceSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CorpusHandle corpus = corpusFromJs(info[0].As<Napi::Object>());
  ScheduleOptions opt = optionsFromJs(info[1].As<Napi::Object>());
  return guarded(env, [&]() -> Napi::Value {
    return resultToJs(env, cuda::scheduleBruteForce(corpus.view, opt, nullptr), corpus.view.numSequences);
  });
}

// (corpus, options, onProgress?) -> { promise, cancel }; onProgress(steps, tokens, tokenGoal) as schedule()
Napi::Value CudaScheduleBruteForce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto corpus = std::make_shared<CorpusHandle>(corpusFromJs(info[0].As<Napi::Object>()));
  auto opt = std::make_shared<ScheduleOptions>(optionsFromJs(info[1].As<Napi::Object>()));
  Napi::Function onProgress = info.Length() > 2 && info[2].IsFunction() ? info[2].As<Napi::Function>() : Napi::Function();
  auto cancel = std::make_shared<std::atomic<bool>>(false);
  auto result = std::make_shared<ScheduleResult>();
  auto run = [corpus, opt, result](const CudaWorker::Report& report) {
    Sink sink;
    sink.f = report;
    *result = cuda::scheduleBruteForce(corpus->view, *opt, &sink);
  };
  auto finish = [corpus, result](Napi::Env e) -> Napi::Value {
    return resultToJs(e, *result, corpus->view.numSequences);
  };
  return jobToJs(env, new CudaWorker(env, nullptr, run, finish, onProgress, cancel), cancel);
}

// (spec, batch, numClusters, clip, firstRow) -> { promise (the delta), cancel }: off the event loop.
// Cancel takes effect before the GPU work starts (one batch is one short sequence of kernels).
Napi::Value CudaInfluenceAccumulateAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto in = std::make_shared<Inputs>();
    const ProjectionSpec spec = specFromJs(info[0]);
    const GradBatch b = batchFromJs(spec, info[1], true, *in);
    const size_t K = info[2].IsNumber() ? (size_t)info[2].As<Napi::Number>().DoubleValue() : 0;
    const double clip = clipArg(info[3]);
    const uint64_t first = info.Length() > 4 && !info[4].IsUndefined() ? u64FromJs(info[4], "firstRow") : 0;
    auto cancel = std::make_shared<std::atomic<bool>>(false);
    auto result = std::make_shared<cuda::InfluenceDelta>();
    auto run = [=](const CudaWorker::Report& report) {
      if (!report(0, (double)b.n, 0)) throw Cancelled();
      *result = cuda::influenceAccumulate(spec, b, K, clip, first);
      report((double)b.n, (double)b.n, 0);
    };
    auto finish = [result](Napi::Env e) -> Napi::Value { return deltaToJs(e, *result); };
    return jobToJs(env, new CudaWorker(env, in, run, finish, optionalFunction(info, 5), cancel), cancel);
  });
}

// (matrices, options, onProgress?) -> { promise, cancel }, progress (done, total) as stableRank()
Napi::Value CudaStableRank(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto in = std::make_shared<Inputs>();
    const auto ms = matricesFromJs(info[0], *in);
    const analysis::StableRankOptions o = stableOptionsFromJs(info[1]);
    auto cancel = std::make_shared<std::atomic<bool>>(false);
    auto result = std::make_shared<std::vector<analysis::StableRank>>();
    auto run = [=](const CudaWorker::Report& report) {
      struct Monitor : linalg::WorkMonitor {
        const CudaWorker::Report* r;
        bool report(double done, double total) override { return (*r)(done, total, 0); }
      } m;
      m.r = &report;
      *result = cuda::stableRanks(ms, o, &m);
    };
    auto finish = [result](Napi::Env e) -> Napi::Value { return stableRanksToJs(e, *result); };
    return jobToJs(env, new CudaWorker(env, in, run, finish, optionalFunction(info, 2), cancel), cancel);
  });
}

Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const cuda::DeviceInfo d = cuda::deviceInfo();
  Napi::Object o = Napi::Object::New(env);
  o.Set("built", true);
  o.Set("count", d.count);
  o.Set("device", d.device);
  o.Set("name", d.name);
  o.Set("computeCapability", d.count > 0 ? std::to_string(d.major) + "." + std::to_string(d.minor) : std::string());
  o.Set("memoryBytes", (double)d.memoryBytes);
  o.Set("runtimeVersion", d.runtimeVersion);
  o.Set("driverVersion", d.driverVersion);
  o.Set("reason", d.reason);
  return o;
}

// (bytes, reps) -> bytes moved per second by a device-to-device copy
Napi::Value CudaCopyBandwidth(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const uint64_t bytes = u64FromJs(info[0], "bytes");
    const uint64_t reps = u64FromJs(info[1], "reps");
    if (bytes == 0 || reps == 0 || reps > 1000) invalid("Expected positive `bytes` and `reps` in [1, 1000]");
    return Napi::Number::New(info.Env(), cuda::copyBandwidth(bytes, (int)reps));
  });
}

#else  // CPU-only build

constexpr const char* kNoCuda =
    "`device` 'cuda' needs the CUDA build of the addon, but this one was built without CUDA (run `npm run build:cuda` on a machine with nvcc)";

Napi::Value Unavailable(const Napi::CallbackInfo& info) { throw makeError(info.Env(), kValidation, kNoCuda); }

Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("built", false);
  o.Set("count", 0);
  o.Set("device", -1);
  o.Set("name", "");
  o.Set("computeCapability", "");
  o.Set("memoryBytes", 0);
  o.Set("runtimeVersion", 0);
  o.Set("driverVersion", 0);
  o.Set("reason", "the addon was built without CUDA (npm run build:cuda builds the CUDA variant)");
  return o;
}

#define CudaInfluenceFeatures Unavailable
#define CudaInfluenceAccumulate Unavailable
#define CudaStableRankSync Unavailable
#define CudaScheduleBruteForceSync Unavailable
#define CudaScheduleBruteForce Unavailable
#define CudaCopyBandwidth Unavailable
#define CudaInfluenceAccumulateAsync Unavailable
#define CudaStableRank Unavailable

#endif

}  // namespace

void registerCuda(Napi::Env env, Napi::Object exports) {
  exports.Set("cudaDeviceInfo", Napi::Function::New(env, DeviceInfo));
  exports.Set("cudaInfluenceFeatures", Napi::Function::New(env, CudaInfluenceFeatures));
  exports.Set("cudaInfluenceAccumulate", Napi::Function::New(env, CudaInfluenceAccumulate));
  exports.Set("cudaStableRankSync", Napi::Function::New(env, CudaStableRankSync));
  exports.Set("cudaScheduleBruteForceSync", Napi::Function::New(env, CudaScheduleBruteForceSync));
  exports.Set("cudaScheduleBruteForce", Napi::Function::New(env, CudaScheduleBruteForce));
  exports.Set("cudaCopyBandwidth", Napi::Function::New(env, CudaCopyBandwidth));
  exports.Set("cudaInfluenceAccumulateAsync", Napi::Function::New(env, CudaInfluenceAccumulateAsync));
  exports.Set("cudaStableRank", Napi::Function::New(env, CudaStableRank));
}

}  // namespace curricula::addon
