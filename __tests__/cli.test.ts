/**
 * End-to-end tests of the compiled CLI (dist/lib/cli/main.js), run as a child process.
 */
import { execSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { readNpy } from '../lib/io/npy';

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'dist', 'lib', 'cli', 'main.js');

let dir: string;
let corpus: string; // small sequences directory made by `curricula generate`
const M = 2000;
const K = 20;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function expectOk(r: Run): void {
  if (r.code !== 0) throw new Error(`exit ${r.code}\n${r.stderr}`);
}

/** Files in `dir` whose name starts with `prefix` (catches leftover temp files too). */
function filesLike(prefix: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.startsWith(prefix));
}

function orderOf(file: string): number[] {
  const { dtype, shape, data } = readNpy(path.join(dir, file));
  expect(dtype).toBe('<u4');
  expect(shape).toHaveLength(1);
  return Array.from(data as Uint32Array);
}

/** Deterministic JSONL corpus: `n` sequences of 2048 tokens, groups below `k`. */
function writeJsonl(file: string, n: number, k: number): void {
  let x = 12345;
  const rand = (m: number) => ((x = (x * 1103515245 + 12345) % 2147483648) % m);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = 1 + rand(2047);
    lines.push(
      JSON.stringify({
        segments: [
          { group: rand(k), tokens: a, docLength: a + rand(5000) },
          { group: rand(k), tokens: 2048 - a, docLength: 2048 - a + rand(5000) },
        ],
      }),
    );
  }
  fs.writeFileSync(path.join(dir, file), lines.join('\n') + '\n');
}

