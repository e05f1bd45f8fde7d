// Entry points registered by addon.cpp.
#pragma once
#include <napi.h>

namespace curricula::addon {
Napi::Value Schedule(const Napi::CallbackInfo& info);
Napi::Value ScheduleSync(const Napi::CallbackInfo& info);
Napi::Value ScheduleBruteForceSync(const Napi::CallbackInfo& info);
Napi::Value Noise(const Napi::CallbackInfo& info);
Napi::Value Targets(const Napi::CallbackInfo& info);
Napi::Value Fidelity(const Napi::CallbackInfo& info);
Napi::Value Shuffle(const Napi::CallbackInfo& info);

// Each area registers its own entry points (one line per area in addon.cpp's Init).
void registerScheduler(Napi::Env env, Napi::Object exports);
void registerCurriculum(Napi::Env env, Napi::Object exports);
void registerLinalg(Napi::Env env, Napi::Object exports);
void registerInfluence(Napi::Env env, Napi::Object exports);
void registerModel(Napi::Env env, Napi::Object exports);
void registerCuda(Napi::Env env, Napi::Object exports);
}  // namespace curricula::addon
