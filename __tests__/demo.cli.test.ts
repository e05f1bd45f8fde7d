/**
 * `curricula demo` through the compiled CLI (dist/lib/cli/main.js), as a child process.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const CLI = path.resolve(__dirname, '..', 'dist', 'lib', 'cli', 'main.js');

function cli(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('curricula demo', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curricula-demo-cli-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a small run writes the three outputs and prints the summary', () => {
    const r = cli(dir, 'demo', '--out', 'out', '--budget', '3000', '--seeds', '1,2', '--vocab', '64', '--embed', '4', '--hidden', '4', '--target', 'learned', '--mixture-check');
    if (r.code !== 0) throw new Error(r.stderr);
    expect(fs.readdirSync(path.join(dir, 'out')).sort()).toEqual(['curriculum.json', 'report.html', 'results.json']);
    expect(r.stdout).toMatch(/^Baseline +target loss \d+\.\d+ ± \d+\.\d+, held-out/m);
    expect(r.stdout).toMatch(/^Target 0% /m);
    expect(r.stdout).toMatch(/^Target 50% /m);
    expect(r.stdout).toMatch(/report: +out\/report\.html/);
    expect(r.stderr).toMatch(/stage train\+evaluate done/);
    const results = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'results.json'), 'utf8'));
    expect(results.options.seeds).toEqual([1, 2]);
    expect(results.model.shape).toEqual({ vocab: 64, context: 3, embed: 4, hidden: 4 });
  });

  test('bad flags exit 1 naming the flag, and write nothing', () => {
    const r = cli(dir, 'demo', '--out', 'bad', '--budget', 'lots');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/`--budget`/);
    const t = cli(dir, 'demo', '--out', 'bad', '--target', 'Q', '-q');
    expect(t.code).toBe(1);
    expect(t.stderr).toMatch(/Unknown genre "Q"/);
    expect(fs.existsSync(path.join(dir, 'bad'))).toBe(false);
  });
});
