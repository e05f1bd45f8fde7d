// The demo language model (cpp/model): init, train (async with progress and
// cancel, and sync), per-sequence losses, and the per-example layer inputs and
// gradients the influence engine and the stable-rank report read.
#include <atomic>
#include <functional>
#include <memory>

#include "addon/bindings.hpp"
#include "addon/marshal.hpp"
#include "addon/promise_job.hpp"
#include "model/model.hpp"

namespace curricula::addon {
namespace {

using namespace curricula::model;

uint32_t shapeField(const Napi::Object& o, const char* f) {
  Napi::Value v = o.Get(f);
  if (!v.IsNumber()) throw makeError(o.Env(), kValidation, std::string("Expected integer for `shape.") + f + "`");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0 && d == (double)(uint32_t)d))
    throw makeError(o.Env(), kValidation, std::string("Expected 32-bit unsigned integer for `shape.") + f + "`");
  return (uint32_t)d;
}

ModelShape shapeFromJs(const Napi::Value& v) {
  if (!v.IsObject()) throw makeError(v.Env(), kValidation, "Expected object for `shape`");
  const Napi::Object o = v.As<Napi::Object>();
  ModelShape s{shapeField(o, "vocab"), shapeField(o, "context"), shapeField(o, "embed"), shapeField(o, "hidden")};
  try {
    validateShape(s);
  } catch (const std::invalid_argument& e) {
    throw makeError(v.Env(), kValidation, e.what());
  }
  return s;
}

template <typename T, napi_typedarray_type kType>
const T* typedView(const Napi::Value& v, const char* field, const char* tname, size_t& length,
                   std::vector<Napi::ObjectReference>* refs) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != kType)
    throw makeError(v.Env(), kValidation, std::string("Expected ") + tname + " for `" + field + "`");
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  length = ta.ElementLength();
  if (refs) refs->emplace_back(Napi::Persistent(ta.As<Napi::Object>()));
  return reinterpret_cast<const T*>(static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
}

std::vector<float> floatsFromJs(const Napi::Value& v, const char* field) {
  size_t n;
  const float* p = typedView<float, napi_float32_array>(v, field, "Float32Array", n, nullptr);
  return std::vector<float>(p, p + n);
}

std::vector<uint32_t> u32sFromJs(const Napi::Value& v, const char* field) {
  size_t n;
  const uint32_t* p = typedView<uint32_t, napi_uint32_array>(v, field, "Uint32Array", n, nullptr);
  return std::vector<uint32_t>(p, p + n);
}

// Token sequences {ids, offsets} read in place; refs keep them alive on worker threads.
struct SeqHandle {
  TokenSequences view;
  std::vector<Napi::ObjectReference> refs;
};

SeqHandle seqsFromJs(const Napi::Value& v) {
  if (!v.IsObject()) throw makeError(v.Env(), kValidation, "Expected object for `sequences`");
  const Napi::Object o = v.As<Napi::Object>();
  SeqHandle h;
  size_t nOff;
  h.view.ids = typedView<uint32_t, napi_uint32_array>(o.Get("ids"), "ids", "Uint32Array", h.view.numIds, &h.refs);
  h.view.offsets = typedView<uint32_t, napi_uint32_array>(o.Get("offsets"), "offsets", "Uint32Array", nOff, &h.refs);
  if (nOff < 1) throw makeError(v.Env(), kValidation, "`offsets` must have at least one entry");
  h.view.numSequences = nOff - 1;
  return h;
}

Layer layerFromJs(const Napi::Value& v) {
  const std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (s == "hidden") return Layer::Hidden;
  if (s == "output") return Layer::Output;
  throw makeError(v.Env(), kValidation, "Expected 'hidden' or 'output' for `layer`");
}

unsigned threadsFromJs(const Napi::Value& v) {
  if (v.IsUndefined()) return 1;
  const uint64_t t = u64FromJs(v, "threads");
  if (t < 1 || t > 64) throw makeError(v.Env(), kValidation, "Expected `threads` in [1, 64]");
  return (unsigned)t;
}

