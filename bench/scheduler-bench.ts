/**
 * `curricula bench scheduler`: time and peak memory of the exact scheduler on
 * realistic packed corpora (K clusters, B = 16, L = 2048), each size in its own
 * process; where asked, the brute-force baseline (same order, every candidate
 * scored exactly every step) runs at the same size in the same run.
 */
import { spawn } from 'child_process';
import * as path from 'path';

import { writeFileAtomic } from '../lib/io/atomic';
import type { Engine, RunResult } from './scheduler-run';

export interface BenchOptions {
  sizes: number[];
  groups: number;
  lambda: number;
  /** also time the brute-force baseline (every candidate scored exactly) at these sizes */
  baselineSizes?: number[];
  /** also time a curriculum schedule (table built first, timed apart) at these sizes */
  curriculumSizes?: number[];
  /** per-run wall-clock limit */
  maxSeconds?: number;
  /** schedule only the first `steps` steps (steps·L tokens) of each run */
  steps?: number;
  out?: string;
}

interface Row extends Partial<RunResult> {
  engine: Engine;
  size: number;
  status: 'ok' | 'timeout' | 'failed';
  error?: string;
}

function runChild(engine: Engine, size: number, o: BenchOptions): Promise<Row> {
  const script = path.join(__dirname, 'scheduler-run.js');
  const args = [script, '--engine', engine, '--size', String(size), '--groups', String(o.groups), '--lambda', String(o.lambda)];
  if (o.steps !== undefined) args.push('--steps', String(o.steps));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const limit = (o.maxSeconds ?? 600) * 1000;
    const timer = setTimeout(() => child.kill('SIGKILL'), limit);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') return resolve({ engine, size, status: 'timeout' });
      if (code !== 0) return resolve({ engine, size, status: 'failed', error: err.trim().split('\n').slice(-3).join(' ') });
      resolve({ ...(JSON.parse(out.trim().split('\n').pop() as string) as RunResult), status: 'ok' });
    });
  });
}

function fmtSeconds(r: Row, limit: number): string {
  if (r.status === 'timeout') return `> ${limit} s (stopped)`;
  if (r.status === 'failed') return `failed: ${r.error}`;
  return `${(r.scheduleSeconds as number).toFixed(2)} s`;
}

export async function main(o: BenchOptions): Promise<Row[]> {
  const rows: Row[] = [];
  const limit = o.maxSeconds ?? 600;
  const log = (s: string) => process.stdout.write(s + '\n');
  log(
    `scheduler benchmark: K=${o.groups}, B=16, L=2048, lambda=${o.lambda}, limit ${limit} s per run` +
      (o.steps !== undefined ? `, first ${o.steps} steps of each run only` : ''),
  );
  log('| M | run | schedule time | peak RSS | exact scores / step | re-bounds / step | vs the fixed-mixture run |');
  log('|---|---|---|---|---|---|---|');
  const baseline = new Set(o.baselineSizes ?? []);
  const curriculum = new Set(o.curriculumSizes ?? []);
  for (const size of o.sizes) {
    const r = await runChild('fast', size, o);
    rows.push(r);
    let ratio = '';
    if (baseline.has(size)) {
      const b = await runChild('brute', size, o);
      rows.push(b);
      log(row(b, limit, ''));
      if (b.status === 'ok' && r.status === 'ok') {
        const same = b.orderChecksum === r.orderChecksum ? 'same order' : 'ORDERS DIFFER';
        ratio = `brute force takes ${((b.scheduleSeconds as number) / (r.scheduleSeconds as number)).toFixed(1)}x (${same})`;
      }
    }
    log(row(r, limit, ratio));
    if (curriculum.has(size)) {
      const c = await runChild('curriculum', size, o);
      rows.push(c);
      let cr = '';
      if (c.status === 'ok' && r.status === 'ok') {
        cr =
          `${((c.scheduleSeconds as number) / (r.scheduleSeconds as number)).toFixed(2)}x the time ` +
          `(table: ${c.tableGridPoints} grid points in ${(c.tableSeconds as number).toFixed(2)} s, not included)`;
      }
      log(row(c, limit, cr));
    }
  }
  if (o.out) writeFileAtomic(o.out, JSON.stringify({ options: o, rows }, null, 2) + '\n');
  return rows;
}

function row(r: Row, limit: number, ratio: string): string {
  const rss = r.peakRssBytes ? `${(r.peakRssBytes / 2 ** 20).toFixed(0)} MiB` : '';
  const ev = r.exactScoresPerStep !== undefined ? r.exactScoresPerStep.toFixed(1) : '';
  const nodes = r.boundRefreshesPerStep !== undefined ? r.boundRefreshesPerStep.toFixed(1) : '';
  const run = r.steps !== undefined && r.steps < r.size ? `${r.engine} (first ${r.steps} steps)` : r.engine;
  return `| ${r.size} | ${run} | ${fmtSeconds(r, limit)} | ${rss} | ${ev} | ${nodes} | ${ratio} |`;
}
