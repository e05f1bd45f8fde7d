// Influence accumulator and projection entry points. The accumulator is a
// native object (InfluenceAccumulator) that owns the projection matrix and the
// double sums; add() runs a batch on a libuv worker thread with progress and
// cancellation, addSync() blocks. The TS facade validates first; the checks
// here guard memory (typed-array lengths against n, D, T).
#include <atomic>
#include <cmath>
#include <memory>

#include "addon/bindings.hpp"
#include "addon/influence_marshal.hpp"
#include "addon/marshal.hpp"
#include "addon/promise_job.hpp"
#include "influence/accumulator.hpp"
#include "linalg/gemm.hpp"

namespace curricula::addon {
namespace {

using influence::Accumulator;
using influence::GradBatch;
using influence::GradDtype;
using influence::ProjectionKind;
using influence::ProjectionSpec;

Napi::Error validation(Napi::Env env, const std::string& m) { return makeError(env, kValidation, m); }

ProjectionSpec specFromJs(const Napi::Object& o) { return projectionSpecFromJs(o); }

// A batch whose typed arrays stay referenced while native code reads them.
struct BatchHandle {
  GradBatch batch;
  std::vector<Napi::ObjectReference> refs;
};

template <typename T>
const T* typed(const Napi::Object& o, const char* field, napi_typedarray_type type, const char* tname, size_t want,
               std::vector<Napi::ObjectReference>& refs) {
  Napi::Value v = o.Get(field);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    throw validation(o.Env(), "Expected " + std::string(tname) + " for `" + field + "`");
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.ElementLength() != want)
    throw validation(o.Env(), "`" + std::string(field) + "` has " + std::to_string(ta.ElementLength()) +
                                  " elements but the batch needs " + std::to_string(want));
  refs.emplace_back(Napi::Persistent(ta.As<Napi::Object>()));
  return reinterpret_cast<const T*>(static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
}

BatchHandle batchFromJs(const ProjectionSpec& spec, const Napi::Object& o, bool needClusters) {
  BatchHandle h;
  GradBatch& b = h.batch;
  b.n = sizeField(o, "n");
  if (spec.kind == ProjectionKind::Kronecker) {
    b.tokens = sizeField(o, "tokens");
    if (b.tokens == 0) throw validation(o.Env(), "Expected positive integer for `tokens`");
    b.activations = typed<float>(o, "activations", napi_float32_array, "Float32Array", b.n * b.tokens * spec.inDim, h.refs);
    b.outGrads = typed<float>(o, "outGrads", napi_float32_array, "Float32Array", b.n * b.tokens * spec.outDim, h.refs);
  } else {
    const std::string dtype = o.Get("dtype").IsUndefined() ? "f32" : o.Get("dtype").ToString().Utf8Value();
    const size_t want = b.n * spec.inputDim;
    if (dtype == "f32") {
      b.dtype = GradDtype::F32;
      b.grads = typed<float>(o, "grads", napi_float32_array, "Float32Array (dtype f32)", want, h.refs);
    } else if (dtype == "f16" || dtype == "bf16") {
      b.dtype = dtype == "f16" ? GradDtype::F16 : GradDtype::BF16;
      b.grads = typed<uint16_t>(o, "grads", napi_uint16_array, "Uint16Array (dtype f16 or bf16)", want, h.refs);
    } else {
      throw validation(o.Env(), "Expected 'f32', 'f16' or 'bf16' for `dtype`");
    }
  }
  if (needClusters) {
    b.cluster = typed<int32_t>(o, "cluster", napi_int32_array, "Int32Array", b.n, h.refs);
    if (!o.Get("target").IsUndefined()) b.target = typed<uint8_t>(o, "target", napi_uint8_array, "Uint8Array", b.n, h.refs);
  }
  return h;
}

Napi::Float64Array toF64(Napi::Env env, const double* p, size_t n) {
  Napi::Float64Array a = Napi::Float64Array::New(env, n);
  std::copy(p, p + n, a.Data());
  return a;
}

unsigned threadsArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsUndefined()) return 1;
  const double t = info[i].As<Napi::Number>().DoubleValue();
  if (!(t >= 1 && t <= 256 && t == std::floor(t))) throw validation(info.Env(), "Expected integer in [1, 256] for `threads`");
  return (unsigned)t;
}

