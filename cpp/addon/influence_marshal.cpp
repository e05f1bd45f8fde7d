#include "addon/influence_marshal.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "addon/marshal.hpp"

namespace curricula::addon {

static Napi::Error validation(Napi::Env env, const std::string& m) { return makeError(env, kValidation, m); }

size_t sizeField(const Napi::Object& o, const char* field, bool required) {
  Napi::Value v = o.Get(field);
  if (v.IsUndefined() && !required) return 0;
  if (!v.IsNumber()) throw validation(o.Env(), "Expected non-negative integer for `" + std::string(field) + "`");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 9007199254740991.0 && d == std::floor(d)))
    throw validation(o.Env(), "Expected non-negative integer for `" + std::string(field) + "`");
  return (size_t)d;
}

influence::ProjectionSpec projectionSpecFromJs(const Napi::Value& v) {
  using influence::ProjectionKind;
  if (!v.IsObject()) throw validation(v.Env(), "Expected an object for `projection`");
  const Napi::Object o = v.As<Napi::Object>();
  influence::ProjectionSpec s;
  const std::string kind = o.Get("kind").ToString().Utf8Value();
  if (kind == "dense") s.kind = ProjectionKind::Dense;
  else if (kind == "rademacher") s.kind = ProjectionKind::Rademacher;
  else if (kind == "kronecker") s.kind = ProjectionKind::Kronecker;
  else throw validation(o.Env(), "Expected 'dense', 'rademacher' or 'kronecker' for `kind`");
  s.seed = u64FromJs(o.Get("seed"), "seed");
  s.inputDim = sizeField(o, "inputDim", false);
  s.dim = sizeField(o, "dim", false);
  s.inDim = sizeField(o, "inDim", false);
  s.outDim = sizeField(o, "outDim", false);
  s.inProj = sizeField(o, "inProj", false);
  s.outProj = sizeField(o, "outProj", false);
  try {
    influence::validateProjectionSpec(s);
  } catch (const std::invalid_argument& e) {
    throw validation(o.Env(), e.what());
  }
  return s;
}

}  // namespace curricula::addon
