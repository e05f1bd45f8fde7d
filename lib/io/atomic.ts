import * as fs from 'fs';

// writeSync may write less than asked, and very large single writes are
// refused on some platforms, so write in bounded chunks.
const WRITE_CHUNK = 256 * 1024 * 1024;

function tempPath(path: string): string {
  const rnd = Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0');
  return `${path}.tmp-${process.pid}-${rnd}`;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let pos = 0;
  while (pos < bytes.length) {
    pos += fs.writeSync(fd, bytes, pos, Math.min(WRITE_CHUNK, bytes.length - pos));
  }
}

/**
 * Write `data` to `path` so that readers see either the old file or the whole
 * new one: write `path.tmp-<pid>-<random>`, fsync, rename over `path`.
 * The temp file is removed if anything fails. `data` may be several parts,
 * which are concatenated (saves copying a header and a large body together).
 */
export function writeFileAtomic(path: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  const parts = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data;
  const tmp = tempPath(path);
  const fd = fs.openSync(tmp, 'wx'); // if this throws there is nothing to clean up
  try {
    try {
      for (const part of parts) writeAll(fd, part);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path);
  } catch (err) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw err;
  }
}
