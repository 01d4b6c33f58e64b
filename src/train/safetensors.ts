// safetensors files: an 8-byte little-endian header length, a JSON header
// ({name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {string: string}}) and the raw
// little-endian data. Python's `safetensors` opens what this writes. Writes are atomic: a temp
// file in the same directory, fsync, rename — a failed run never leaves a truncated checkpoint.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export type StDType = 'F32' | 'I32';
export interface StTensor {
  dtype: StDType;
  shape: number[];
  data: Float32Array | Int32Array;
}

const MAX_HEADER = 100 * 1024 * 1024;

export function writeSafetensors(path: string, tensors: Map<string, StTensor>, metadata: Record<string, string> = {}): void {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const names = [...tensors.keys()].sort();
  for (const name of names) {
    const t = tensors.get(name)!;
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`writeSafetensors: tensor '${name}' has ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // keep the data 8-byte aligned
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  writeAtomic(path, [head, Buffer.from(json), ...names.map((n) => viewOf(tensors.get(n)!.data))]);
}

export function readSafetensors(path: string): { tensors: Map<string, StTensor>; metadata: Record<string, string> } {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as Error).message})`);
  }
  const bad = (why: string): never => {
    throw new Error(`${path}: not a valid safetensors file (${why})`);
  };
  if (buf.length < 8) bad('shorter than its 8-byte header length');
  const len = Number(buf.readBigUInt64LE(0));
  if (len > MAX_HEADER || 8 + len > buf.length) bad(`header length ${len} exceeds the file size ${buf.length}`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + len).toString('utf8')) as Record<string, unknown>;
  } catch {
    return bad('header is not JSON');
  }
  const dataStart = 8 + len;
  const tensors = new Map<string, StTensor>();
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: off } = v as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (dtype !== 'F32' && dtype !== 'I32') bad(`tensor '${name}' has dtype ${dtype}; only F32 and I32 are supported`);
    if (!Array.isArray(shape) || !Array.isArray(off) || off.length !== 2) bad(`tensor '${name}' has a malformed entry`);
    const n = shape.reduce((a, b) => a * b, 1);
    if (off[1] - off[0] !== n * 4 || off[0] < 0 || dataStart + off[1] > buf.length) {
      bad(`tensor '${name}' [${shape.join(', ')}] has data offsets [${off.join(', ')}] outside or inconsistent with the file`);
    }
    const bytes = buf.subarray(dataStart + off[0], dataStart + off[1]);
    const copy = new ArrayBuffer(bytes.length);
    new Uint8Array(copy).set(bytes); // copy: aligned, independent of the file buffer
    tensors.set(name, { dtype: dtype as StDType, shape, data: dtype === 'F32' ? new Float32Array(copy) : new Int32Array(copy) });
  }
  return { tensors, metadata };
}

function viewOf(a: Float32Array | Int32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Writes chunks to `path` through a temp file in the same directory, fsync and rename. */
export function writeAtomic(path: string, chunks: (Buffer | Uint8Array)[]): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    for (const c of chunks) {
      let done = 0;
      while (done < c.length) done += writeSync(fd, c, done, c.length - done);
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}
