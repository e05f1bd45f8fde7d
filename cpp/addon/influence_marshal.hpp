// JS → C++ for the influence projection spec, shared by the CPU and CUDA bindings
// (the object shape is NativeProjectionSpec in lib/binding.ts).
#pragma once
#include <napi.h>

#include <cstddef>

#include "influence/projection.hpp"

namespace curricula::addon {

// A non-negative integer field; 0 when absent and not required.
size_t sizeField(const Napi::Object& o, const char* field, bool required = true);
// Parsed and checked with influence::validateProjectionSpec; bad input throws a validation error.
influence::ProjectionSpec projectionSpecFromJs(const Napi::Value& v);

}  // namespace curricula::addon
