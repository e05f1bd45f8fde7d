// Linear-algebra entry points: Cholesky solve, symmetric eigendecomposition,
// influence scores and whitening, stable rank and chunk cosine. Each long job
// has an async form (promise_job.hpp: progress as (done, total), cancel())
// and a sync form; both share one marshalling path.
#include <atomic>
#include <cmath>
#include <functional>
#include <memory>

#include "addon/bindings.hpp"
#include "addon/analysis_marshal.hpp"
#include "addon/marshal.hpp"
#include "addon/promise_job.hpp"
#include "analysis/chunk_cosine.hpp"
#include "analysis/stable_rank.hpp"
#include "influence/scores.hpp"
#include "linalg/cholesky.hpp"
#include "linalg/eigen.hpp"

namespace curricula::addon {
namespace {

// Typed-array inputs; `refs` keeps them alive while a worker reads them.
struct Inputs {
  std::vector<Napi::ObjectReference> refs;
  template <typename A>
  A keep(const A& a) {
    refs.push_back(Napi::Persistent(a.template As<Napi::Object>()));
    return a;
  }
};

[[noreturn]] void invalid(const std::string& m) { throw std::invalid_argument(m); }

const double* f64(Napi::Value v, const char* field, size_t length, Inputs& in) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    invalid(std::string("`") + field + "` must be a Float64Array");
  Napi::Float64Array a = in.keep(v.As<Napi::Float64Array>());
  if (a.ElementLength() != length)
    invalid(std::string("`") + field + "` has " + std::to_string(a.ElementLength()) + " entries; expected " +
            std::to_string(length));
  return a.Data();
}

// Float32Array or Float64Array of exactly `length` entries.
const void* floats(Napi::Value v, const char* field, size_t length, bool& isFloat32, Inputs& in) {
  if (!v.IsTypedArray()) invalid(std::string("`") + field + "` must be a Float32Array or Float64Array");
  Napi::TypedArray t = v.As<Napi::TypedArray>();
  if (t.TypedArrayType() != napi_float32_array && t.TypedArrayType() != napi_float64_array)
    invalid(std::string("`") + field + "` must be a Float32Array or Float64Array");
  if (t.ElementLength() != length)
    invalid(std::string("`") + field + "` has " + std::to_string(t.ElementLength()) + " entries; expected " +
            std::to_string(length));
  in.keep(t);
  isFloat32 = t.TypedArrayType() == napi_float32_array;
  return static_cast<const uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset();
}

size_t sizeArg(Napi::Value v, const char* field) {
  if (!v.IsNumber()) invalid(std::string("`") + field + "` must be a number");
  const double x = v.As<Napi::Number>().DoubleValue();
  if (!(x >= 0) || x != std::floor(x) || x > 9007199254740991.0)
    invalid(std::string("`") + field + "` must be a non-negative integer");
  return (size_t)x;
}

size_t checkedProduct(size_t a, size_t b, const char* field) {
  if (b != 0 && a > SIZE_MAX / b / 8) invalid(std::string("`") + field + "` is too large");
  return a * b;
}

int threadsArg(const Napi::Object& o) {
  if (!o.Has("threads") || o.Get("threads").IsUndefined()) return 2;
  return (int)std::max<size_t>(1, std::min<size_t>(64, sizeArg(o.Get("threads"), "threads")));
}

double numberField(const Napi::Object& o, const char* field, double fallback) {
  if (!o.Has(field) || o.Get(field).IsUndefined()) return fallback;
  if (!o.Get(field).IsNumber()) invalid(std::string("`") + field + "` must be a number");
  return o.Get(field).As<Napi::Number>().DoubleValue();
}

Napi::Float64Array toF64(Napi::Env env, const std::vector<double>& v) {
  Napi::Float64Array a = Napi::Float64Array::New(env, v.size());
  std::copy(v.begin(), v.end(), a.Data());
  return a;
}

// A job: `run` on the worker thread, `finish` on the JS thread.
struct Job {
  Inputs inputs;
  std::function<void(linalg::WorkMonitor*)> run;
  std::function<Napi::Value(Napi::Env)> finish;
};

template <typename Fn>
Napi::Value guardedCall(Napi::Env env, Fn fn) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const linalg::Cancelled& e) {
    throw makeError(env, kAborted, e.what());
  } catch (const std::invalid_argument& e) {
    throw makeError(env, kValidation, e.what());
  } catch (const std::exception& e) {
    throw makeError(env, kInternal, e.what());
  }
}