class InfluenceAccumulator : public Napi::ObjectWrap<InfluenceAccumulator> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "InfluenceAccumulator",
                       {InstanceMethod("addSync", &InfluenceAccumulator::AddSync),
                        InstanceMethod("add", &InfluenceAccumulator::Add),
                        InstanceMethod("state", &InfluenceAccumulator::State)});
  }

  // new InfluenceAccumulator(spec, numClusters, clip)
  explicit InfluenceAccumulator(const Napi::CallbackInfo& info) : Napi::ObjectWrap<InfluenceAccumulator>(info) {
    Napi::Env env = info.Env();
    const ProjectionSpec spec = specFromJs(info[0].As<Napi::Object>());
    const double k = info[1].As<Napi::Number>().DoubleValue();
    if (!(k >= 1 && k <= 2147483647.0 && k == std::floor(k)))
      throw validation(env, "Expected positive integer for `numClusters`");
    const double clip = info[2].As<Napi::Number>().DoubleValue();
    guarded(env, [&] {
      acc_ = std::make_unique<Accumulator>(spec, (size_t)k, clip);
      return 0;
    });
  }

  Accumulator& acc() { return *acc_; }
  std::atomic<bool> busy{false};

 private:
  void requireIdle(Napi::Env env) {
    if (busy.load()) throw makeError(env, kValidation, "the accumulator is busy with an add() that has not finished");
  }

  Napi::Value AddSync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    requireIdle(env);
    return guarded(env, [&]() -> Napi::Value {
      BatchHandle b = batchFromJs(acc_->projector().spec(), info[0].As<Napi::Object>(), true);
      acc_->add(b.batch, threadsArg(info, 1));
      return env.Undefined();
    });
  }

  // add(batch, threads, onProgress?) -> { promise, cancel }
  Napi::Value Add(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    requireIdle(env);
    BatchHandle b = guarded(env, [&] { return batchFromJs(acc_->projector().spec(), info[0].As<Napi::Object>(), true); });
    const unsigned threads = threadsArg(info, 1);
    auto batch = std::make_shared<BatchHandle>(std::move(b));
    auto self = std::make_shared<Napi::ObjectReference>(Napi::Persistent(info.This().As<Napi::Object>()));
    auto job = std::make_shared<PromiseJob>();
    job->run = [this, batch, threads](const ReportFn& report) {
      acc().add(batch->batch, threads, [&](size_t done, size_t rows) { return report({(double)done, (double)rows}); });
    };
    job->finish = [](Napi::Env e) -> Napi::Value { return e.Undefined(); };
    job->settled = [this, self] { busy.store(false); };  // `self` keeps this object alive until then
    busy.store(true);
    return startJob(env, "curricula.influence.add", job, progressArg(info, 2));
  }

  Napi::Value State(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    requireIdle(env);
    const influence::AccumulatorState& s = acc_->state();
    Napi::Object o = Napi::Object::New(env);
    o.Set("dim", Napi::Number::New(env, (double)s.dim));
    o.Set("numClusters", Napi::Number::New(env, (double)s.numClusters));
    o.Set("count", toF64(env, s.count.data(), s.count.size()));
    o.Set("sum", toF64(env, s.sum.data(), s.sum.size()));
    o.Set("targetCount", Napi::Number::New(env, s.targetCount));
    o.Set("targetSum", toF64(env, s.targetSum.data(), s.targetSum.size()));
    o.Set("covCount", Napi::Number::New(env, s.covCount));
    o.Set("cov", toF64(env, s.cov.data(), s.cov.size()));
    o.Set("examples", Napi::Number::New(env, (double)acc_->examples()));
    o.Set("kernel", Napi::String::New(env, linalg::gemmKernelName()));
    return o;
  }

  std::unique_ptr<Accumulator> acc_;
};