TrainOptions trainOptionsFromJs(const Napi::Value& v) {
  if (!v.IsObject()) throw makeError(v.Env(), kValidation, "Expected object for `options`");
  const Napi::Object o = v.As<Napi::Object>();
  TrainOptions t;
  const uint64_t batch = u64FromJs(o.Get("batchSize"), "batchSize");
  if (batch < 1 || batch > 0xffffffffULL) throw makeError(v.Env(), kValidation, "Expected `batchSize` >= 1");
  t.batchSize = (uint32_t)batch;
  t.lr = floatsFromJs(o.Get("lr"), "lr");
  const std::vector<double> cps = doublesFromJs(o.Get("checkpoints"), "checkpoints");
  for (double c : cps) {
    if (!(c >= 0 && c <= 9007199254740991.0)) throw makeError(v.Env(), kValidation, "Expected token counts in `checkpoints`");
    t.checkpoints.push_back((uint64_t)c);
  }
  Napi::Value clip = o.Get("clipNorm");
  if (!clip.IsUndefined()) {
    if (!clip.IsNumber()) throw makeError(v.Env(), kValidation, "Expected number for `clipNorm`");
    t.clipNorm = clip.As<Napi::Number>().FloatValue();
  }
  return t;
}

Napi::Float32Array toF32(Napi::Env env, const std::vector<float>& v) {
  Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
  std::copy(v.begin(), v.end(), a.Data());
  return a;
}

Napi::Uint32Array toU32(Napi::Env env, const std::vector<uint32_t>& v) {
  Napi::Uint32Array a = Napi::Uint32Array::New(env, v.size());
  std::copy(v.begin(), v.end(), a.Data());
  return a;
}

Napi::Object trainResultToJs(Napi::Env env, const TrainResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("params", toF32(env, r.params));
  Napi::Array cps = Napi::Array::New(env, r.checkpointParams.size());
  for (size_t i = 0; i < r.checkpointParams.size(); i++) cps.Set((uint32_t)i, toF32(env, r.checkpointParams[i]));
  o.Set("checkpointParams", cps);
  Napi::Float64Array ct = Napi::Float64Array::New(env, r.checkpointTokens.size());
  for (size_t i = 0; i < r.checkpointTokens.size(); i++) ct[i] = (double)r.checkpointTokens[i];
  o.Set("checkpointTokens", ct);
  o.Set("stepLoss", toF32(env, r.stepLoss));
  o.Set("tokens", Napi::Number::New(env, (double)r.tokens));
  return o;
}


