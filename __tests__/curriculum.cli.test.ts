/** End-to-end tests of `curricula curriculum ...` (compiled CLI in dist/), run as a child process. */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { readNpy } from '../lib/io/npy';
import { readCurriculum } from '../lib/curriculum/serialize';
import { cumulativeTargets } from '../lib/curriculum/targets';
import { logitsAt } from '../lib/curriculum/curriculum';

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'dist', 'lib', 'cli', 'main.js');
let dir: string;

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, 'curriculum', ...args], { cwd: dir, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
function ok(...args: string[]): string {
  const r = cli(...args);
  if (r.code !== 0) throw new Error(`exit ${r.code}\n${r.stderr}`);
  return r.stdout;
}
function fails(args: string[], flagOrField: string): void {
  const r = cli(...args);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(flagOrField);
  expect(r.stderr).not.toMatch(/internal error/);
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curricula-cli-curriculum-'));
  fs.writeFileSync(path.join(dir, 'mix.json'), JSON.stringify([0.5, 0.3, 0.2]));
  fs.writeFileSync(path.join(dir, 'deltas.json'), JSON.stringify([{ tokens: 1e6, delta: [1, 0, -1] }, { s: Math.log(1e8), delta: [-1, 0, 1] }]));
  fs.writeFileSync(path.join(dir, 'static.json'), JSON.stringify([[1, 0, 0], [0, 0, 1]]));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('init -> update -> targets (.npy and .json) -> export -> import -> plot', () => {
  ok('init', '--mixture', 'mix.json', '--knots', '1e5,1e9', '--names', 'a,b,c', '--out', 'c0.json', '-q');
  const c0 = readCurriculum(path.join(dir, 'c0.json'));
  expect(c0.names).toEqual(['a', 'b', 'c']);
  ok('update', '--curriculum', 'c0.json', '--deltas', 'deltas.json', '--eta', '0.5', '--out', 'c1.json', '-q');
  const c1 = readCurriculum(path.join(dir, 'c1.json'));
  expect(c1.s.length).toBe(4);
  expect(logitsAt(c1, Math.log(1e6))[0]).toBeCloseTo(Math.log(0.5) + 0.5, 12);
  ok('update', '--curriculum', 'c1.json', '--static', 'static.json', '--eta', '2', '--out', 'c2.json', '-q');
  expect(readCurriculum(path.join(dir, 'c2.json')).logits[0]).toBeCloseTo(c1.logits[0] + 1, 12);

  const out = ok('targets', '--curriculum', 'c1.json', '--total-tokens', '2e9', '--out', 't.npy');
  expect(out).toMatch(/grid points x 3 groups/);
  const tokens = readNpy(path.join(dir, 't.tokens.npy'));
  const table = readNpy(path.join(dir, 't.npy'));
  const G = tokens.shape[0];
  expect(table.shape).toEqual([G, 3]);
  const exact = cumulativeTargets(c1, tokens.data as Float64Array);
  for (let i = 0; i < G * 3; i += 17) expect(Math.abs((table.data as Float64Array)[i] - exact[i])).toBeLessThan(0.01);
  ok('targets', '--curriculum', 'c1.json', '--total-tokens', '1e6', '--out', 't.json');
  const tj = JSON.parse(fs.readFileSync(path.join(dir, 't.json'), 'utf8'));
  expect(tj.tokens[0]).toBe(0);
  expect(tj.cumulative[0]).toEqual([0, 0, 0]);

  ok('export', '--curriculum', 'c1.json', '--out', 'ref.json', '-q');
  const ref = JSON.parse(fs.readFileSync(path.join(dir, 'ref.json'), 'utf8'));
  expect(Object.keys(ref)).toHaveLength(4);
  expect(Object.keys(Object.values(ref)[0] as object)).toEqual(['a', 'b', 'c']);
  ok('import', '--in', 'ref.json', '--out', 'back.json', '-q');
  expect(readCurriculum(path.join(dir, 'back.json')).s.length).toBe(4);
  ok('targets', '--knots', 'ref.json', '--total-tokens', '1e7', '--out', 'tk.json');

  ok('plot', '--curriculum', 'c1.json', '--out', 'c1.svg', '-q');
  expect(fs.readFileSync(path.join(dir, 'c1.svg'), 'utf8')).toMatch(/^<svg/);
  // no temp files left behind
  expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
});

test('knob tables from the CLI', () => {
  fs.writeFileSync(path.join(dir, 'knob.json'), JSON.stringify({ name: 'budget', integer: true, knots: [{ fraction: 0, value: 100 }, { fraction: 1, value: 0 }] }));
  ok('knob', '--spec', 'knob.json', '--steps', '5', '--tokens-per-step', '10', '--out', 'k.csv', '-q');
  expect(fs.readFileSync(path.join(dir, 'k.csv'), 'utf8')).toBe('step,tokens,budget\n0,0,100\n1,10,80\n2,20,60\n3,30,40\n4,40,20\n');
});

test('bad input: clear errors naming the flag or field, nothing written', () => {
  ok('init', '--groups', '2', '--out', 'g2.json', '-q');
  fails(['init', '--out', 'x.json'], '--groups');
  fails(['init', '--groups', '2', '--knots', '10,5', '--out', 'x.json'], 's[1]');
  fails(['init', '--groups', 'abc', '--out', 'x.json'], '--groups');
  fails(['update', '--curriculum', 'g2.json', '--deltas', 'deltas.json', '--eta', '1', '--out', 'x.json'], 'samples[0].delta');
  fails(['update', '--curriculum', 'g2.json', '--static', 'static.json', '--eta', '1', '--out', 'x.json'], 'deltas[0]');
  fails(['update', '--curriculum', 'g2.json', '--deltas', 'deltas.json', '--eta', 'nan', '--out', 'x.json'], '--eta');
  fails(['targets', '--curriculum', 'g2.json', '--total-tokens', '0', '--out', 'x.npy'], 'totalTokens');
  fails(['targets', '--curriculum', 'g2.json', '--total-tokens', '100', '--max-error', '0.1', '--out', 'x.npy'], 'maxErrorTokens');
  fails(['targets', '--curriculum', 'g2.json', '--total-tokens', '100', '--out', 'x.txt'], '--out');
  fails(['targets', '--curriculum', 'missing.json', '--total-tokens', '100', '--out', 'x.npy'], 'missing.json');
  fs.writeFileSync(path.join(dir, 'nan.json'), '{"groups": 2, "knots": [{"s": 1, "logits": [0, "NaN"]}]}');
  fails(['targets', '--curriculum', 'nan.json', '--total-tokens', '100', '--out', 'x.npy'], 'knots[0].logits[1]');
  fs.writeFileSync(path.join(dir, 'badref.json'), '{"100": {"a": 0.5, "b": 0.2}}');
  fails(['import', '--in', 'badref.json', '--out', 'x.json'], 'sum to');
  fails(['plot', '--curriculum', 'g2.json', '--out', 'x.png'], '--out');
  expect(fs.readdirSync(dir).filter((f) => f.startsWith('x.'))).toEqual([]);
});
