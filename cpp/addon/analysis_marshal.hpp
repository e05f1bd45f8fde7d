// C++ → JS for stable-rank results, shared by the CPU and CUDA bindings
// (the object shape is NativeStableRank in lib/binding.ts).
#pragma once
#include <napi.h>

#include <vector>

#include "analysis/stable_rank.hpp"

namespace curricula::addon {

inline Napi::Array stableRanksToJs(Napi::Env env, const std::vector<analysis::StableRank>& rows) {
  Napi::Array r = Napi::Array::New(env, rows.size());
  for (size_t i = 0; i < rows.size(); i++) {
    const analysis::StableRank& s = rows[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("srank", s.srank);
    o.Set("frobenius2", s.frobenius2);
    o.Set("spectral2", s.spectral2);
    o.Set("residual", s.residual);
    o.Set("iterations", s.iterations);
    o.Set("converged", s.converged);
    r.Set((uint32_t)i, o);
  }
  return r;
}

}  // namespace curricula::addon