// Per-sequence losses off the event loop.
class LossWorker : public Napi::AsyncWorker {
 public:
  LossWorker(Napi::Env env, ModelShape shape, std::vector<float> params, SeqHandle seqs, unsigned threads)
      : Napi::AsyncWorker(env, "curricula.evalLoss"),
        deferred_(Napi::Promise::Deferred::New(env)),
        shape_(shape),
        params_(std::move(params)),
        seqs_(std::move(seqs)),
        threads_(threads) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      result_ = sequenceLosses(shape_, params_, seqs_.view, threads_);
    } catch (const std::invalid_argument& e) {
      code_ = kValidation;
      SetError(e.what());
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override {
    Napi::Float64Array a = Napi::Float64Array::New(Env(), result_.size());
    std::copy(result_.begin(), result_.end(), a.Data());
    deferred_.Resolve(a);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(makeError(Env(), code_, e.Message()).Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  ModelShape shape_;
  std::vector<float> params_;
  SeqHandle seqs_;
  unsigned threads_;
  std::vector<double> result_;
  std::string code_ = kInternal;
};

// Runs compute() on a worker thread and resolves with toJs(result) on the main thread.
template <typename Result>
class TaskWorker : public Napi::AsyncWorker {
 public:
  TaskWorker(Napi::Env env, const char* name, std::function<Result()> compute,
             std::function<Napi::Value(Napi::Env, const Result&)> toJs, SeqHandle seqs)
      : Napi::AsyncWorker(env, name),
        deferred_(Napi::Promise::Deferred::New(env)),
        compute_(std::move(compute)),
        toJs_(std::move(toJs)),
        seqs_(std::move(seqs)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      result_ = compute_();
    } catch (const std::invalid_argument& e) {
      code_ = kValidation;
      SetError(e.what());
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(toJs_(Env(), result_)); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(makeError(Env(), code_, e.Message()).Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<Result()> compute_;
  std::function<Napi::Value(Napi::Env, const Result&)> toJs_;
  SeqHandle seqs_;  // keeps the token arrays alive while compute_ reads them
  Result result_;
  std::string code_ = kInternal;
};

Napi::Value linearInputsToJs(Napi::Env env, const LinearInputs& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("in", Napi::Number::New(env, r.in));
  o.Set("out", Napi::Number::New(env, r.out));
  o.Set("acts", toF32(env, r.acts));
  o.Set("grads", toF32(env, r.grads));
  o.Set("exampleOffsets", toU32(env, r.exampleOffsets));
  return o;
}

}  // namespace

// modelInit(shape, seed) -> Float32Array
Napi::Value ModelInit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ModelShape s = shapeFromJs(info[0]);
  const uint64_t seed = u64FromJs(info[1], "seed");
  return guarded(env, [&]() -> Napi::Value { return toF32(env, initParams(s, seed)); });
}

// modelTrain(shape, params, sequences, order, options, onProgress?) -> { promise, cancel }
Napi::Value ModelTrain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ModelShape s = shapeFromJs(info[0]);
  std::vector<float> params = floatsFromJs(info[1], "params");
  SeqHandle seqs = seqsFromJs(info[2]);
  std::vector<uint32_t> order = u32sFromJs(info[3], "order");
  TrainOptions opt = trainOptionsFromJs(info[4]);
  auto seqsHeld = std::make_shared<SeqHandle>(std::move(seqs));
  auto paramsHeld = std::make_shared<std::vector<float>>(std::move(params));
  auto orderHeld = std::make_shared<std::vector<uint32_t>>(std::move(order));
  auto optHeld = std::make_shared<TrainOptions>(std::move(opt));
  auto result = std::make_shared<TrainResult>();
  auto job = std::make_shared<PromiseJob>();
  job->run = [s, seqsHeld, paramsHeld, orderHeld, optHeld, result](const ReportFn& report) {
    struct Sink : TrainSink {
      const ReportFn& r;
      explicit Sink(const ReportFn& rr) : r(rr) {}
      bool report(uint64_t step, uint64_t steps, uint64_t tokens, float loss) override {
        return r({(double)step, (double)steps, (double)tokens, (double)loss});
      }
    } sink(report);
    *result = train(s, std::move(*paramsHeld), seqsHeld->view, *orderHeld, *optHeld, &sink);
  };
  job->finish = [result](Napi::Env e) -> Napi::Value { return trainResultToJs(e, *result); };
  return startJob(env, "curricula.trainModel", job, progressArg(info, 5));
}

// modelTrainSync(shape, params, sequences, order, options) -> result
Napi::Value ModelTrainSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ModelShape s = shapeFromJs(info[0]);
  std::vector<float> params = floatsFromJs(info[1], "params");
  SeqHandle seqs = seqsFromJs(info[2]);
  const std::vector<uint32_t> order = u32sFromJs(info[3], "order");
  const TrainOptions opt = trainOptionsFromJs(info[4]);
  return guarded(env, [&]() -> Napi::Value {
    return trainResultToJs(env, train(s, std::move(params), seqs.view, order, opt, nullptr));
  });
}

// modelSequenceLosses(shape, params, sequences, threads) -> Promise<Float64Array>
Napi::Value ModelSequenceLosses(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ModelShape s = shapeFromJs(info[0]);
  auto* worker = new LossWorker(env, s, floatsFromJs(info[1], "params"), seqsFromJs(info[2]), threadsFromJs(info[3]));
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

// modelSequenceLossesSync(shape, params, sequences, threads) -> Float64Array
Napi::Value ModelSequenceLossesSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ModelShape s = shapeFromJs(info[0]);
  const std::vector<float> params = floatsFromJs(info[1], "params");
  SeqHandle seqs = seqsFromJs(info[2]);
  const unsigned threads = threadsFromJs(info[3]);
  return guarded(env, [&]() -> Napi::Value {
    const std::vector<double> r = sequenceLosses(s, params, seqs.view, threads);
    Napi::Float64Array a = Napi::Float64Array::New(env, r.size());
    std::copy(r.begin(), r.end(), a.Data());
    return a;
  });
}

