// Module registration and the small synchronous helpers (noise, targets,
// fidelity statistics, seeded shuffle).
#include "addon/bindings.hpp"
#include "addon/marshal.hpp"
#include "scheduler/fidelity.hpp"
#include "scheduler/schedule_setup.hpp"
#include "scheduler/scheduler.hpp"

namespace curricula::addon {


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

template <typename T>
static Napi::BigInt64Array toBigInts(Napi::Env env, const std::vector<T>& v) {
  Napi::BigInt64Array a = Napi::BigInt64Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a[i] = (int64_t)v[i];
  return a;
}

// targets(corpus, mixture | {tokens, cumulative}, neededTokens?) -> the integer target cells:
// { bits, cellStart, group (cells x K rates), bin (cells x B), groupBase, binBase, binShare (cell 0) }
Napi::Value Targets(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    CorpusHandle corpus = corpusFromJs(info[0].As<Napi::Object>());
    validateCorpus(corpus.view);
    const SequenceCounts counts = countCharacteristics(corpus.view);
    ScheduleOptions o;
    if (info[1].IsTypedArray()) o.mixture = doublesFromJs(info[1], "mixture");
    else o.table = tableFromJs(info[1]);
    validateScheduleOptions(corpus.view, counts, o);
    const uint64_t needed = info.Length() > 2 && !info[2].IsUndefined() ? u64FromJs(info[2], "neededTokens")
                                                                        : counts.totalTokens;
    const curricula::Targets t =
        o.table.empty() ? buildFixedTargets(counts, o.mixture, corpus.view.numGroups, corpus.view.numBins)
                        : buildTableTargets(counts, o.table, corpus.view.numGroups, corpus.view.numBins, needed);
    Napi::Object out = Napi::Object::New(env);
    out.Set("bits", Napi::Number::New(env, t.bits));
    std::vector<double> starts(t.start.begin(), t.start.end());
    out.Set("cellStart", toF64(env, starts));
    out.Set("group", toBigInts(env, t.groupRate));
    out.Set("bin", toBigInts(env, t.binRate));
    out.Set("groupBase", toBigInts(env, t.groupBase));
    out.Set("binBase", toBigInts(env, t.binBase));
    std::vector<double> share(t.B);
    for (size_t i = 0; i < t.B; i++) share[i] = (double)t.binRate[i] / (double)t.P;
    out.Set("binShare", toF64(env, share));
    return out;
  });
}

// fidelity(corpus, order, mixture | {tokens, cumulative}, checkpoints, neededTokens?)
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
    const SequenceCounts counts = countCharacteristics(corpus.view);
    ScheduleOptions o;
    if (info[2].IsTypedArray()) o.mixture = doublesFromJs(info[2], "mixture");
    else o.table = tableFromJs(info[2]);
    validateScheduleOptions(corpus.view, counts, o);
    const int checkpoints = info[3].As<Napi::Number>().Int32Value();
    const uint64_t needed = info.Length() > 4 && !info[4].IsUndefined() ? u64FromJs(info[4], "neededTokens")
                                                                        : counts.totalTokens;
    const curricula::Targets t =
        o.table.empty() ? buildFixedTargets(counts, o.mixture, corpus.view.numGroups, corpus.view.numBins)
                        : buildTableTargets(counts, o.table, corpus.view.numGroups, corpus.view.numBins, needed);
    const FidelityStats f = prefixFidelity(counts, order, t, checkpoints, o.table.empty() ? &o.mixture : nullptr);
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
  registerCurriculum(env, exports);
  registerLinalg(env, exports);
  registerInfluence(env, exports);
  registerModel(env, exports);
  registerCuda(env, exports);
#ifdef CURRICULA_WITH_CUDA
  exports.Set("cuda", Napi::Boolean::New(env, true));
#else
  exports.Set("cuda", Napi::Boolean::New(env, false));
#endif
  return exports;
}

NODE_API_MODULE(curricula, Init)

}  // namespace curricula::addon
