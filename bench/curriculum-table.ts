/**
 * Target-table benchmark: K groups, T total tokens, a curriculum with 16 knots
 * log-spaced over [1e6, T] whose logits start at a Zipf mixture and take a
 * Gaussian random walk (step `sigma`) from knot to knot.
 *
 * Times are wall clock and CPU time (the machine may be shared; ratios use CPU time).
 * Baselines, measured in the same run on a prefix of the same grid and scaled
 * to the whole grid:
 *  - `cumulativeTargets` (Gauss–Legendre with a fresh softmax at every node);
 *  - a numpy peer (/usr/bin/python3): the same cells, 4-point Gauss–Legendre in
 *    log tokens, vectorised over groups (skipped with a note if unavailable).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import type { Curriculum } from '../lib/curriculum/curriculum';
import { cumulativeTargets, targetTable } from '../lib/curriculum/targets';

export interface CurriculumBenchOptions {
  groups: number;
  totalTokens: number;
  sigma: number;
  baselinePoints: number;
  threads?: number;
}

export function benchCurriculum(K: number, T: number, sigma: number, seed = 1): Curriculum {
  const n = 16;
  let x = seed;
  const rnd = () => (x = (x * 16807) % 2147483647) / 2147483647;
  const gauss = () => Math.sqrt(-2 * Math.log(rnd())) * Math.cos(2 * Math.PI * rnd());
  const s = new Float64Array(n);
  const logits = new Float64Array(n * K);
  for (let i = 0; i < n; i++) s[i] = Math.log(1e6) + ((Math.log(T) - Math.log(1e6)) * i) / (n - 1);
  for (let k = 0; k < K; k++) {
    let f = -Math.log(k + 1);
    for (let i = 0; i < n; i++) {
      logits[i * K + k] = f;
      f += sigma * gauss();
    }
  }
  return { groups: K, s, logits };
}

function seconds(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const PEER = `
import json, sys, time
import numpy as np
d = json.load(open(sys.argv[1]))
s = np.array(d["s"]); L = np.array(d["logits"]).reshape(len(s), -1); pts = np.array(d["points"])
xg, wg = np.polynomial.legendre.leggauss(4)
t0 = time.process_time()
E = np.zeros(L.shape[1]); out = []
for a, b in zip(pts[:-1], pts[1:]):
    sa, sb = np.log(a), np.log(b)
    nodes = 0.5 * (sa + sb) + 0.5 * (sb - sa) * xg
    i = np.clip(np.searchsorted(s, nodes) - 1, 0, len(s) - 2)
    lam = np.clip((nodes - s[i]) / (s[i + 1] - s[i]), 0, 1)[:, None]
    f = (1 - lam) * L[i] + lam * L[i + 1]
    f -= f.max(axis=1, keepdims=True)
    p = np.exp(f); p /= p.sum(axis=1, keepdims=True)
    E = E + (0.5 * (sb - sa) * wg * np.exp(nodes)) @ p
    out.append(E.copy())
el = time.process_time() - t0
print(json.dumps({"seconds": el, "last": out[-1].tolist()}))
`;

export async function main(o: CurriculumBenchOptions): Promise<Record<string, unknown>> {
  const c = benchCurriculum(o.groups, o.totalTokens, o.sigma);
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const table = targetTable(c, o.totalTokens, { maxEntries: 2 ** 31, threads: o.threads ?? 1 });
  const tableSeconds = seconds(t0);
  const cpu = process.cpuUsage(cpu0);
  const tableCpuSeconds = (cpu.user + cpu.system) / 1e6; // the machine may be shared: CPU time is the work done
  const G = table.tokens.length;
  const K = o.groups;
  const lines = [
    `target table: K = ${K}, totalTokens = ${o.totalTokens}, sigma = ${o.sigma}, threads = ${o.threads ?? 1}: G = ${G} grid points (${((G * K * 8) / 2 ** 20).toFixed(0)} MiB) ` +
      `in ${tableSeconds.toFixed(3)} s wall, ${tableCpuSeconds.toFixed(3)} s CPU; bound ${table.interpolationBound.toFixed(3)} + ${table.quadratureBound.toExponential(2)} tokens`,
  ];
  // Baselines on a prefix of the grid that starts inside the curriculum (from the first knot).
  const first = table.tokens.findIndex((t) => t >= 1e6);
  const m = Math.min(o.baselinePoints, G - first);
  const pts = table.tokens.subarray(first, first + m);
  const c1 = process.cpuUsage();
  const gl = cumulativeTargets(c, pts);
  const c1d = process.cpuUsage(c1);
  const glSeconds = (((c1d.user + c1d.system) / 1e6) * (G - first)) / m;
  let worst = 0;
  for (let i = 0; i < m * K; i++) worst = Math.max(worst, Math.abs(gl[i] - table.cumulative[first * K + i]));
  lines.push(
    `baseline cumulativeTargets (Gauss-Legendre, softmax at every node): ${glSeconds.toFixed(2)} s CPU for the grid ` +
      `(scaled from ${m} points): ${(glSeconds / tableCpuSeconds).toFixed(1)}x the table's CPU time; max |difference| ${worst.toExponential(2)} tokens`,
  );
  // Observed interpolation error at the midpoints of the same cells (a check of the bound's slack).
  const mids = Float64Array.from({ length: m - 1 }, (_, i) => (pts[i] + pts[i + 1]) / 2);
  const exactMid = cumulativeTargets(c, mids);
  let observed = 0;
  for (let i = 0; i + 1 < m; i++) {
    for (let k = 0; k < K; k++) {
      const a = table.cumulative[(first + i) * K + k];
      const b = table.cumulative[(first + i + 1) * K + k];
      observed = Math.max(observed, Math.abs((a + b) / 2 - exactMid[i * K + k]));
    }
  }
  lines.push(`observed interpolation error at those cells' midpoints: ${observed.toFixed(3)} tokens (bound ${table.interpolationBound.toFixed(3)})`);
  const result: Record<string, unknown> = { observedMidpointError: observed, K, totalTokens: o.totalTokens, sigma: o.sigma, G, tableSeconds, tableCpuSeconds, glSeconds, maxDifference: worst };
  const py = '/usr/bin/python3';
  if (fs.existsSync(py) && spawnSync(py, ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curricula-bench-'));
    const file = path.join(dir, 'in.json');
    fs.writeFileSync(file, JSON.stringify({ s: Array.from(c.s), logits: Array.from(c.logits), points: Array.from(pts) }));
    fs.writeFileSync(path.join(dir, 'peer.py'), PEER);
    const r = spawnSync(py, [path.join(dir, 'peer.py'), file], { encoding: 'utf8', maxBuffer: 1 << 30 });
    fs.rmSync(dir, { recursive: true, force: true });
    if (r.status === 0) {
      const peer = JSON.parse(r.stdout) as { seconds: number };
      const peerSeconds = (peer.seconds * (G - first)) / (m - 1);
      result.numpySeconds = peerSeconds;
      lines.push(`numpy peer (4-point Gauss-Legendre per cell, vectorised over groups): ${peerSeconds.toFixed(2)} s CPU for the grid (scaled): ${(peerSeconds / tableCpuSeconds).toFixed(1)}x the table's CPU time`);
    } else lines.push(`numpy peer failed: ${r.stderr.split('\n').slice(-3).join(' ')}`);
  } else lines.push('numpy peer skipped: /usr/bin/python3 with numpy not found');
  process.stdout.write(lines.join('\n') + '\n');
  return result;
}
