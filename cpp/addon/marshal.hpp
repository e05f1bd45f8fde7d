// Argument marshalling between JS values and core types. Every check that guards
// memory safety happens here; friendly validation with field names happens in
// the TypeScript facade first.
#pragma once
#include <napi.h>

#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "scheduler/corpus.hpp"
#include "scheduler/scheduler.hpp"

namespace curricula::addon {

// Error kinds the TS facade maps onto its typed error classes.
inline Napi::Error makeError(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  return e;
}
constexpr const char* kValidation = "ERR_CURRICULA_VALIDATION";
constexpr const char* kAborted = "ABORT_ERR";
constexpr const char* kInternal = "ERR_CURRICULA_INTERNAL";

// Runs `fn`, mapping core exceptions onto the error codes the facade understands.
template <typename Fn>
auto guarded(Napi::Env env, Fn fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::invalid_argument& e) {
    throw makeError(env, kValidation, e.what());
  } catch (const std::bad_alloc&) {
    throw makeError(env, kInternal, "out of memory");
  } catch (const std::exception& e) {
    throw makeError(env, kInternal, e.what());
  }
}

// Keeps the typed arrays of a corpus alive while native code reads them.
struct CorpusHandle {
  CorpusView view;
  std::vector<Napi::ObjectReference> refs;
};
CorpusHandle corpusFromJs(const Napi::Object& obj);
ScheduleOptions optionsFromJs(const Napi::Object& obj);
std::vector<double> doublesFromJs(const Napi::Value& v, const char* field);
std::vector<uint64_t> indicesFromJs(const Napi::Value& v, const char* field);
Napi::Value orderToJs(Napi::Env env, const std::vector<uint64_t>& order, uint64_t numSequences);
Napi::Object resultToJs(Napi::Env env, const ScheduleResult& r, uint64_t numSequences);
uint64_t u64FromJs(const Napi::Value& v, const char* field);
TargetTable tableFromJs(const Napi::Value& v);

}  // namespace curricula::addon