// modelLinearInputs(shape, params, sequences, examples, layer) -> { in, out, acts, grads, exampleOffsets }
Napi::Value ModelLinearInputs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ModelShape s = shapeFromJs(info[0]);
  const std::vector<float> params = floatsFromJs(info[1], "params");
  SeqHandle seqs = seqsFromJs(info[2]);
  const std::vector<uint32_t> examples = u32sFromJs(info[3], "examples");
  const Layer layer = layerFromJs(info[4]);
  return guarded(env, [&]() -> Napi::Value { return linearInputsToJs(env, linearInputs(s, params, seqs.view, examples, layer)); });
}

// modelLinearInputsAsync(...same) -> Promise<same>
Napi::Value ModelLinearInputsAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ModelShape s = shapeFromJs(info[0]);
  auto params = std::make_shared<std::vector<float>>(floatsFromJs(info[1], "params"));
  SeqHandle seqs = seqsFromJs(info[2]);
  auto examples = std::make_shared<std::vector<uint32_t>>(u32sFromJs(info[3], "examples"));
  const Layer layer = layerFromJs(info[4]);
  const TokenSequences view = seqs.view;
  auto* worker = new TaskWorker<LinearInputs>(
      env, "curricula.linearInputs", [=]() { return linearInputs(s, *params, view, *examples, layer); }, linearInputsToJs,
      std::move(seqs));
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

// modelExampleGradients(shape, params, sequences, examples, layer, threads) -> Float32Array [n][in+1][out]
Napi::Value ModelExampleGradients(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ModelShape s = shapeFromJs(info[0]);
  const std::vector<float> params = floatsFromJs(info[1], "params");
  SeqHandle seqs = seqsFromJs(info[2]);
  const std::vector<uint32_t> examples = u32sFromJs(info[3], "examples");
  const Layer layer = layerFromJs(info[4]);
  const unsigned threads = threadsFromJs(info[5]);
  return guarded(env, [&]() -> Napi::Value {
    return toF32(env, exampleGradients(s, params, seqs.view, examples, layer, threads));
  });
}

// modelExampleGradientsAsync(...same) -> Promise<Float32Array>
Napi::Value ModelExampleGradientsAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ModelShape s = shapeFromJs(info[0]);
  auto params = std::make_shared<std::vector<float>>(floatsFromJs(info[1], "params"));
  SeqHandle seqs = seqsFromJs(info[2]);
  auto examples = std::make_shared<std::vector<uint32_t>>(u32sFromJs(info[3], "examples"));
  const Layer layer = layerFromJs(info[4]);
  const unsigned threads = threadsFromJs(info[5]);
  const TokenSequences view = seqs.view;
  auto* worker = new TaskWorker<std::vector<float>>(
      env, "curricula.exampleGradients", [=]() { return exampleGradients(s, *params, view, *examples, layer, threads); },
      [](Napi::Env e, const std::vector<float>& r) -> Napi::Value { return toF32(e, r); }, std::move(seqs));
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

void registerModel(Napi::Env env, Napi::Object exports) {
  exports.Set("modelInit", Napi::Function::New(env, ModelInit));
  exports.Set("modelTrain", Napi::Function::New(env, ModelTrain));
  exports.Set("modelTrainSync", Napi::Function::New(env, ModelTrainSync));
  exports.Set("modelSequenceLosses", Napi::Function::New(env, ModelSequenceLosses));
  exports.Set("modelSequenceLossesSync", Napi::Function::New(env, ModelSequenceLossesSync));
  exports.Set("modelLinearInputs", Napi::Function::New(env, ModelLinearInputs));
  exports.Set("modelExampleGradients", Napi::Function::New(env, ModelExampleGradients));
  exports.Set("modelLinearInputsAsync", Napi::Function::New(env, ModelLinearInputsAsync));
  exports.Set("modelExampleGradientsAsync", Napi::Function::New(env, ModelExampleGradientsAsync));
}

}  // namespace curricula::addon
