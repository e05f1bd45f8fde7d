/**
 * End-to-end tests of `curricula influence` and `curricula influence-merge`
 * (compiled CLI, run as a child process).
 */
import { execSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { InfluenceAccumulator } from '../lib/influence/accumulator';
import { writeGradientsDir } from '../lib/influence/shard-writer';
import { influenceDelta } from '../lib/influence/scores';
import { readState } from '../lib/influence/state';
import { maxRelDiff, randomClusters, randomF32, randomTargets } from './helpers/influence-data';

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'dist', 'lib', 'cli', 'main.js');
let dir: string;
const D = 64;
const K = 5;
const parts = [0, 1, 2].map((i) => ({ grads: randomF32(40 * D, i), cluster: randomClusters(40, K, i), target: randomTargets(40, 0.2, i) }));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  execSync('npx tsc -p tsconfig.json', { cwd: ROOT, stdio: 'pipe' });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curricula-influence-cli-'));
  writeGradientsDir(path.join(dir, 'all'), D, K, parts.map((p) => ({ ...p, dtype: 'f32' as const })));
  parts.forEach((p, i) => writeGradientsDir(path.join(dir, `w${i}`), D, K, [{ ...p, dtype: 'f32' }]));
}, 180_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('accumulates a directory into the same state as the library, and workers merge to it', () => {
  const r = cli('influence', '--grads', 'all', '--dim', '16', '--seed', '3', '--clip', '2', '--state-out', 'state.safetensors', '--block-rows', '7');
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/accumulate 100%/);
  expect(r.stderr).toMatch(/120 examples .* -> d = 16, rademacher projection, clip 2\.00000/);
  const s = readState(path.join(dir, 'state.safetensors'));
  const acc = new InfluenceAccumulator({ projection: { kind: 'rademacher', inputDim: D, dim: 16, seed: 3 }, numClusters: K, clip: 2 });
  for (const p of parts) acc.addSync(p);
  const want = acc.state();
  expect(s.meta).toEqual(want.meta);
  for (const k of ['count', 'sum', 'targetSum', 'cov'] as const) expect(maxRelDiff(s[k], want[k])).toBeLessThan(1e-12);

  for (const i of [0, 1, 2]) {
    expect(cli('influence', '--grads', `w${i}`, '--dim', '16', '--seed', '3', '--clip', '2', '--state-out', `w${i}.safetensors`, '-q').code).toBe(0);
  }
  const m = cli('influence-merge', 'w2.safetensors', 'w0.safetensors', 'w1.safetensors', '--out', 'merged.safetensors');
  expect(m.code).toBe(0);
  const merged = readState(path.join(dir, 'merged.safetensors'));
  expect(merged.meta.examples).toBe(120);
  for (const k of ['count', 'sum', 'targetSum', 'cov'] as const) expect(maxRelDiff(merged[k], want[k])).toBeLessThan(1e-12);
});

test('percentile clipping, a separate target directory and dense projection', () => {
  const r = cli('influence', '--grads', 'w0', '--target', 'w1', '--projection', 'dense', '--dim', '8', '--clip-percentile', '50', '--state-out', 'p.safetensors');
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/norms 100%/);
  const s = readState(path.join(dir, 'p.safetensors'));
  expect(s.targetCount).toBe(40 + parts[0].target.reduce((a, t) => a + t, 0));
  expect(s.meta.clipPercentile).toBe(50);
  expect(s.meta.projection).toBe('dense');
});

test.each([
  [['--dim', '0', '--state-out', 'x.safetensors'], /--dim/],
  [['--dim', '65', '--state-out', 'x.safetensors'], /projection\.dim.*<= inputDim = 64/],
  [['--dim', '4', '--clip', '0', '--state-out', 'x.safetensors'], /--clip/],
  [['--dim', '4', '--clip-percentile', '101', '--state-out', 'x.safetensors'], /--clip-percentile/],
  [['--dim', '4', '--clip', '1', '--clip-percentile', '5', '--state-out', 'x.safetensors'], /clipPercentile/],
  [['--dim', '4'], /--state-out/],
  [['--dim', '4', '--out', 'missing/delta.json'], /--out.*does not exist/],
  [['--dim', '4', '--state-out', 'missing/x.safetensors'], /--state-out.*does not exist/],
])('bad flags %j fail with a message naming the flag and write nothing', (flags, message) => {
  const r = cli('influence', '--grads', 'w0', ...flags);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(message);
  expect(fs.existsSync(path.join(dir, 'x.safetensors'))).toBe(false);
});

test('--out writes the logit update the library computes from the same state', () => {
  const r = cli('influence', '--grads', 'all', '--dim', '16', '--seed', '5', '--state-out', 'd.safetensors', '--out', 'delta.json', '-q');
  expect(r.code).toBe(0);
  const body = JSON.parse(fs.readFileSync(path.join(dir, 'delta.json'), 'utf8'));
  expect(body.format).toBe('curricula.influence-delta');
  const want = influenceDelta(readState(path.join(dir, 'd.safetensors')));
  expect(body.delta).toHaveLength(K);
  body.delta.forEach((x: number, j: number) => expect(x).toBeCloseTo(want.delta[j], 12));
  body.scores.forEach((x: number, j: number) => expect(x).toBeCloseTo(want.scores[j], 12));
  expect(Math.max(...body.delta.map(Math.abs))).toBeLessThanOrEqual(0.2 * 5 + 1e-12);
});

test('a corrupt shard fails with the file named', () => {
  fs.cpSync(path.join(dir, 'w0'), path.join(dir, 'bad'), { recursive: true });
  const f = path.join(dir, 'bad', 'shard-00000.safetensors');
  fs.truncateSync(f, fs.statSync(f).size - 3);
  const r = cli('influence', '--grads', 'bad', '--dim', '4', '--state-out', 'y.safetensors');
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/shard-00000\.safetensors: tensor `.*`: `data_offsets` .* run past the end/);
  const m = cli('influence-merge', 'w0.safetensors', 'p.safetensors', '--out', 'z.safetensors');
  expect(m.code).toBe(1);
  expect(m.stderr).toMatch(/cannot merge states of `dim` 16 and 8/);
});