// influenceNorms(spec, batch, firstRow, threads) -> Float64Array of raw L2 norms
Napi::Value InfluenceNorms(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const ProjectionSpec spec = specFromJs(info[0].As<Napi::Object>());
    BatchHandle b = batchFromJs(spec, info[1].As<Napi::Object>(), false);
    const std::vector<double> n = influence::batchNorms(spec, b.batch, u64FromJs(info[2], "firstRow"), threadsArg(info, 3));
    return toF64(env, n.data(), n.size());
  });
}

// influenceFeatures(spec, batch, clip, threads) -> Float64Array n x featureDim
Napi::Value InfluenceFeatures(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const ProjectionSpec spec = specFromJs(info[0].As<Napi::Object>());
    BatchHandle b = batchFromJs(spec, info[1].As<Napi::Object>(), false);
    const double clip = info[2].As<Napi::Number>().DoubleValue();
    if (!(clip > 0)) throw std::invalid_argument("Expected `clip` > 0");
    influence::Projector p(spec);
    const std::vector<double> f = influence::batchFeatures(p, b.batch, clip, 0, threadsArg(info, 3));
    return toF64(env, f.data(), f.size());
  });
}

// influenceProjectionElement(kind, seed, row, col, d) -> number (the float value)
Napi::Value InfluenceProjectionElement(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string kind = info[0].ToString().Utf8Value();
  const uint64_t seed = u64FromJs(info[1], "seed");
  const uint64_t r = u64FromJs(info[2], "row"), c = u64FromJs(info[3], "col"), d = u64FromJs(info[4], "d");
  if (d == 0) throw validation(env, "Expected positive integer for `d`");
  float v;
  if (kind == "dense") v = influence::denseElement(seed, r, c, d);
  else if (kind == "rademacher") v = influence::rademacherElement(seed, r, c, d);
  else if (kind == "kronecker-in") v = influence::kroneckerInElement(seed, r, c, d);
  else if (kind == "kronecker-out") v = influence::kroneckerOutElement(seed, r, c, d);
  else throw validation(env, "Expected 'dense', 'rademacher', 'kronecker-in' or 'kronecker-out' for `kind`");
  return Napi::Number::New(env, v);
}

// sgemm(M, N, K, A, B, threads) -> Float32Array M x N (row-major)
Napi::Value Sgemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const size_t M = (size_t)u64FromJs(info[0], "M"), N = (size_t)u64FromJs(info[1], "N"), K = (size_t)u64FromJs(info[2], "K");
    if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
        info[3].As<Napi::Float32Array>().ElementLength() != M * K)
      throw std::invalid_argument("Expected Float32Array of M*K elements for `A`");
    if (!info[4].IsTypedArray() || info[4].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
        info[4].As<Napi::Float32Array>().ElementLength() != K * N)
      throw std::invalid_argument("Expected Float32Array of K*N elements for `B`");
    Napi::Float32Array C = Napi::Float32Array::New(env, M * N);
    linalg::sgemm(M, N, K, info[3].As<Napi::Float32Array>().Data(), K, info[4].As<Napi::Float32Array>().Data(), N,
                  C.Data(), N, threadsArg(info, 5));
    return C;
  });
}

}  // namespace

void registerInfluence(Napi::Env env, Napi::Object exports) {
  exports.Set("InfluenceAccumulator", InfluenceAccumulator::define(env));
  exports.Set("influenceNorms", Napi::Function::New(env, InfluenceNorms));
  exports.Set("influenceFeatures", Napi::Function::New(env, InfluenceFeatures));
  exports.Set("influenceProjectionElement", Napi::Function::New(env, InfluenceProjectionElement));
  exports.Set("sgemm", Napi::Function::New(env, Sgemm));
  exports.Set("gemmKernel", Napi::String::New(env, linalg::gemmKernelName()));
}

}  // namespace curricula::addon
