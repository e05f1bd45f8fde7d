/**
 * Run-time choice between the C++ kernels and their CUDA twins (cuda/).
 * `cpu` always works; `cuda` needs the CUDA build (`npm run build:cuda`) and a
 * visible GPU, else it throws a ValidationError naming `device`; `auto` uses
 * CUDA when both are there and otherwise falls back to the CPU with a one-line
 * note saying why. See docs/cuda.md.
 */
import { z } from 'zod';

import { binding } from './binding';
import { ValidationError, describeValue } from './errors';

export const DEVICES = ['cpu', 'cuda', 'auto'] as const;
export type Device = (typeof DEVICES)[number];

/** For zod option objects: `device: deviceSchema` (default 'cpu'). */
export const deviceSchema = z.enum(DEVICES).default('cpu');

export interface CudaDeviceInfo {
  /** the addon was compiled with CUDA (same as binding().cuda) */
  built: boolean;
  /** visible devices (0 when none, or when not built) */
  count: number;
  /** the device used (0), or -1 */
  device: number;
  name: string;
  /** e.g. "9.0" */
  computeCapability: string;
  memoryBytes: number;
  runtimeVersion: number;
  driverVersion: number;
  /** why count is 0; empty otherwise */
  reason: string;
}

let cachedInfo: CudaDeviceInfo | undefined;

/** What the CUDA runtime reports (cached after the first call; never throws for a missing GPU). */
export function cudaDeviceInfo(options: { refresh?: boolean } = {}): CudaDeviceInfo {
  if (cachedInfo === undefined || options.refresh) cachedInfo = binding().cudaDeviceInfo();
  return cachedInfo;
}

export interface ResolvedDevice {
  device: 'cpu' | 'cuda';
  /** set when `auto` fell back to the CPU: one line saying why */
  note?: string;
}

/** Why CUDA cannot be used right now, or undefined when it can. */
export function cudaUnavailableReason(): string | undefined {
  if (!binding().cuda) return 'the addon was built without CUDA (npm run build:cuda builds the CUDA variant)';
  const info = cudaDeviceInfo();
  if (info.count === 0) return `no CUDA device: ${info.reason}`;
  return undefined;
}

/**
 * Turns a `device` option into the device to run on. `what` names the
 * operation in messages (e.g. "the influence accumulator").
 */
export function resolveDevice(requested: unknown, what: string, field = 'device'): ResolvedDevice {
  const d = requested ?? 'cpu';
  if (d !== 'cpu' && d !== 'cuda' && d !== 'auto') {
    throw new ValidationError(field, `Expected 'cpu', 'cuda' or 'auto' for \`${field}\` but received ${describeValue(requested)}`);
  }
  if (d === 'cpu') return { device: 'cpu' };
  const reason = cudaUnavailableReason();
  if (reason === undefined) return { device: 'cuda' };
  if (d === 'cuda') throw new ValidationError(field, `\`${field}\` 'cuda' was requested for ${what} but CUDA cannot be used: ${reason}`);
  return { device: 'cpu', note: `${field} 'auto' fell back to the CPU for ${what}: ${reason}` };
}