// Builds the job from info (marshalling errors throw synchronously), then runs
// it now (sync) or on a worker; the async form returns { promise, cancel }.
using JobBuilder = std::shared_ptr<Job> (*)(const Napi::CallbackInfo& info);

Napi::Value runSync(const Napi::CallbackInfo& info, JobBuilder build) {
  Napi::Env env = info.Env();
  return guardedCall(env, [&]() -> Napi::Value {
    std::shared_ptr<Job> job = build(info);
    job->run(nullptr);
    return job->finish(env);
  });
}

Napi::Value runAsync(const Napi::CallbackInfo& info, JobBuilder build, size_t progressArg_) {
  Napi::Env env = info.Env();
  return guardedCall(env, [&]() -> Napi::Value {
    std::shared_ptr<Job> job = build(info);
    auto promiseJob = std::make_shared<PromiseJob>();
    promiseJob->run = [job](const ReportFn& report) {
      struct Sink : linalg::WorkMonitor {
        const ReportFn& r;
        explicit Sink(const ReportFn& rr) : r(rr) {}
        bool report(double done, double total) override { return r({done, total}); }
      } sink(report);
      job->run(&sink);
    };
    promiseJob->finish = [job](Napi::Env e) { return job->finish(e); };
    return startJob(env, "curricula.linalg", promiseJob, progressArg(info, progressArg_));
  });
}

// ---- jobs ------------------------------------------------------------------

// (a: Float64Array n×n, n, b: Float64Array n, options {threads}) -> x
std::shared_ptr<Job> choleskySolveJob(const Napi::CallbackInfo& info) {
  auto job = std::make_shared<Job>();
  const size_t n = sizeArg(info[1], "n");
  const double* a = f64(info[0], "a", checkedProduct(n, n, "n"), job->inputs);
  const double* b = f64(info[2], "b", n, job->inputs);
  const int threads = threadsArg(info[3].IsObject() ? info[3].As<Napi::Object>() : Napi::Object::New(info.Env()));
  auto x = std::make_shared<std::vector<double>>(b, b + n);
  job->run = [a, n, threads, x](linalg::WorkMonitor* m) {
    std::vector<double> l(a, a + n * n);
    linalg::choleskyInPlace(l.data(), n, threads, m);
    linalg::choleskySolveInPlace(l.data(), n, x->data());
  };
  job->finish = [x](Napi::Env env) -> Napi::Value { return toF64(env, *x); };
  return job;
}

// (a: Float64Array n×n, n, options {threads, vectors}) -> { values, vectors? }
std::shared_ptr<Job> eigenJob(const Napi::CallbackInfo& info) {
  auto job = std::make_shared<Job>();
  const size_t n = sizeArg(info[1], "n");
  const double* a = f64(info[0], "a", checkedProduct(n, n, "n"), job->inputs);
  const Napi::Object o = info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object::New(info.Env());
  const int threads = threadsArg(o);
  const bool vectors = !o.Has("vectors") || o.Get("vectors").ToBoolean().Value();
  for (size_t i = 0; i < n * n; i++)
    if (!std::isfinite(a[i])) invalid("`a[" + std::to_string(i) + "]` is not finite");
  auto out = std::make_shared<linalg::SymmetricEigen>();
  job->run = [a, n, threads, vectors, out](linalg::WorkMonitor* m) { *out = linalg::symmetricEigen(a, n, vectors, threads, m); };
  job->finish = [out, vectors](Napi::Env env) -> Napi::Value {
    Napi::Object r = Napi::Object::New(env);
    r.Set("values", toF64(env, out->values));
    if (vectors) r.Set("vectors", toF64(env, out->vectors));
    return r;
  };
  return job;
}

influence::StateView stateFromJs(const Napi::Value& v, Inputs& in) {
  if (!v.IsObject()) invalid("`state` must be an object");
  const Napi::Object s = v.As<Napi::Object>();
  influence::StateView st;
  st.dim = sizeArg(s.Get("dim"), "dim");
  st.numClusters = sizeArg(s.Get("numClusters"), "numClusters");
  st.count = f64(s.Get("count"), "count", st.numClusters, in);
  st.sum = f64(s.Get("sum"), "sum", checkedProduct(st.numClusters, st.dim, "sum"), in);
  st.targetCount = numberField(s, "targetCount", 0);
  st.targetSum = f64(s.Get("targetSum"), "targetSum", st.dim, in);
  st.covCount = numberField(s, "covCount", 0);
  st.cov = f64(s.Get("cov"), "cov", checkedProduct(st.dim, st.dim, "cov"), in);
  return st;
}

