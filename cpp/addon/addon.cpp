// Module registration and the small synchronous helpers (noise, targets,
// fidelity statistics, seeded shuffle).
#include "addon/bindings.hpp"
#include "addon/marshal.hpp"
#include "scheduler/fidelity.hpp"
#include "scheduler/schedule_setup.hpp"
#include "scheduler/scheduler.hpp"

namespace curricula::addon {

template <typename Fn>
static auto guarded(Napi::Env env, Fn fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::invalid_argument& e) {
    throw makeError(env, kValidation, e.what());
  } catch (const std::exception& e) {
    throw makeError(env, kInternal, e.what());
  }
}

// noise(seed, step, index): the standard normal draw used for sigma > 0.
Napi::Value Noise(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), scheduleNoise(u64FromJs(info[0], "seed"), u64FromJs(info[1], "step"),
                                                     u64FromJs(info[2], "index")));
}

static Napi::Float64Array toF64(Napi::Env env, const std::vector<double>& v) {
  Napi::Float64Array a = Napi::Float64Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a[i] = v[i];
  return a;
}

// targets(corpus, mixture) -> { bits, group: BigInt64Array, bin: BigInt64Array, binShare: Float64Array }
Napi::Value Targets(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    CorpusHandle corpus = corpusFromJs(info[0].As<Napi::Object>());
    validateCorpus(corpus.view);
    const std::vector<double> mixture = doublesFromJs(info[1], "mixture");
    const SequenceCounts counts = countCharacteristics(corpus.view);
    ScheduleOptions o;
    o.mixture = mixture;
    validateScheduleOptions(corpus.view, counts, o);
    const FixedTargets t = buildFixedTargets(counts, mixture, corpus.view.numGroups, corpus.view.numBins, 0);
    Napi::Object out = Napi::Object::New(env);
    out.Set("bits", Napi::Number::New(env, t.bits));
    Napi::BigInt64Array g = Napi::BigInt64Array::New(env, t.group.size());
    for (size_t i = 0; i < t.group.size(); i++) g[i] = t.group[i];
    Napi::BigInt64Array b = Napi::BigInt64Array::New(env, t.bin.size());
    std::vector<double> share(t.bin.size());
    for (size_t i = 0; i < t.bin.size(); i++) { b[i] = t.bin[i]; share[i] = (double)t.bin[i] / (double)t.P; }
    out.Set("group", g);
    out.Set("bin", b);
    out.Set("binShare", toF64(env, share));
    return out;
  });
}

// fidelity(corpus, order, mixture, binShare, checkpoints)
Napi::Value Fidelity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    CorpusHandle corpus = corpusFromJs(info[0].As<Napi::Object>());
    validateCorpus(corpus.view);
    const std::vector<uint64_t> order = indicesFromJs(info[1], "order");
    for (size_t i = 0; i < order.size(); i++)
      if (order[i] >= corpus.view.numSequences)
        throw std::invalid_argument("order[" + std::to_string(i) + "] = " + std::to_string(order[i]) +
                                    " is out of range [0, " + std::to_string(corpus.view.numSequences) + ")");
    const std::vector<double> mixture = doublesFromJs(info[2], "mixture");
    const std::vector<double> binShare = doublesFromJs(info[3], "binShare");
    if (mixture.size() != corpus.view.numGroups || binShare.size() != corpus.view.numBins)
      throw std::invalid_argument("mixture and binShare must have numGroups and numBins entries");
    const int checkpoints = info[4].As<Napi::Number>().Int32Value();
    const SequenceCounts counts = countCharacteristics(corpus.view);
    const FidelityStats f = prefixFidelity(counts, order, mixture, binShare, checkpoints);
    Napi::Object out = Napi::Object::New(env);
    out.Set("sequences", Napi::Number::New(env, (double)f.sequences));
    out.Set("tokens", Napi::Number::New(env, (double)f.tokens));
    out.Set("groupMaxDeviation", toF64(env, f.groupMaxDeviation));
    out.Set("binMaxDeviation", toF64(env, f.binMaxDeviation));
    out.Set("checkpointTokens", toF64(env, f.checkpointTokens));
    out.Set("checkpointL1", toF64(env, f.checkpointL1));
    out.Set("finalRatio", toF64(env, f.finalRatio));
    return out;
  });
}

// shuffle(n, seed) -> order
Napi::Value Shuffle(const Napi::CallbackInfo& info) {
  const uint64_t n = u64FromJs(info[0], "n");
  return orderToJs(info.Env(), seededShuffle(n, u64FromJs(info[1], "seed")), n);
}

void registerScheduler(Napi::Env env, Napi::Object exports) {
  exports.Set("schedule", Napi::Function::New(env, Schedule));
  exports.Set("scheduleSync", Napi::Function::New(env, ScheduleSync));
  exports.Set("scheduleBruteForceSync", Napi::Function::New(env, ScheduleBruteForceSync));
  exports.Set("noise", Napi::Function::New(env, Noise));
  exports.Set("targets", Napi::Function::New(env, Targets));
  exports.Set("fidelity", Napi::Function::New(env, Fidelity));
  exports.Set("shuffle", Napi::Function::New(env, Shuffle));
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  registerScheduler(env, exports);
  registerModel(env, exports);
#ifdef CURRICULA_WITH_CUDA
  exports.Set("cuda", Napi::Boolean::New(env, true));
#else
  exports.Set("cuda", Napi::Boolean::New(env, false));
#endif
  return exports;
}

NODE_API_MODULE(curricula, Init)

}  // namespace curricula::addon
