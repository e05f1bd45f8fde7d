/**
 * `curricula bench scheduler`: time and peak memory of the exact scheduler on
 * realistic packed corpora (K clusters, B = 16, L = 2048), each size in its own
 * process; several engines at one size are timed in the same run and compared.
 */
import { spawn } from 'child_process';
import * as path from 'path';

import { writeFileAtomic } from '../lib/io/atomic';
import type { RunResult } from './scheduler-run';

export interface BenchOptions {
  sizes: number[];
  groups: number;
  lambda: number;
  /** engines to time; the first is the reference for the ratio column */
  engines?: ('scan' | 'tree')[];
  /** per-run wall-clock limit */
  maxSeconds?: number;
  out?: string;
}

interface Row extends Partial<RunResult> {
  engine: 'scan' | 'tree';
  size: number;
  status: 'ok' | 'timeout' | 'failed';
  error?: string;
}

function runChild(engine: 'scan' | 'tree', size: number, o: BenchOptions): Promise<Row> {
  const script = path.join(__dirname, 'scheduler-run.js');
  const args = [script, '--engine', engine, '--size', String(size), '--groups', String(o.groups), '--lambda', String(o.lambda)];
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
  log(`scheduler benchmark: K=${o.groups}, B=16, L=2048, lambda=${o.lambda}, limit ${limit} s per run`);
  log('| M | engine | schedule time | peak RSS | exact scores / step | tree nodes / step | speed vs first engine |');
  log('|---|---|---|---|---|---|---|');
  const engines = o.engines ?? ['scan'];
  for (const size of o.sizes) {
    let first: Row | undefined;
    for (const engine of engines) {
      const r = await runChild(engine, size, o);
      rows.push(r);
      let ratio = '';
      if (first && first.status === 'ok' && r.status === 'ok') {
        const same = first.orderChecksum === r.orderChecksum ? 'same order' : 'ORDERS DIFFER';
        ratio = `${((first.scheduleSeconds as number) / (r.scheduleSeconds as number)).toFixed(2)}x (${same})`;
      }
      first ??= r;
      log(row(r, limit, ratio));
    }
  }
  if (o.out) writeFileAtomic(o.out, JSON.stringify({ options: o, rows }, null, 2) + '\n');
  return rows;
}

function row(r: Row, limit: number, ratio: string): string {
  const rss = r.peakRssBytes ? `${(r.peakRssBytes / 2 ** 20).toFixed(0)} MiB` : '';
  const ev = r.exactEvaluationsPerStep !== undefined ? r.exactEvaluationsPerStep.toFixed(1) : '';
  const nodes = r.nodesPerStep !== undefined ? r.nodesPerStep.toFixed(1) : '';
  return `| ${r.size} | ${r.engine} | ${fmtSeconds(r, limit)} | ${rss} | ${ev} | ${nodes} | ${ratio} |`;
}