influence::ScoreOptions scoreOptionsFromJs(const Napi::Value& v) {
  influence::ScoreOptions o;
  if (!v.IsObject()) return o;
  const Napi::Object obj = v.As<Napi::Object>();
  const std::string mode = obj.Has("dampingMode") ? obj.Get("dampingMode").ToString().Utf8Value() : "condition";
  if (mode == "absolute") o.dampingMode = influence::DampingMode::Absolute;
  else if (mode == "condition") o.dampingMode = influence::DampingMode::Condition;
  else invalid("`dampingMode` must be \"absolute\" or \"condition\"");
  o.damping = numberField(obj, "damping", 0);
  o.maxCondition = numberField(obj, "maxCondition", 1e4);
  if (!(o.damping >= 0) || !std::isfinite(o.damping)) invalid("`damping` must be a finite number >= 0");
  if (!(o.maxCondition > 1) || !std::isfinite(o.maxCondition)) invalid("`maxCondition` must be a finite number > 1");
  const std::string method = obj.Has("method") ? obj.Get("method").ToString().Utf8Value() : "cholesky";
  if (method == "cholesky") o.method = influence::SolveMethod::Cholesky;
  else if (method == "eigen") o.method = influence::SolveMethod::Eigen;
  else invalid("`method` must be \"cholesky\" or \"eigen\"");
  o.excludeEmpty = !obj.Has("excludeEmpty") || obj.Get("excludeEmpty").ToBoolean().Value();
  o.threads = threadsArg(obj);
  o.seed = (uint64_t)numberField(obj, "seed", 0);
  o.spectrumTol = numberField(obj, "spectrumTol", 1e-10);
  if (!(o.spectrumTol > 0)) invalid("`spectrumTol` must be > 0");
  return o;
}

// (state, options) -> { scores, included, damping, lambdaMin, lambdaMax, condition, spectrumExact }
std::shared_ptr<Job> scoresJob(const Napi::CallbackInfo& info) {
  auto job = std::make_shared<Job>();
  const influence::StateView st = stateFromJs(info[0], job->inputs);
  const influence::ScoreOptions o = scoreOptionsFromJs(info[1]);
  auto out = std::make_shared<influence::ScoreResult>();
  job->run = [st, o, out](linalg::WorkMonitor* m) { *out = influence::influenceScores(st, o, m); };
  job->finish = [out](Napi::Env env) -> Napi::Value {
    Napi::Object r = Napi::Object::New(env);
    r.Set("scores", toF64(env, out->scores));
    Napi::Uint8Array inc = Napi::Uint8Array::New(env, out->included.size());
    std::copy(out->included.begin(), out->included.end(), inc.Data());
    r.Set("included", inc);
    r.Set("damping", out->damping);
    r.Set("lambdaMin", out->lambdaMin);
    r.Set("lambdaMax", out->lambdaMax);
    r.Set("condition", out->condition);
    r.Set("spectrumExact", out->spectrumExact);
    return r;
  };
  return job;
}

// (state, options, rows: Float64Array numRows×dim, numRows) -> { rows, damping, lambdaMin, lambdaMax }
std::shared_ptr<Job> whitenJob(const Napi::CallbackInfo& info) {
  auto job = std::make_shared<Job>();
  const influence::StateView st = stateFromJs(info[0], job->inputs);
  const influence::ScoreOptions o = scoreOptionsFromJs(info[1]);
  const size_t numRows = sizeArg(info[3], "numRows");
  const double* rows = f64(info[2], "rows", checkedProduct(numRows, st.dim, "rows"), job->inputs);
  for (size_t i = 0; i < numRows * st.dim; i++)
    if (!std::isfinite(rows[i])) invalid("`rows[" + std::to_string(i) + "]` is not finite");
  auto out = std::make_shared<influence::Whitened>();
  job->run = [st, o, rows, numRows, out](linalg::WorkMonitor* m) { *out = influence::whitenRows(st, o, rows, numRows, m); };
  job->finish = [out](Napi::Env env) -> Napi::Value {
    Napi::Object r = Napi::Object::New(env);
    r.Set("rows", toF64(env, out->rows));
    r.Set("damping", out->damping);
    r.Set("lambdaMin", out->lambdaMin);
    r.Set("lambdaMax", out->lambdaMax);
    return r;
  };
  return job;
}

