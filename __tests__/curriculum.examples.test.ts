/** Runs the examples in examples/curricula (compiled library in dist/) and checks what they write. */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { readCurriculum } from '../lib/curriculum/serialize';
import { mixtureAt } from '../lib/curriculum/curriculum';

const ROOT = path.resolve(__dirname, '..');
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curricula-examples-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function run(script: string, ...args: string[]): string {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'examples', 'curricula', script), dir, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script} exited ${r.status}\n${r.stderr}`);
  return r.stdout;
}

test('token-budget: per-step budget starts at 16384, is non-increasing, ends at 2048; CSV and JSON agree', () => {
  run('token-budget.js', '100', '1000');
  const csv = fs.readFileSync(path.join(dir, 'token-budget.csv'), 'utf8').trim().split('\n');
  expect(csv[0]).toBe('step,tokens,reasoning_budget');
  const values = csv.slice(1).map((l) => Number(l.split(',')[2]));
  expect(values).toHaveLength(100);
  expect(values[0]).toBe(16384);
  expect(values[19]).toBe(16384); // plateau over the first 20%
  for (let i = 1; i < values.length; i++) expect(values[i]).toBeLessThanOrEqual(values[i - 1]);
  expect(values[99]).toBeLessThan(2200);
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'token-budget.json'), 'utf8'));
  expect(json.value).toEqual(values);
});

test('easy-to-hard: mixture moves from easy to hard, teacher steps up at 40% and 75%, target table ends at the total', () => {
  const out = run('easy-to-hard.js');
  expect(out).toMatch(/target table: \d+ grid points/);
  const c = readCurriculum(path.join(dir, 'easy-to-hard.curriculum.json'));
  expect(c.names).toEqual(['easy', 'medium', 'hard', 'harder', 'hardest']);
  const early = mixtureAt(c, 1e6);
  const late = mixtureAt(c, 1e9);
  expect(early[0]).toBeGreaterThan(early[4]);
  expect(late[4]).toBeGreaterThan(late[0]);
  const teacher = fs.readFileSync(path.join(dir, 'easy-to-hard.teacher.csv'), 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split(',')[2]));
  expect(teacher).toHaveLength(500);
  expect(teacher.indexOf(1)).toBe(200);
  expect(teacher.indexOf(2)).toBe(375);
  const targets = JSON.parse(fs.readFileSync(path.join(dir, 'easy-to-hard.targets.json'), 'utf8'));
  expect(targets.tokens[0]).toBe(0);
  expect(targets.tokens[targets.tokens.length - 1]).toBe(1e9);
  const total = targets.final.reduce((a: number, b: number) => a + b, 0);
  expect(Math.abs(total - 1e9)).toBeLessThan(1e-3);
  expect(fs.readFileSync(path.join(dir, 'easy-to-hard.svg'), 'utf8')).toMatch(/^<svg/);
});
