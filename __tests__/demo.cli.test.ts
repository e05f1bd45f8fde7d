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
    const r = cli(
      dir, 'demo', '--out', 'out', '--budget', '3000', '--seeds', '1,2', '--vocab', '64', '--embed', '4', '--hidden', '4', '--target', 'learned',
      '--mixture-check', '--per-genre', '2', '--meta-iterations', '1', '--meta-samples', '2', '--meta-eta', '0.5', '--eta', '3', '--no-analysis',
    );
    if (r.code !== 0) throw new Error(r.stderr);
    expect(fs.readdirSync(path.join(dir, 'out')).sort()).toEqual(['curriculum.json', 'report.html', 'report.svg', 'results.json']);
    expect(r.stdout).toMatch(/^Baseline +target loss \d+\.\d+ ± \d+\.\d+, held-out/m);
    for (const name of ['TerRIFIC', 'TerRIFIC-AVG', 'Curriculum']) expect(r.stdout).toMatch(new RegExp(`^${name} +target loss`, 'm'));
    expect(r.stdout).toMatch(/curriculum: +out\/curriculum\.json \(Curriculum\)/);
    expect(r.stdout).toMatch(/^Target 0% /m);
    expect(r.stdout).toMatch(/^Target 50% /m);
    expect(r.stdout).toMatch(/report: +out\/report\.html/);
    expect(r.stderr).toMatch(/stage configurations\+analysis done/);
    const results = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'results.json'), 'utf8'));
    expect(results.options.seeds).toEqual([1, 2]);
    expect(results.model.shape).toEqual({ vocab: 64, context: 3, embed: 4, hidden: 4 });
    expect(results.options.curriculum).toEqual({ iterations: 1, samples: 2, eta: 0.5, seed: 0 });
    expect(results.options.terrific.eta).toBe(3);
    expect(results.options.influence.perGenre).toBe(2);
    expect(results.analysis).toBeNull();
  });

  test('--configurations picks and orders configurations', () => {
    const r = cli(dir, 'demo', '--out', 'two', '--budget', '3000', '--seeds', '1', '--vocab', '64', '--embed', '4', '--hidden', '4', '--configurations', 'terrific,baseline', '--per-genre', '2', '-q');
    if (r.code !== 0) throw new Error(r.stderr);
    expect(r.stderr).toBe('');
    const results = JSON.parse(fs.readFileSync(path.join(dir, 'two', 'results.json'), 'utf8'));
    expect(results.configurations.map((c: { name: string }) => c.name)).toEqual(['TerRIFIC', 'Baseline']);
    expect(results.curriculumFile).toBe('TerRIFIC');
  });

  test('bad flags exit 1 naming the flag, and write nothing', () => {
    const r = cli(dir, 'demo', '--out', 'bad', '--budget', 'lots');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/`--budget`/);
    const t = cli(dir, 'demo', '--out', 'bad', '--target', 'Q', '-q');
    expect(t.code).toBe(1);
    expect(t.stderr).toMatch(/Unknown genre "Q"/);
    const c = cli(dir, 'demo', '--out', 'bad', '--configurations', 'baseline,best', '-q');
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/Unknown configuration "best" in `--configurations`/);
    const e = cli(dir, 'demo', '--out', 'bad', '--meta-eta', 'big', '-q');
    expect(e.code).toBe(1);
    expect(e.stderr).toMatch(/`--meta-eta`/);
    expect(fs.existsSync(path.join(dir, 'bad'))).toBe(false);
  });
});
