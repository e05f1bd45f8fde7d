#include "addon/marshal.hpp"

#include <cmath>

namespace curricula::addon {

static Napi::Error typeError(Napi::Env env, const std::string& field, const std::string& expected) {
  return makeError(env, kValidation, "Expected " + expected + " for `" + field + "`");
}

template <typename T>
static const T* typedData(const Napi::Object& obj, const char* field, napi_typedarray_type type, const char* tname,
                          size_t& length, std::vector<Napi::ObjectReference>& refs) {
  Napi::Env env = obj.Env();
  Napi::Value v = obj.Get(field);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) throw typeError(env, field, tname);
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  length = ta.ElementLength();
  refs.emplace_back(Napi::Persistent(ta.As<Napi::Object>()));
  const uint8_t* base = static_cast<const uint8_t*>(ta.ArrayBuffer().Data());
  return reinterpret_cast<const T*>(base + ta.ByteOffset());
}

static uint32_t u32Field(const Napi::Object& obj, const char* field) {
  Napi::Value v = obj.Get(field);
  if (!v.IsNumber()) throw typeError(obj.Env(), field, "integer");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0 && d == std::floor(d))) throw typeError(obj.Env(), field, "32-bit unsigned integer");
  return (uint32_t)d;
}

CorpusHandle corpusFromJs(const Napi::Object& obj) {
  Napi::Env env = obj.Env();
  CorpusHandle h;
  size_t nOff, nGroup, nBin, nTok;
  h.view.offsets = typedData<uint64_t>(obj, "offsets", napi_biguint64_array, "BigUint64Array", nOff, h.refs);
  h.view.group = typedData<uint32_t>(obj, "group", napi_uint32_array, "Uint32Array", nGroup, h.refs);
  h.view.bin = typedData<uint32_t>(obj, "bin", napi_uint32_array, "Uint32Array", nBin, h.refs);
  h.view.tokens = typedData<uint32_t>(obj, "tokens", napi_uint32_array, "Uint32Array", nTok, h.refs);
  h.view.numGroups = u32Field(obj, "numGroups");
  h.view.numBins = u32Field(obj, "numBins");
  if (nOff < 1) throw makeError(env, kValidation, "`offsets` must have at least one entry");
  h.view.numSequences = nOff - 1;
  const uint64_t nnz = h.view.offsets[nOff - 1];
  if (nGroup != nnz || nBin != nnz || nTok != nnz)
    throw makeError(env, kValidation,
                    "`offsets` ends at " + std::to_string(nnz) + " but `group`, `bin` and `tokens` have " +
                        std::to_string(nGroup) + ", " + std::to_string(nBin) + " and " + std::to_string(nTok) +
                        " entries");
  // Monotone offsets are checked by validateCorpus, which every entry point runs first.
  return h;
}

std::vector<double> doublesFromJs(const Napi::Value& v, const char* field) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw typeError(v.Env(), field, "Float64Array");
  Napi::Float64Array a = v.As<Napi::Float64Array>();
  return std::vector<double>(a.Data(), a.Data() + a.ElementLength());
}

std::vector<uint64_t> indicesFromJs(const Napi::Value& v, const char* field) {
  if (v.IsTypedArray()) {
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    if (ta.TypedArrayType() == napi_uint32_array) {
      Napi::Uint32Array a = v.As<Napi::Uint32Array>();
      return std::vector<uint64_t>(a.Data(), a.Data() + a.ElementLength());
    }
    if (ta.TypedArrayType() == napi_biguint64_array) {
      Napi::BigUint64Array a = v.As<Napi::BigUint64Array>();
      return std::vector<uint64_t>(a.Data(), a.Data() + a.ElementLength());
    }
  }
  throw typeError(v.Env(), field, "Uint32Array or BigUint64Array");
}

TargetTable tableFromJs(const Napi::Value& v) {
  if (!v.IsObject()) throw typeError(v.Env(), "targets", "object with `tokens` and `cumulative`");
  Napi::Object o = v.As<Napi::Object>();
  TargetTable t;
  t.tokens = doublesFromJs(o.Get("tokens"), "targets.tokens");
  t.cumulative = doublesFromJs(o.Get("cumulative"), "targets.cumulative");
  return t;
}

uint64_t u64FromJs(const Napi::Value& v, const char* field) {
  if (v.IsBigInt()) {
    bool lossless = true;
    const uint64_t x = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw typeError(v.Env(), field, "unsigned 64-bit integer");
    return x;
  }
  if (v.IsNumber()) {
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= 9007199254740991.0 && d == std::floor(d))) throw typeError(v.Env(), field, "non-negative safe integer");
    return (uint64_t)d;
  }
  throw typeError(v.Env(), field, "non-negative integer");
}

ScheduleOptions optionsFromJs(const Napi::Object& obj) {
  Napi::Env env = obj.Env();
  ScheduleOptions o;
  Napi::Value targets = obj.Get("targets");
  if (!targets.IsUndefined()) o.table = tableFromJs(targets);
  else o.mixture = doublesFromJs(obj.Get("mixture"), "mixture");
  const auto num = [&](const char* f, double def) {
    Napi::Value v = obj.Get(f);
    if (v.IsUndefined()) return def;
    if (!v.IsNumber()) throw typeError(env, f, "number");
    return v.As<Napi::Number>().DoubleValue();
  };
  o.lambda = num("lambda", 1.0);
  o.sigma = num("sigma", 0.0);
  o.threads = (uint32_t)num("threads", 2);
  Napi::Value obj_ = obj.Get("objective");
  if (!obj_.IsUndefined()) {
    const std::string s = obj_.IsString() ? obj_.As<Napi::String>().Utf8Value() : "";
    if (s == "sos") o.objective = Objective::SumOfSquares;
    else if (s == "norm") o.objective = Objective::Norm;
    else throw typeError(env, "objective", "'sos' or 'norm'");
  }
  if (!obj.Get("seed").IsUndefined()) o.seed = u64FromJs(obj.Get("seed"), "seed");
  if (!obj.Get("budgetTokens").IsUndefined()) o.budgetTokens = u64FromJs(obj.Get("budgetTokens"), "budgetTokens");
  if (!obj.Get("resume").IsUndefined()) o.resume = indicesFromJs(obj.Get("resume"), "resume");
  return o;
}

Napi::Value orderToJs(Napi::Env env, const std::vector<uint64_t>& order, uint64_t numSequences) {
  if (numSequences <= 0xffffffffULL) {
    Napi::Uint32Array a = Napi::Uint32Array::New(env, order.size());
    for (size_t i = 0; i < order.size(); i++) a[i] = (uint32_t)order[i];
    return a;
  }
  Napi::BigUint64Array a = Napi::BigUint64Array::New(env, order.size());
  for (size_t i = 0; i < order.size(); i++) a[i] = order[i];
  return a;
}

Napi::Object resultToJs(Napi::Env env, const ScheduleResult& r, uint64_t numSequences) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("order", orderToJs(env, r.order, numSequences));
  o.Set("tokens", Napi::Number::New(env, (double)r.tokens));
  Napi::Object st = Napi::Object::New(env);
  st.Set("steps", Napi::Number::New(env, (double)r.stats.steps));
  st.Set("exactScores", Napi::Number::New(env, (double)r.stats.exactScores));
  st.Set("boundRefreshes", Napi::Number::New(env, (double)r.stats.boundRefreshes));
  st.Set("fixedPointBits", Napi::Number::New(env, r.stats.fixedPointBits));
  o.Set("stats", st);
  return o;
}

}  // namespace curricula::addon
