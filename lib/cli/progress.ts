/**
 * Scheduling progress on stderr: a live bar on a terminal; otherwise (logs,
 * CI) a plain line when the first report arrives and at every further 10%;
 * nothing with --quiet.
 */
import { SingleBar } from 'cli-progress';

import type { ScheduleProgress } from '../scheduler';

export interface ProgressReporter {
  update(p: ScheduleProgress): void;
  stop(): void;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}

function barReporter(stream: NodeJS.WriteStream): ProgressReporter {
  const bar = new SingleBar({
    stream,
    format: 'scheduling [{bar}] {percentage}% | {value}/{total} tokens | {steps} steps | ETA {eta_formatted}',
    hideCursor: true,
    etaBuffer: 50,
  });
  let started = false;
  return {
    update({ steps, tokens, goal }) {
      if (!started) bar.start(goal, 0, { steps: 0 });
      started = true;
      bar.update(Math.min(tokens, goal), { steps });
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}

function lineReporter(stream: NodeJS.WritableStream): ProgressReporter {
  const start = process.hrtime.bigint();
  let lastDecile = -1;
  return {
    update({ steps, tokens, goal }) {
      const fraction = goal > 0 ? Math.min(1, tokens / goal) : 1;
      const decile = Math.floor(fraction * 10);
      if (decile <= lastDecile) return;
      lastDecile = decile;
      const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
      const eta = fraction > 0 ? formatDuration((elapsed * (1 - fraction)) / fraction) : '?';
      stream.write(
        `curricula: scheduling ${Math.floor(fraction * 100)}% (${tokens}/${goal} tokens, ${steps} steps, ETA ${eta})\n`,
      );
    },
    stop() {},
  };
}

export function createProgress(quiet: boolean, stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  if (quiet) return { update() {}, stop() {} };
  return stream.isTTY ? barReporter(stream) : lineReporter(stream);
}
