/**
 * Progress for the demo's stages on stderr: cli-progress bars on a terminal
 * (one per running task), plain lines at every 25% otherwise, nothing when quiet.
 */
import { MultiBar, Presets, type SingleBar } from 'cli-progress';

export interface TaskProgress {
  update(value: number, detail?: string): void;
  done(): void;
}

export interface DemoProgress {
  /** a task with `total` units (tokens, items) */
  task(name: string, total: number, unit: string): TaskProgress;
  log(line: string): void;
  stop(): void;
}

export function silentProgress(): DemoProgress {
  return { task: () => ({ update() {}, done() {} }), log() {}, stop() {} };
}

function barProgress(stream: NodeJS.WriteStream): DemoProgress {
  const multi = new MultiBar(
    {
      stream,
      format: '{name} [{bar}] {percentage}% | {value}/{total} {unit} {detail}',
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
    },
    Presets.shades_classic,
  );
  return {
    task(name, total, unit) {
      const bar: SingleBar = multi.create(total, 0, { name: name.padEnd(28), unit, detail: '' });
      return {
        update: (value, detail = '') => bar.update(Math.min(value, total), { detail }),
        done: () => {
          bar.update(total);
          bar.stop();
        },
      };
    },
    log: (line) => multi.log(`${line}\n`),
    stop: () => multi.stop(),
  };
}

function lineProgress(stream: NodeJS.WritableStream): DemoProgress {
  return {
    task(name, total, unit) {
      let last = -1;
      return {
        update(value, detail = '') {
          const q = Math.floor((4 * Math.min(value, total)) / Math.max(1, total));
          if (q <= last || q === 4) return;
          last = q;
          stream.write(`curricula demo: ${name}: ${q * 25}% (${value}/${total} ${unit}) ${detail}\n`);
        },
        done() {
          stream.write(`curricula demo: ${name}: done\n`);
        },
      };
    },
    log: (line) => stream.write(`curricula demo: ${line}\n`),
    stop() {},
  };
}

export function createDemoProgress(quiet: boolean, stream: NodeJS.WriteStream = process.stderr): DemoProgress {
  if (quiet) return silentProgress();
  return stream.isTTY ? barProgress(stream) : lineProgress(stream);
}
