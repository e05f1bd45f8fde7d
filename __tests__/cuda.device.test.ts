/**
 * The run-time device choice (lib/device.ts) on whatever build and machine the
 * tests run on: 'cpu' is the CPU path, 'cuda' without a usable GPU is a
 * ValidationError naming `device` (or `engine`), 'auto' falls back to the CPU
 * with identical results and a one-line note. The cases that need the
 * fallback are skipped (with the reason logged) where CUDA is usable.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { stableRankSync } from '../lib/analysis/stable-rank';
import { binding } from '../lib/binding';
import { cudaDeviceInfo, cudaUnavailableReason, resolveDevice } from '../lib/device';
import { ValidationError } from '../lib/errors';
import { InfluenceAccumulator, projectGradientsSync } from '../lib/influence/accumulator';
import { schedule, scheduleBruteForceSync, scheduleSync } from '../lib/scheduler';
import { expectValidation } from './helpers/expect-errors';
import { randomClusters, randomF32, randomTargets } from './helpers/influence-data';
import { writeNpyAtomic } from '../lib/io/npy';
import { randomInstance, toNumbers } from './reference/naive-scheduler';

const reason = cudaUnavailableReason();
const withoutCuda = reason === undefined ? describe.skip : describe;
if (reason === undefined) console.log('cuda.device: CUDA is usable here; the fallback cases are skipped');

describe('cudaDeviceInfo', () => {
  it('matches the compile-time flag and explains an empty device list', () => {
    const info = cudaDeviceInfo({ refresh: true });
    expect(info.built).toBe(binding().cuda);
    expect(Number.isInteger(info.count) && info.count >= 0).toBe(true);
    if (info.count === 0) {
      expect(info.reason.length).toBeGreaterThan(0);
      expect(info.device).toBe(-1);
    } else {
      expect(info.reason).toBe('');
      expect(info.name.length).toBeGreaterThan(0);
    }
    if (!info.built) expect(info.reason).toMatch(/built without CUDA/);
  });
});

describe('resolveDevice', () => {
  it("keeps 'cpu' (also the default)", () => {
    expect(resolveDevice('cpu', 'x')).toEqual({ device: 'cpu' });
    expect(resolveDevice(undefined, 'x')).toEqual({ device: 'cpu' });
  });
  it('rejects unknown devices, naming the field', () => {
    expectValidation(() => resolveDevice('gpu', 'x'), 'device', /Expected 'cpu', 'cuda' or 'auto' for `device` but received "gpu"/);
    expectValidation(() => resolveDevice(1, 'x', 'engine'), 'engine', /`engine`/);
  });
  it('rejects a bad device in every option object', () => {
    const grads = randomF32(3 * 8, 1);
    expectValidation(() => new InfluenceAccumulator({ projection: { kind: 'dense', inputDim: 8, dim: 4 }, numClusters: 2, device: 'gpu' as never }), 'device', /device/);
    expectValidation(() => projectGradientsSync({ kind: 'dense', inputDim: 8, dim: 4 }, { grads }, { device: 'tpu' as never }), 'device', /device/);
    expectValidation(() => stableRankSync([{ data: grads, rows: 3, cols: 8 }], { device: 'x' as never }), 'device', /device/);
    const set = randomInstance({ numSequences: 10, numGroups: 2, numBins: 2, seed: 1 });
    expectValidation(() => scheduleBruteForceSync(set, { device: 'x' as never }), 'device', /device/);
    expectValidation(() => scheduleSync(set, { engine: 'gpu' as never }), 'engine', /engine/);
  });
  it('tells scheduleSync callers to use `engine`', () => {
    const set = randomInstance({ numSequences: 10, numGroups: 2, numBins: 2, seed: 1 });
    expectValidation(() => scheduleSync(set, { device: 'auto' }), 'device', /engine: 'cuda-brute'/);
  });
});

withoutCuda(`without a usable CUDA device (${reason ?? ''})`, () => {
  it("'cuda' is a ValidationError naming `device` that says why", () => {
    expectValidation(() => resolveDevice('cuda', 'the test'), 'device', /`device` 'cuda' was requested for the test but CUDA cannot be used: /);
  });

  it("'auto' falls back to the CPU with a one-line note", () => {
    const r = resolveDevice('auto', 'the test');
    expect(r.device).toBe('cpu');
    expect(r.note).toMatch(/^device 'auto' fell back to the CPU for the test: .+/);
    expect(r.note).not.toMatch(/\n/);
  });

  it("the native CUDA entry points refuse with a message naming `device` when the addon has no CUDA", () => {
    if (binding().cuda) return; // built with CUDA but no device: covered by the facade checks below
    const spec = { kind: 'dense' as const, seed: 0n, inputDim: 4, dim: 2 };
    expect(() => binding().cudaInfluenceFeatures(spec, { n: 1, grads: new Float32Array(4) }, Infinity)).toThrow(/`device` 'cuda' needs the CUDA build/);
    expect(() => binding().cudaStableRankSync([], { tol: 1e-6, maxIterations: 10, seed: 0, threads: 1 })).toThrow(/`device`/);
  });

  it('influence accumulator: cuda throws, auto equals cpu and carries the note', () => {
    const n = 40, D = 24, K = 3;
    const projection = { kind: 'rademacher' as const, inputDim: D, dim: 8, seed: 5 };
    const batch = { grads: randomF32(n * D, 2), cluster: randomClusters(n, K, 3), target: randomTargets(n, 0.2, 4) };
    expectValidation(() => new InfluenceAccumulator({ projection, numClusters: K, device: 'cuda' }), 'device', /influence accumulator/);
    const cpu = new InfluenceAccumulator({ projection, numClusters: K, clip: 3 });
    const auto = new InfluenceAccumulator({ projection, numClusters: K, clip: 3, device: 'auto' });
    expect(cpu.device).toBe('cpu');
    expect(cpu.deviceNote).toBeUndefined();
    expect(auto.device).toBe('cpu');
    expect(auto.deviceNote).toMatch(/fell back to the CPU/);
    cpu.addSync(batch);
    auto.addSync(batch);
    expect(auto.state()).toEqual(cpu.state());
    expectValidation(() => projectGradientsSync(projection, { grads: batch.grads }, { device: 'cuda' }), 'device', /projection/);
    expect(projectGradientsSync(projection, { grads: batch.grads }, { device: 'auto', clip: 2 })).toEqual(projectGradientsSync(projection, { grads: batch.grads }, { clip: 2 }));
  });

  it('stable rank: cuda throws, auto equals cpu with the note in the report', () => {
    const m = [{ data: randomF32(12 * 30, 9), rows: 12, cols: 30 }];
    expectValidation(() => stableRankSync(m, { device: 'cuda' }), 'device', /stable rank/);
    const cpu = stableRankSync(m);
    const auto = stableRankSync(m, { device: 'auto' });
    expect(cpu.device).toBe('cpu');
    expect(cpu.deviceNote).toBeUndefined();
    expect(auto.ranks).toEqual(cpu.ranks);
    expect(auto.deviceNote).toMatch(/fell back to the CPU for the stable rank/);
  });

  it('scheduler: cuda / cuda-brute throw, auto equals the CPU brute force', async () => {
    const set = randomInstance({ numSequences: 60, numGroups: 5, numBins: 3, seed: 11 });
    expectValidation(() => scheduleBruteForceSync(set, { device: 'cuda' }), 'device', /brute-force scheduler/);
    expectValidation(() => scheduleSync(set, { engine: 'cuda-brute' }), 'engine', /`engine` 'cuda' was requested/);
    await expect(schedule(set, { engine: 'cuda-brute' })).rejects.toBeInstanceOf(ValidationError);
    const cpu = scheduleBruteForceSync(set, { lambda: 0.5 });
    const auto = scheduleBruteForceSync(set, { lambda: 0.5, device: 'auto' });
    expect(toNumbers(auto.order)).toEqual(toNumbers(cpu.order));
    expect(cpu.deviceNote).toBeUndefined();
    expect(auto.deviceNote).toMatch(/fell back to the CPU for the brute-force scheduler/);
  });

  it('CLI: `--device cuda` fails naming --device; `--device auto` runs on the CPU and prints the note once', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curricula-cuda-cli-'));
    try {
      writeNpyAtomic(path.join(dir, 'g.npy'), randomF32(2 * 6 * 9, 3), [2, 6, 9]);
      const cli = (...args: string[]) =>
        spawnSync(process.execPath, [path.resolve(__dirname, '..', 'dist', 'lib', 'cli', 'main.js'), ...args], { cwd: dir, encoding: 'utf8' });
      const bad = cli('analyze', 'stable-rank', '--grads', 'g.npy', '--out', 'a.json', '--device', 'cuda', '-q');
      expect(bad.status).not.toBe(0);
      expect(bad.stderr).toMatch(/`--device` 'cuda' was requested for the stable rank but CUDA cannot be used/);
      const auto = cli('analyze', 'stable-rank', '--grads', 'g.npy', '--out', 'b.json', '--device', 'auto');
      expect(auto.status).toBe(0);
      expect(auto.stderr.match(/--device 'auto' fell back to the CPU/g)).toHaveLength(1);
      const cpu = cli('analyze', 'stable-rank', '--grads', 'g.npy', '--out', 'c.json', '-q');
      const ranks = (f: string) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')).ranks;
      expect(ranks('b.json')).toEqual(ranks('c.json'));
      expect(cpu.status).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
