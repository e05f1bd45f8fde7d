/**
 * Reading the schedule command's inputs: a sequence set (directory or JSONL)
 * and a previous order for --resume.
 */
import * as fs from 'fs';
import * as path from 'path';

import { FormatError, ValidationError } from '../errors';
import { readNpy } from '../io/npy';
import { readSequencesDir, readSequencesJsonl, type SequenceSet } from '../io/sequences';
import type { Order } from '../scheduler';

/** A directory holding manifest.json, or a JSON Lines file. */
export function readSequences(source: string, opts: { numBins?: number; numGroups?: number }): SequenceSet {
  const stat = fs.statSync(source, { throwIfNoEntry: false });
  if (stat === undefined) throw new ValidationError('--sequences', `\`--sequences\`: ${source} does not exist`);
  if (stat.isDirectory()) {
    if (opts.numGroups !== undefined) {
      throw new ValidationError('--groups', '`--groups` applies to JSONL input only; a sequences directory has numGroups in its manifest');
    }
    return readSequencesDir(source, { numBins: opts.numBins });
  }
  return readSequencesJsonl(source, opts);
}

/**
 * A 1-D integer .npy of sequence indices as a Uint32Array or BigUint64Array
 * (numpy's default int64 is accepted when no entry is negative).
 */
export function readOrder(file: string): Order {
  const { dtype, shape, data } = readNpy(file);
  if (shape.length !== 1) throw new FormatError(file, `${file}: an order must be 1-D but has shape (${shape.join(', ')})`);
  if (data instanceof Uint32Array || data instanceof BigUint64Array) return data;
  if (dtype[1] === 'f') throw new FormatError(file, `${file}: an order must have an integer dtype but has ${dtype}`);
  const negative = (i: number): never => {
    throw new ValidationError(`resume[${i}]`, `${file}: resume[${i}] = ${data[i]} is negative`);
  };
  if (data instanceof BigInt64Array) {
    const out = new BigUint64Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = data[i] < 0n ? negative(i) : data[i];
    return out;
  }
  const out = new Uint32Array(data.length); // every remaining integer dtype fits
  for (let i = 0; i < data.length; i++) out[i] = data[i] < 0 ? negative(i) : data[i];
  return out;
}

/** `a` followed by `b`, widened to 64 bits if either is. */
export function concatOrders(a: Order, b: Order): Order {
  if (a instanceof Uint32Array && b instanceof Uint32Array) {
    const out = new Uint32Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  }
  const out = new BigUint64Array(a.length + b.length);
  for (let i = 0; i < a.length; i++) out[i] = BigInt(a[i]);
  for (let i = 0; i < b.length; i++) out[a.length + i] = BigInt(b[i]);
  return out;
}

/** Fail early (before a long run) if `file` cannot be created: its folder must exist and it must not be a folder. */
export function checkWritable(flag: string, file: string): void {
  const dir = path.dirname(path.resolve(file));
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new ValidationError(flag, `\`${flag}\`: the folder ${dir} does not exist`);
  }
  if (fs.statSync(file, { throwIfNoEntry: false })?.isDirectory()) {
    throw new ValidationError(flag, `\`${flag}\`: ${file} is a folder`);
  }
}