// (matrices: {data, rows, cols}[], options {tol, maxIterations, seed, threads}) -> rows of results
std::shared_ptr<Job> stableRankJob(const Napi::CallbackInfo& info) {
  auto job = std::make_shared<Job>();
  if (!info[0].IsArray()) invalid("`matrices` must be an array");
  const Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<analysis::MatrixView> ms(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    const std::string field = "matrices[" + std::to_string(i) + "]";
    if (!arr.Get(i).IsObject()) invalid("`" + field + "` must be an object");
    const Napi::Object m = arr.Get(i).As<Napi::Object>();
    ms[i].rows = sizeArg(m.Get("rows"), (field + ".rows").c_str());
    ms[i].cols = sizeArg(m.Get("cols"), (field + ".cols").c_str());
    ms[i].data = floats(m.Get("data"), (field + ".data").c_str(), checkedProduct(ms[i].rows, ms[i].cols, field.c_str()),
                        ms[i].isFloat32, job->inputs);
  }
  analysis::StableRankOptions o;
  if (info[1].IsObject()) {
    const Napi::Object obj = info[1].As<Napi::Object>();
    o.tol = numberField(obj, "tol", o.tol);
    o.maxIter = (int)numberField(obj, "maxIterations", o.maxIter);
    o.seed = (uint64_t)numberField(obj, "seed", 0);
    o.threads = threadsArg(obj);
  }
  auto out = std::make_shared<std::vector<analysis::StableRank>>();
  job->run = [ms, o, out](linalg::WorkMonitor* m) { *out = analysis::stableRanks(ms, o, m); };
  job->finish = [out](Napi::Env env) -> Napi::Value { return stableRanksToJs(env, *out); };
  return job;
}

// (order: Uint32Array | BigUint64Array, features, n, d, k, options {threads}) -> { cosine, norms, boundaries }
std::shared_ptr<Job> chunkCosineJob(const Napi::CallbackInfo& info) {
  auto job = std::make_shared<Job>();
  const std::vector<uint64_t> order = indicesFromJs(info[0], "order");
  const size_t n = sizeArg(info[2], "n"), d = sizeArg(info[3], "d"), k = sizeArg(info[4], "chunks");
  bool f32 = false;
  const void* feats = floats(info[1], "features", checkedProduct(n, d, "features"), f32, job->inputs);
  const int threads = threadsArg(info[5].IsObject() ? info[5].As<Napi::Object>() : Napi::Object::New(info.Env()));
  auto out = std::make_shared<analysis::ChunkCosine>();
  job->run = [order, feats, f32, n, d, k, threads, out](linalg::WorkMonitor* m) {
    *out = analysis::chunkCosine(order.data(), order.size(), feats, f32, n, d, k, threads, m);
  };
  job->finish = [out](Napi::Env env) -> Napi::Value {
    Napi::Object r = Napi::Object::New(env);
    r.Set("cosine", toF64(env, out->cosine));
    r.Set("norms", toF64(env, out->norms));
    std::vector<double> b(out->boundaries.begin(), out->boundaries.end());
    r.Set("boundaries", toF64(env, b));
    return r;
  };
  return job;
}

}  // namespace

void registerLinalg(Napi::Env env, Napi::Object exports) {
  auto both = [&](const char* name, JobBuilder build, size_t progressArg) {
    exports.Set(std::string(name) + "Sync",
                Napi::Function::New(env, [build](const Napi::CallbackInfo& info) { return runSync(info, build); }));
    exports.Set(name, Napi::Function::New(env, [build, progressArg](const Napi::CallbackInfo& info) {
                  return runAsync(info, build, progressArg);
                }));
  };
  both("choleskySolve", choleskySolveJob, 4);
  both("symmetricEigen", eigenJob, 3);
  both("influenceScores", scoresJob, 2);
  both("whiten", whitenJob, 4);
  both("stableRank", stableRankJob, 2);
  both("chunkCosine", chunkCosineJob, 6);
}

}  // namespace curricula::addon
