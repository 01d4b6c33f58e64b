// Issue 18, item 1: hostile NIfTI inputs must fail fast with a message naming the file, the field,
// its value and what was expected -- never hang, never grow memory without bound.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGzip, gzipSync } from 'node:zlib';

import { afterAll, describe, expect, it } from 'vitest';

import { readNifti, readNiftiLabels, writeNifti } from '../../src/data/nifti.js';

const dir = mkdtempSync(join(tmpdir(), 'scse-nifti-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string): string => join(dir, name);

// Each case is small; a regression to the old endless loop must fail the test, not stall the run.
const T = { timeout: 10_000 };

const DIMS = [4, 4, 4];
const VALUES = Float32Array.from({ length: 64 }, (_, i) => i * 0.5 - 3);
const AFFINE = [2, 0, 0, -4, 0, 2, 0, -4, 0, 0, 2, -4, 0, 0, 0, 1];

/** A valid little-endian NIfTI-1 float32 4x4x4 file from the project's own writer. */
function nifti1(): Uint8Array {
  writeNifti(file('base1.nii'), { data: VALUES, dims: DIMS, affine: AFFINE });
  return new Uint8Array(readFileSync(file('base1.nii')));
}

/** The same volume as a NIfTI-2 file (the writer only writes NIfTI-1), built from nifti2.h. */
function nifti2(dims: readonly bigint[] = [4n, 4n, 4n]): Uint8Array {
  const out = new Uint8Array(544 + VALUES.byteLength);
  const dv = new DataView(out.buffer);
  dv.setInt32(0, 540, true);
  const magic = 'n+2\0\r\n\x1a\n';
  for (let i = 0; i < 8; i++) dv.setUint8(4 + i, magic.charCodeAt(i));
  dv.setInt16(12, 16, true); // float32
  dv.setInt16(14, 32, true);
  dv.setBigInt64(16, 3n, true);
  for (let i = 0; i < 7; i++) dv.setBigInt64(24 + 8 * i, dims[i] ?? 1n, true);
  for (let i = 0; i < 4; i++) dv.setFloat64(104 + 8 * i, i === 0 ? 1 : 2, true);
  dv.setBigInt64(168, 544n, true);
  dv.setInt32(348, 1, true); // sform_code
  AFFINE.slice(0, 12).forEach((v, i) => dv.setFloat64(400 + 8 * i, v, true));
  dv.setInt32(500, 2, true);
  out.set(new Uint8Array(VALUES.buffer), 544);
  return out;
}

/** Rebuilds a file with the extension flag set and `ext` between the flag and the voxels,
 *  vox_offset moved to match -- exactly how a real file carries extensions. */
function withExtensions(base: Uint8Array, ext: Uint8Array): Uint8Array {
  const v2 = new DataView(base.buffer, base.byteOffset).getInt32(0, true) === 540;
  const hdr = v2 ? 540 : 348;
  const voxels = base.subarray(hdr + 4);
  const out = new Uint8Array(hdr + 4 + ext.length + voxels.length);
  out.set(base.subarray(0, hdr));
  out[hdr] = 1;
  out.set(ext, hdr + 4);
  out.set(voxels, hdr + 4 + ext.length);
  const dv = new DataView(out.buffer);
  if (v2) dv.setBigInt64(168, BigInt(hdr + 4 + ext.length), true);
  else dv.setFloat32(108, hdr + 4 + ext.length, true);
  return out;
}

/** Extensions as [esize, ecode, zero data] records; `room` is their total byte length. */
function ext(records: Array<[esize: number, ecode: number]>, room: number): Uint8Array {
  const out = new Uint8Array(room);
  const dv = new DataView(out.buffer);
  let pos = 0;
  for (const [esize, ecode] of records) {
    dv.setInt32(pos, esize, true);
    dv.setInt32(pos + 4, ecode, true);
    pos += Math.max(16, Math.abs(esize));
  }
  return out;
}

const VERSIONS: Array<[string, () => Uint8Array, number]> = [
  ['NIfTI-1', nifti1, 352],
  ['NIfTI-2', () => nifti2(), 544],
];

describe('extension chain is vetted before any parser walks it', () => {
  for (const [name, make, first] of VERSIONS) {
    it(`${name}: a +16 / -16 esize cycle fails at once instead of looping`, T, () => {
      const p = file(`cycle-${name}.nii`);
      writeFileSync(p, withExtensions(make(), ext([[16, 6], [-16, 6]], 32)));
      const t0 = Date.now();
      expect(() => readNifti(p)).toThrow(`NIfTI ${p}: extension 1 at byte ${first + 16}: esize -16 (expected a multiple of 16, at least 16)`);
      expect(Date.now() - t0).toBeLessThan(1000);
      // gzipped: the same check runs on the inflated bytes
      writeFileSync(`${p}.gz`, gzipSync(readFileSync(p)));
      expect(() => readNifti(`${p}.gz`)).toThrow(`esize -16 (expected a multiple of 16, at least 16)`);
    });

    it(`${name}: esize not a multiple of 16, and esize past vox_offset`, T, () => {
      const p = file(`odd-${name}.nii`);
      writeFileSync(p, withExtensions(make(), ext([[24, 6]], 32)));
      expect(() => readNifti(p)).toThrow(`NIfTI ${p}: extension 0 at byte ${first}: esize 24 (expected a multiple of 16, at least 16)`);
      writeFileSync(p, withExtensions(make(), ext([[4096, 6]], 32)));
      expect(() => readNifti(p)).toThrow(
        `NIfTI ${p}: extension 0 at byte ${first}: esize 4096 runs to byte ${first + 4096}, past vox_offset ${first + 32}`,
      );
    });

    it(`${name}: a huge number of extensions is refused`, T, () => {
      const p = file(`many-${name}.nii`);
      const n = 70_000;
      writeFileSync(p, withExtensions(make(), ext(Array.from({ length: n }, () => [16, 0] as [number, number]), 16 * n)));
      expect(() => readNifti(p)).toThrow(`more than 65536 header extensions before vox_offset ${first + 16 * n}`);
    });

    it(`${name}: a well-formed extension still loads identically`, T, () => {
      const base = file(`plain-${name}.nii`);
      const withExt = file(`ext-${name}.nii`);
      writeFileSync(base, make());
      writeFileSync(withExt, withExtensions(make(), ext([[32, 6], [16, 4]], 48)));
      const a = readNifti(base);
      const b = readNifti(withExt);
      expect(Array.from(b.data)).toEqual(Array.from(VALUES));
      expect(b.data).toEqual(a.data);
      expect(b.affine).toEqual(a.affine);
      expect(b.dims).toEqual(DIMS);
      expect(b.header?.voxOffset).toBe(first + 48);
    });
  }
});

/** header + voxels of a 4x4x4 float32 file, then `zeroMiB` MiB of zeros, as one gzip member,
 *  streamed so the test itself never holds the bomb in memory. */
async function gzipBomb(zeroMiB: number): Promise<Buffer> {
  const gz = createGzip({ level: 9 });
  const parts: Buffer[] = [];
  gz.on('data', (c: Buffer) => parts.push(c));
  const done = new Promise<void>((res, rej) => {
    gz.on('end', res);
    gz.on('error', rej);
  });
  gz.write(nifti1());
  const zeros = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < zeroMiB; i++) {
    if (!gz.write(zeros)) await new Promise((r) => gz.once('drain', r));
  }
  gz.end();
  await done;
  return Buffer.concat(parts);
}

describe('gzip is inflated only as far as the header says', () => {
  it('a gzip bomb (4x4x4 float32 header + 200 MiB of zeros) stops at the bound', { timeout: 30_000 }, async () => {
    const p = file('bomb.nii.gz');
    const bomb = await gzipBomb(200);
    writeFileSync(p, bomb);
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const expected = 352 + 64 * 4;
    const bound = expected + 1024 * 1024;
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    let msg = '';
    try {
      readNifti(p);
    } catch (e) {
      msg = (e as Error).message;
    }
    const ms = performance.now() - t0;
    const grew = process.memoryUsage().rss - rss0;
    console.log(`gzip bomb: ${bomb.length} bytes compressed, refused in ${ms.toFixed(1)} ms, rss grew ${(grew / 1024 / 1024).toFixed(1)} MiB`);
    expect(msg).toBe(
      `NIfTI ${p}: the image has more data than its header describes: it decompresses to more than ${bound} bytes, ` +
        `but the header (dims 4x4x4, datatype float32, vox_offset 352) describes ${expected} bytes ` +
        `(decompression stopped at ${bound}, which allows 1048576 bytes of padding)`,
    );
    expect(ms).toBeLessThan(2000);
    expect(grew).toBeLessThan(64 * 1024 * 1024);
  });

  it('concatenated gzip members count towards the same bound', T, () => {
    const p = file('bomb-members.nii.gz');
    const member = gzipSync(Buffer.alloc(1024 * 1024));
    writeFileSync(p, Buffer.concat([gzipSync(nifti1()), ...Array.from({ length: 200 }, () => member)]));
    expect(() => readNifti(p)).toThrow('the image has more data than its header describes');
  });

  it('a header claiming an absurd size is refused before inflating or allocating', T, () => {
    const p2 = file('huge.nii');
    writeFileSync(p2, nifti2([1n << 20n, 1n << 20n, 1n << 20n]));
    expect(() => readNifti(p2)).toThrow(
      `NIfTI ${p2}: header describes 1048576x1048576x1048576 float32 voxels from vox_offset 544 (more than 8589934592 bytes); the limit is 8589934592 bytes`,
    );
    writeFileSync(`${p2}.gz`, gzipSync(nifti2([1n << 20n, 1n << 20n, 1n << 20n])));
    expect(() => readNifti(`${p2}.gz`)).toThrow('(more than 8589934592 bytes); the limit is 8589934592 bytes');
    // beyond 2^53 a NIfTI-2 dimension is not even an exact Number
    writeFileSync(p2, nifti2([1n << 60n, 1n, 1n]));
    expect(() => readNifti(p2)).toThrow(`NIfTI ${p2}: invalid dims [${Number(1n << 60n)}, 1, 1]`);
  });

  it('valid .nii.gz still loads; a short one is still reported as truncated', T, () => {
    const p = file('ok.nii.gz');
    writeNifti(p, { data: VALUES, dims: DIMS, affine: AFFINE });
    expect(Array.from(readNifti(p).data)).toEqual(Array.from(VALUES));
    const short = file('short.nii.gz');
    writeFileSync(short, gzipSync(nifti1().subarray(0, 352 + 100)));
    expect(() => readNifti(short)).toThrow(`NIfTI ${short}: truncated data: the header describes 4x4x4 float32 voxels (256 bytes from offset 352) but the file has only 100 bytes of data`);
  });

  it('an uncompressed file reads header + image only; trailing bytes are ignored', T, () => {
    const p = file('trailing.nii');
    writeFileSync(p, Buffer.concat([nifti1(), Buffer.alloc(4096, 7)]));
    expect(Array.from(readNifti(p).data)).toEqual(Array.from(VALUES));
  });
});

describe('only regular files are read', () => {
  for (const dev of ['/dev/zero', '/dev/urandom']) {
    it.runIf(existsSync(dev))(`${dev} is refused without reading`, T, () => {
      expect(() => readNifti(dev)).toThrow(`NIfTI ${dev}: is a character device; expected a regular .nii or .nii.gz file`);
      expect(() => readNiftiLabels(dev)).toThrow(`NIfTI ${dev}: is a character device`);
    });
  }

  it('a directory is refused', T, () => {
    const d = file('adir.nii');
    mkdirSync(d);
    expect(() => readNifti(d)).toThrow(`NIfTI ${d}: is a directory; expected a regular .nii or .nii.gz file`);
  });

  const fifo = file('fifo.nii.gz');
  const haveFifo = spawnSync('mkfifo', [fifo]).status === 0;
  it.runIf(haveFifo)('a FIFO is refused without blocking in open()', T, () => {
    expect(() => readNifti(fifo)).toThrow(`NIfTI ${fifo}: is a FIFO (named pipe); expected a regular .nii or .nii.gz file`);
  });

  it('a missing file still says so', T, () => {
    const p = file('missing.nii');
    expect(() => readNifti(p)).toThrow(`NIfTI ${p}: cannot read file (ENOENT`);
  });
});