beforeAll(() => {
  execSync('npx tsc -p tsconfig.json', { cwd: ROOT, stdio: 'pipe' });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curricula-cli-'));
  corpus = path.join(dir, 'corpus');
  expectOk(cli('generate', '--sequences', String(M), '--groups', String(K), '--out', corpus, '--seed', '7'));
}, 180_000);

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('curricula', () => {
  test('--version prints the package version; --help works for every command', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(cli('--version').stdout.trim()).toBe(pkg.version);
    for (const args of [[], ['schedule'], ['generate'], ['bench'], ['bench', 'scheduler']]) {
      const r = cli(...args, '--help');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: curricula/);
    }
  });

  test('schedule writes a uint32 .npy permutation and the report next to it', () => {
    const r = cli('schedule', '--sequences', corpus, '--out', 'order.npy');
    expectOk(r);
    const order = orderOf('order.npy');
    expect(order).toHaveLength(M);
    expect(new Set(order).size).toBe(M);
    expect(Math.max(...order)).toBe(M - 1);

    const report = JSON.parse(fs.readFileSync(path.join(dir, 'order.report.json'), 'utf8'));
    expect(report.format).toBe('curricula.fidelity');
    expect(report.greedy.sequences).toBe(M);
    expect(r.stdout.split('\n')[0]).toBe(report.summary);
    expect(r.stdout).toContain('order.report.json');
    expect(r.stdout).toMatch(/elapsed: /);
    // not a TTY: plain progress lines on stderr, ending at 100%
    expect(r.stderr).toMatch(/scheduling 100% \(\d+\/\d+ tokens, 2000 steps/);
  });

  test('--quiet prints nothing on stderr', () => {
    const r = cli('schedule', '--sequences', corpus, '--out', 'quiet.npy', '--quiet');
    expectOk(r);
    expect(r.stderr).toBe('');
  });

  test('JSONL input with --groups, --bins, --report and a mixture file', () => {
    writeJsonl('seqs.jsonl', 300, 5);
    fs.writeFileSync(path.join(dir, 'mix.json'), JSON.stringify([0.4, 0.3, 0.1, 0.1, 0.1]));
    const r = cli(
      'schedule', '--sequences', 'seqs.jsonl', '--groups', '5', '--bins', '8', '--mixture', 'mix.json',
      '--out', 'jsonl.npy', '--report', 'jsonl-report.json', '--lambda', '0.5', '--budget', '2e5',
    );
    expectOk(r);
    const order = orderOf('jsonl.npy');
    expect(order.length).toBeGreaterThanOrEqual(Math.ceil(2e5 / 2048));
    expect(order.length).toBeLessThan(300);
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'jsonl-report.json'), 'utf8'));
    expect(report.greedy.maxGroupDeviation).toHaveLength(5);
    expect(report.greedy.maxBinDeviation).toHaveLength(8);
    expect(filesLike('jsonl.report')).toEqual([]);
  });

  test('--resume continues exactly: prefix + continuation = one full run', () => {
    expectOk(cli('schedule', '--sequences', corpus, '--out', 'full.npy', '-q'));
    expectOk(cli('schedule', '--sequences', corpus, '--out', 'part1.npy', '--budget', String(M * 2048 * 0.4), '-q'));
    const r = cli('schedule', '--sequences', corpus, '--out', 'part2.npy', '--resume', 'part1.npy', '-q');
    expectOk(r);
    const [full, part1, part2] = ['full.npy', 'part1.npy', 'part2.npy'].map(orderOf);
    expect(part1.length).toBeGreaterThan(0);
    expect(part1.length).toBeLessThan(M);
    expect([...part1, ...part2]).toEqual(full);
    expect(r.stdout).toContain(`after ${part1.length} resumed`);
    // the report covers the whole order so far
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'part2.report.json'), 'utf8'));
    expect(report.greedy.sequences).toBe(M);
  });

  describe('bad input exits 1 with a message naming the problem and writes nothing', () => {
    beforeAll(() => {
      fs.writeFileSync(path.join(dir, 'garbage.json'), 'this is not json');
      fs.writeFileSync(path.join(dir, 'unnormalised.json'), JSON.stringify(new Array(K).fill(0.04)));
      fs.cpSync(corpus, path.join(dir, 'corrupt'), { recursive: true });
      const tokens = path.join(dir, 'corrupt', 'tokens.npy');
      fs.truncateSync(tokens, fs.statSync(tokens).size - 100);
      writeJsonl('wide.jsonl', 20, 9);
    });

    const cases: [name: string, args: string[], message: RegExp][] = [
      ['unparsable mixture file', ['--mixture', 'garbage.json'], /garbage\.json: neither a \.npy file nor valid JSON/],
      ['mixture not summing to 1', ['--mixture', 'unnormalised.json'], /`mixture` sums to 0\.8/],
      ['missing mixture file', ['--mixture', 'nope.json'], /ENOENT.*nope\.json/],
      ['budget larger than the corpus', ['--budget', '1e15'], /`budget` <= 4096000 .* received 1000000000000000/],
      ['non-numeric lambda', ['--lambda', 'abc'], /Expected number for `--lambda` but received "abc"/],
      ['negative lambda', ['--lambda', '-1'], /`lambda`/],
      ['fractional budget', ['--budget', '1.5'], /Expected non-negative integer for `--budget` but received "1.5"/],
      ['missing sequences', ['--sequences', 'nowhere'], /`--sequences`: nowhere does not exist/],
    ];
    test.each(cases)('%s', (_name, args, message) => {
      const r = cli('schedule', '--sequences', corpus, '--out', 'bad.npy', ...args);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^curricula: error: /m);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/^\s+at /m); // no stack trace
      expect(filesLike('bad')).toEqual([]);
    });

    test('truncated .npy in the sequences directory', () => {
      const r = cli('schedule', '--sequences', 'corrupt', '--out', 'bad.npy');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^curricula: error: .*tokens\.npy/m);
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(filesLike('bad')).toEqual([]);
    });

    test('group id out of range in JSONL', () => {
      const r = cli('schedule', '--sequences', 'wide.jsonl', '--groups', '3', '--out', 'bad.npy');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^curricula: error: wide\.jsonl: line \d+, segments\[\d\]: group = \d is out of range \[0, 3\)/m);
      expect(filesLike('bad')).toEqual([]);
    });

    test('unknown flag is a usage error (exit 2)', () => {
      const r = cli('schedule', '--sequences', corpus, '--out', 'bad.npy', '--frobnicate');
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^curricula: error: unknown option '--frobnicate'/m);
      expect(filesLike('bad')).toEqual([]);
    });

    test('bad generate parameters', () => {
      const r = cli('generate', '--sequences', '10', '--groups', '0', '--out', 'bad-corpus');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^curricula: error: numGroups must be/m);
      expect(filesLike('bad')).toEqual([]);
    });
  });

  test('SIGINT during scheduling exits 130 and leaves no output', async () => {
    const big = path.join(dir, 'big');
    expectOk(cli('generate', '--sequences', '300000', '--groups', '100', '--out', big));
    const child = spawn(process.execPath, [CLI, 'schedule', '--sequences', big, '--out', 'big.npy'], { cwd: dir });
    let stderr = '';
    let interrupted = false;
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const firstProgress = new Promise<void>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/scheduling \d+%/.test(stderr)) resolve();
      });
    });
    const timeout = new Promise<void>((_, reject) => {
      const t = setTimeout(() => reject(new Error(`no progress line within 180 s; stderr:\n${stderr}`)), 180_000);
      void exited.then(() => clearTimeout(t));
    });
    try {
      const early = exited.then((code) => {
        throw new Error(`exited with ${code} before any progress; stderr:\n${stderr}`);
      });
      await Promise.race([firstProgress, timeout, early]);
      interrupted = child.kill('SIGINT');
      expect(interrupted).toBe(true);
      expect(await exited).toBe(130);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect(stderr).toMatch(/interrupted/);
    expect(filesLike('big.')).toEqual([]);
  }, 300_000);
  test('bench scheduler --steps runs only the first steps, in both engines, and writes the JSON', () => {
    const r = cli('bench', 'scheduler', '--sizes', '400', '--groups', '30', '--steps', '25', '--curriculum', '--out', 'bench.json');
    expectOk(r);
    expect(r.stdout).toMatch(/first 25 steps of each run only/);
    expect(r.stdout).toMatch(/\| 400 \| fast \(first 25 steps\) \|/);
    expect(r.stdout).toMatch(/\| 400 \| curriculum \(first 25 steps\) \|/);
    const rows = JSON.parse(fs.readFileSync(path.join(dir, 'bench.json'), 'utf8')).rows as { steps: number; status: string }[];
    expect(rows.map((x) => [x.status, x.steps])).toEqual([['ok', 25], ['ok', 25]]);
    const bad = cli('bench', 'scheduler', '--sizes', '400', '--steps', '0');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/Expected positive integer for `--steps` but received "0"/);
  }, 120_000);
});
