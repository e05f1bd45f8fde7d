/**
 * Writes gradient directories in the format the readers take (manifest.json
 * plus safetensors or .npy shards): for tests, benchmarks and exporters.
 */
import * as fs from 'fs';
import * as path from 'path';

import { ValidationError } from '../errors';
import { writeFileAtomic } from '../io/atomic';
import { encodeNpy } from '../io/npy';
import { writeSafetensorsAtomic, type SafetensorsDtype } from '../io/safetensors';
import { GRADIENTS_FORMAT, type GradDtype } from './readers';

export interface ShardToWrite {
  /** n x dim: Float32Array (f32) or raw Uint16Array bits (f16, bf16) */
  grads: Float32Array | Uint16Array;
  dtype: GradDtype;
  cluster: Int32Array | BigInt64Array;
  target?: Uint8Array;
  format?: 'safetensors' | 'npy';
}

/** Writes `dir/manifest.json` and one file (safetensors) or 2-3 files (npy) per shard. */
export function writeGradientsDir(dir: string, dim: number, numClusters: number, shards: readonly ShardToWrite[]): void {
  fs.mkdirSync(dir, { recursive: true });
  const entries = shards.map((s, i) => {
    const n = s.grads.length / dim;
    if (!Number.isInteger(n)) throw new ValidationError(`shards[${i}].grads`, `\`shards[${i}].grads\` has ${s.grads.length} entries, not a multiple of dim = ${dim}`);
    const stem = `shard-${String(i).padStart(5, '0')}`;
    if ((s.format ?? 'safetensors') === 'safetensors') {
      const gd: SafetensorsDtype = s.dtype === 'f32' ? 'F32' : s.dtype === 'f16' ? 'F16' : 'BF16';
      const tensors: Parameters<typeof writeSafetensorsAtomic>[1] = {
        grads: { dtype: gd, shape: [n, dim], data: s.grads },
        cluster: { dtype: Object.prototype.toString.call(s.cluster) === '[object Int32Array]' ? 'I32' : 'I64', shape: [n], data: s.cluster },
      };
      if (s.target) tensors.target = { dtype: 'BOOL', shape: [n], data: s.target };
      writeSafetensorsAtomic(path.join(dir, `${stem}.safetensors`), tensors);
      return { file: `${stem}.safetensors` };
    }
    // npy has no bfloat16: its bits go in a <u2 array and the manifest says so
    const [gh, gb] = encodeNpy(s.grads, [n, dim]);
    const gbytes = Buffer.concat([gh, gb]);
    if (s.dtype === 'f16') gbytes.write("'<f2'", gbytes.indexOf("'<u2'"), 'latin1');
    writeFileAtomic(path.join(dir, `${stem}.grads.npy`), gbytes);
    writeFileAtomic(path.join(dir, `${stem}.cluster.npy`), encodeNpy(s.cluster));
    const entry: Record<string, string> = { grads: `${stem}.grads.npy`, cluster: `${stem}.cluster.npy` };
    if (s.target) {
      writeFileAtomic(path.join(dir, `${stem}.target.npy`), encodeNpy(s.target));
      entry.target = `${stem}.target.npy`;
    }
    if (s.dtype === 'bf16') entry.dtype = 'bf16';
    return entry;
  });
  writeFileAtomic(
    path.join(dir, 'manifest.json'),
    JSON.stringify({ format: GRADIENTS_FORMAT, version: 1, dim, numClusters, shards: entries }, null, 2) + '\n',
  );
}
