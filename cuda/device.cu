// Device discovery: which GPU the twins use, or why there is none.
#include <cuda_runtime.h>

#include "cuda_api.hpp"
#include "common.cuh"

namespace curricula::cuda {

DeviceInfo deviceInfo() {
  DeviceInfo info;
  cudaRuntimeGetVersion(&info.runtimeVersion);
  const cudaError_t drv = cudaDriverGetVersion(&info.driverVersion);
  if (drv != cudaSuccess || info.driverVersion == 0) {
    info.reason = "no CUDA driver is installed (cudaDriverGetVersion: " +
                  std::string(drv != cudaSuccess ? cudaGetErrorString(drv) : "version 0") + ")";
    return info;
  }
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls report afresh
    info.reason = std::string("cudaGetDeviceCount failed: ") + cudaGetErrorString(e);
    return info;
  }
  if (n == 0) {
    info.reason = "the CUDA driver reports no devices";
    return info;
  }
  info.count = n;
  cudaDeviceProp p;
  if (cudaGetDeviceProperties(&p, 0) == cudaSuccess) {
    info.device = 0;
    info.name = p.name;
    info.major = p.major;
    info.minor = p.minor;
    info.memoryBytes = p.totalGlobalMem;
  }
  return info;
}

void requireDevice() {
  const DeviceInfo info = deviceInfo();
  if (info.count == 0) throw std::runtime_error("CUDA device unavailable: " + info.reason);
  check(cudaSetDevice(0), "cudaSetDevice");
}

double copyBandwidth(size_t bytes, int reps) {
  requireDevice();
  DeviceBuffer<uint8_t> a(bytes), b(bytes);
  a.zero();
  cudaEvent_t t0, t1;
  check(cudaEventCreate(&t0), "cudaEventCreate");
  check(cudaEventCreate(&t1), "cudaEventCreate");
  float best = 0;
  for (int r = 0; r < reps + 1; r++) {  // the first copy warms up
    cudaEventRecord(t0);
    cudaMemcpy(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice);
    cudaEventRecord(t1);
    cudaEventSynchronize(t1);
    float ms = 0;
    cudaEventElapsedTime(&ms, t0, t1);
    if (r > 0 && (best == 0 || ms < best)) best = ms;
  }
  cudaEventDestroy(t0);
  cudaEventDestroy(t1);
  check(cudaGetLastError(), "copyBandwidth");
  return 2.0 * (double)bytes / (best * 1e-3);
}

}  // namespace curricula::cuda
