import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

import { afterAll, describe, expect, it } from 'vitest';

import { qformToAffine } from '../../src/data/affine.js';
import { readNifti, readNiftiLabels, writeNifti } from '../../src/data/nifti.js';
import { axisCodes, fromCanonical, toCanonical } from '../../src/data/orient.js';
import { checkVolumesMatch, volumesMatch, type NiftiDatatype, type Volume } from '../../src/data/volume.js';

const dir = mkdtempSync(join(tmpdir(), 'scse-nifti-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string): string => join(dir, name);

// ------------------------------------------------------------------------------------------------
// Files built by hand from the NIfTI-1 / NIfTI-2 field tables (independent of src/data/nifti.ts).

const CODES: Record<NiftiDatatype, [code: number, bytes: number]> = {
  uint8: [2, 1],
  int8: [256, 1],
  int16: [4, 2],
  uint16: [512, 2],
  int32: [8, 4],
  float32: [16, 4],
  float64: [64, 8],
};

function encode(values: readonly number[], type: NiftiDatatype, le = true): Uint8Array {
  const bytes = CODES[type][1];
  const dv = new DataView(new ArrayBuffer(values.length * bytes));
  values.forEach((v, i) => {
    const o = i * bytes;
    if (type === 'uint8') dv.setUint8(o, v);
    else if (type === 'int8') dv.setInt8(o, v);
    else if (type === 'int16') dv.setInt16(o, v, le);
    else if (type === 'uint16') dv.setUint16(o, v, le);
    else if (type === 'int32') dv.setInt32(o, v, le);
    else if (type === 'float32') dv.setFloat32(o, v, le);
    else dv.setFloat64(o, v, le);
  });
  return new Uint8Array(dv.buffer);
}

interface Hand {
  dim: number[]; // spatial (and further) sizes, without dim[0]
  type: NiftiDatatype;
  le?: boolean;
  pixdim?: number[]; // pixdim[0..7]
  slope?: number;
  inter?: number;
  qformCode?: number;
  sformCode?: number;
  quatern?: number[];
  qoffset?: number[];
  srow?: number[];
  magic?: string;
  datatypeCode?: number;
}

function hand1(h: Hand, voxels: Uint8Array): Uint8Array {
  const le = h.le ?? true;
  const out = new Uint8Array(352 + voxels.length);
  const dv = new DataView(out.buffer);
  dv.setInt32(0, 348, le);
  dv.setInt16(40, h.dim.length, le);
  h.dim.forEach((d, i) => dv.setInt16(42 + 2 * i, d, le));
  for (let i = h.dim.length; i < 7; i++) dv.setInt16(42 + 2 * i, 1, le);
  dv.setInt16(70, h.datatypeCode ?? CODES[h.type][0], le);
  dv.setInt16(72, CODES[h.type][1] * 8, le);
  (h.pixdim ?? [1, 1, 1, 1, 0, 0, 0, 0]).forEach((p, i) => dv.setFloat32(76 + 4 * i, p, le));
  dv.setFloat32(108, 352, le);
  dv.setFloat32(112, h.slope ?? 0, le);
  dv.setFloat32(116, h.inter ?? 0, le);
  dv.setInt16(252, h.qformCode ?? 0, le);
  dv.setInt16(254, h.sformCode ?? 0, le);
  (h.quatern ?? [0, 0, 0]).forEach((q, i) => dv.setFloat32(256 + 4 * i, q, le));
  (h.qoffset ?? [0, 0, 0]).forEach((q, i) => dv.setFloat32(268 + 4 * i, q, le));
  (h.srow ?? new Array(12).fill(0)).forEach((s, i) => dv.setFloat32(280 + 4 * i, s, le));
  const magic = h.magic ?? 'n+1\0';
  for (let i = 0; i < 4; i++) dv.setUint8(344 + i, magic.charCodeAt(i));
  out.set(voxels, 352);
  return out;
}

function hand2(h: Hand, voxels: Uint8Array): Uint8Array {
  const le = h.le ?? true;
  const out = new Uint8Array(544 + voxels.length);
  const dv = new DataView(out.buffer);
  dv.setInt32(0, 540, le);
  const magic = 'n+2\0\r\n\x1a\n';
  for (let i = 0; i < 8; i++) dv.setUint8(4 + i, magic.charCodeAt(i));
  dv.setInt16(12, CODES[h.type][0], le);
  dv.setInt16(14, CODES[h.type][1] * 8, le);
  dv.setBigInt64(16, BigInt(h.dim.length), le);
  for (let i = 0; i < 7; i++) dv.setBigInt64(24 + 8 * i, BigInt(h.dim[i] ?? 1), le);
  (h.pixdim ?? [1, 1, 1, 1, 0, 0, 0, 0]).forEach((p, i) => dv.setFloat64(104 + 8 * i, p, le));
  dv.setBigInt64(168, 544n, le);
  dv.setFloat64(176, h.slope ?? 0, le);
  dv.setFloat64(184, h.inter ?? 0, le);
  dv.setInt32(344, h.qformCode ?? 0, le);
  dv.setInt32(348, h.sformCode ?? 0, le);
  (h.quatern ?? [0, 0, 0]).forEach((q, i) => dv.setFloat64(352 + 8 * i, q, le));
  (h.qoffset ?? [0, 0, 0]).forEach((q, i) => dv.setFloat64(376 + 8 * i, q, le));
  (h.srow ?? new Array(12).fill(0)).forEach((s, i) => dv.setFloat64(400 + 8 * i, s, le));
  dv.setInt32(500, 2, le); // xyzt_units: mm
  out.set(voxels, 544);
  return out;
}

const range = (n: number, f: (i: number) => number = (i) => i): number[] => Array.from({ length: n }, (_, i) => f(i));
const expectAffine = (got: readonly number[], want: readonly number[], tol = 1e-5): void => {
  expect(got.length).toBe(16);
  got.forEach((v, i) => expect(Math.abs(v - want[i]!), `affine[${i}] = ${v}, want ${want[i]}`).toBeLessThanOrEqual(tol));
};

// ------------------------------------------------------------------------------------------------

describe('reading hand-built files', () => {
  const dims = [3, 4, 2];
  const n = 24;

  it('NIfTI-1 int16 with scl_slope/scl_inter and an sform, plain and gzipped', () => {
    const raw = range(n, (i) => i * 7 - 50);
    const srow = [0, 0, 2.5, -10, -1.5, 0, 0, 20, 0, 3, 0, -7];
    const bytes = hand1({ dim: dims, type: 'int16', slope: 2, inter: -3, sformCode: 1, srow, pixdim: [1, 1.5, 3, 2.5, 0, 0, 0, 0] }, encode(raw, 'int16'));
    writeFileSync(file('h1.nii'), bytes);
    writeFileSync(file('h1.nii.gz'), gzipSync(bytes));
    for (const name of ['h1.nii', 'h1.nii.gz']) {
      const v = readNifti(file(name));
      expect(v.dims).toEqual(dims);
      expect(v.datatype).toBe('int16');
      expect(Array.from(v.data)).toEqual(raw.map((x) => x * 2 - 3));
      expectAffine(v.affine, [...srow, 0, 0, 0, 1]);
      expect(v.spacing.map((s) => +s.toFixed(5))).toEqual([1.5, 3, 2.5]);
      expect(v.header?.sformCode).toBe(1);
      expect(v.path).toBe(file(name));
    }
  });

  it('slope 0 means no scaling', () => {
    const raw = range(n, (i) => i);
    writeFileSync(file('noscale.nii'), hand1({ dim: dims, type: 'uint8', slope: 0, inter: 5 }, encode(raw, 'uint8')));
    expect(Array.from(readNifti(file('noscale.nii')).data)).toEqual(raw);
  });

  it('qform only: quaternion, pixdim and qfac (nifti1.h method 2)', () => {
    // 180° about z (a=0, b=0, c=0, d=1): R = diag(-1, -1, 1) -> LPS axes
    writeFileSync(
      file('q1.nii'),
      hand1({ dim: dims, type: 'float32', qformCode: 1, quatern: [0, 0, 1], qoffset: [10, 20, 30], pixdim: [1, 2, 3, 4, 0, 0, 0, 0] }, encode(range(n), 'float32')),
    );
    const v = readNifti(file('q1.nii'));
    expectAffine(v.affine, [-2, 0, 0, 10, 0, -3, 0, 20, 0, 0, 4, 30, 0, 0, 0, 1]);
    expect(axisCodes(v.affine)).toBe('LPS');
    // 180° about x (b=1) with qfac -1: the nifti1.h example, R = diag(1, -1, -1) * diag(1, 1, -1)
    writeFileSync(
      file('q2.nii'),
      hand1({ dim: dims, type: 'float32', qformCode: 2, quatern: [1, 0, 0], qoffset: [-1, 2, -3], pixdim: [-1, 2, 3, 4, 0, 0, 0, 0] }, encode(range(n), 'float32')),
    );
    expectAffine(readNifti(file('q2.nii')).affine, [2, 0, 0, -1, 0, -3, 0, 2, 0, 0, 4, -3, 0, 0, 0, 1]);
  });

  it('sform wins over qform; no transform falls back to pixdim', () => {
    const srow = [1, 0, 0, 5, 0, 1, 0, 6, 0, 0, 1, 7];
    writeFileSync(
      file('both.nii'),
      hand1({ dim: dims, type: 'float32', qformCode: 2, sformCode: 1, quatern: [0, 0, 1], srow, pixdim: [1, 1, 1, 1, 0, 0, 0, 0] }, encode(range(n), 'float32')),
    );
    expectAffine(readNifti(file('both.nii')).affine, [...srow, 0, 0, 0, 1]);
    writeFileSync(file('none.nii'), hand1({ dim: dims, type: 'float32', pixdim: [0, 0.5, 2, 3, 0, 0, 0, 0] }, encode(range(n), 'float32')));
    expectAffine(readNifti(file('none.nii')).affine, [0.5, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3, 0, 0, 0, 0, 1]);
  });

  it('big-endian NIfTI-1', () => {
    const raw = range(n, (i) => i * 0.25 - 2);
    writeFileSync(file('be.nii'), hand1({ dim: dims, type: 'float32', le: false, slope: 4, inter: 1 }, encode(raw, 'float32', false)));
    const v = readNifti(file('be.nii'));
    expect(v.header?.littleEndian).toBe(false);
    expect(Array.from(v.data)).toEqual(raw.map((x) => x * 4 + 1));
  });

  it('NIfTI-2: float64 with sform and a 4th dimension of 1, plain and gzipped', () => {
    const raw = range(n, (i) => Math.sqrt(i) + 1e-9);
    const srow = [0, -0.8, 0, 12.25, 0, 0, 1.2, -3.5, 0.9, 0, 0, 100.125];
    const bytes = hand2({ dim: [...dims, 1], type: 'float64', sformCode: 4, srow, slope: 1, inter: 0 }, encode(raw, 'float64'));
    writeFileSync(file('n2.nii'), bytes);
    writeFileSync(file('n2.nii.gz'), gzipSync(bytes));
    for (const name of ['n2.nii', 'n2.nii.gz']) {
      const v = readNifti(file(name));
      expect(v.header?.version).toBe(2);
      expect(v.dims).toEqual(dims);
      expect(v.datatype).toBe('float64');
      expect(Array.from(v.data)).toEqual(Array.from(Float32Array.from(raw)));
      expectAffine(v.affine, [...srow, 0, 0, 0, 1], 0);
      expect(axisCodes(v.affine)).toBe('SLA'); // columns: +z, -x, +y
    }
    // big-endian NIfTI-2
    writeFileSync(file('n2be.nii'), hand2({ dim: dims, type: 'int16', le: false, sformCode: 1, srow }, encode(range(n, (i) => i - 12), 'int16', false)));
    const be = readNifti(file('n2be.nii'));
    expect(Array.from(be.data)).toEqual(range(n, (i) => i - 12));
    expectAffine(be.affine, [...srow, 0, 0, 0, 1], 0);
    // NIfTI-2 with a scaled int32 label map
    writeFileSync(file('n2lab.nii'), hand2({ dim: dims, type: 'int32', slope: 1, inter: 1, sformCode: 1, srow }, encode(range(n, (i) => i % 5), 'int32')));
    expect(Array.from(readNiftiLabels(file('n2lab.nii')).data)).toEqual(range(n, (i) => (i % 5) + 1));
  });

  it('labels: float-stored integers are accepted, fractions rejected with the voxel named', () => {
    writeFileSync(file('flab.nii'), hand1({ dim: dims, type: 'float32' }, encode(range(n, (i) => i % 3), 'float32')));
    const l = readNiftiLabels(file('flab.nii'));
    expect(l.data).toBeInstanceOf(Int32Array);
    expect(Array.from(l.data)).toEqual(range(n, (i) => i % 3));
    writeFileSync(file('fraclab.nii'), hand1({ dim: dims, type: 'float32' }, encode(range(n, (i) => (i === 5 ? 1.5 : 1)), 'float32')));
    expect(() => readNiftiLabels(file('fraclab.nii'))).toThrow(/fraclab\.nii.*non-integer value 1\.5 at voxel \(2, 1, 0\)/);
  });
});

describe('writer', () => {
  const dims: [number, number, number] = [5, 4, 3];
  const n = 60;
  const orientations: Record<string, number[]> = {
    identity: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1],
    lps: [-0.9, 0, 0, 90.5, 0, -0.9, 0, 120.25, 0, 0, 2.5, -60, 0, 0, 0, 1],
    permuted: [0, 0, -3, 10, 1.5, 0, 0, -20, 0, -2, 0, 30, 0, 0, 0, 1], // axes A, I, L
    oblique: [Math.cos(0.3), -Math.sin(0.3), 0, 1, Math.sin(0.3), Math.cos(0.3), 0, 2, 0, 0, 1.2, 3, 0, 0, 0, 1],
  };
  const values: Record<NiftiDatatype, number[]> = {
    uint8: range(n, (i) => (i * 37) % 256),
    int8: range(n, (i) => ((i * 37) % 256) - 128),
    int16: range(n, (i) => i * 1013 - 30000),
    uint16: range(n, (i) => i * 1091),
    int32: range(n, (i) => i * 35791394 - 2147483647),
    float32: range(n, (i) => Math.fround(Math.sin(i) * 1e3)),
    float64: range(n, (i) => Math.fround(Math.cos(i) * 1e-3)),
  };

  for (const [type, vals] of Object.entries(values) as [NiftiDatatype, number[]][]) {
    it(`round-trips ${type} in every orientation, gzipped and plain`, () => {
      for (const [oname, affine] of Object.entries(orientations)) {
        for (const ext of ['.nii.gz', '.nii']) {
          const p = file(`w_${type}_${oname}${ext}`);
          const data = type === 'float32' || type === 'float64' ? Float32Array.from(vals) : Int32Array.from(vals);
          writeNifti(p, { data, dims, affine }, { datatype: type });
          const back = type.startsWith('float') ? readNifti(p) : readNiftiLabels(p);
          expect(back.datatype).toBe(type);
          expect(back.dims).toEqual(dims);
          expect(Array.from(back.data)).toEqual(vals);
          expectAffine(back.affine, affine, 1e-4);
          // the raw header, decoded by offset here, carries the geometry in both sform and qform
          const raw = ext === '.nii.gz' ? gunzipSync(readFileSync(p)) : readFileSync(p);
          const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
          expect(raw.length).toBe(352 + n * CODES[type][1]);
          expect(dv.getInt32(0, true)).toBe(348);
          expect(dv.getFloat32(108, true)).toBe(352);
          expect(String.fromCharCode(...raw.subarray(344, 348))).toBe('n+1\0');
          expect([dv.getInt16(70, true), dv.getInt16(72, true)]).toEqual([CODES[type][0], CODES[type][1] * 8]);
          expect(range(8, (i) => dv.getInt16(40 + 2 * i, true))).toEqual([3, 5, 4, 3, 1, 1, 1, 1]);
          expect([dv.getInt16(252, true), dv.getInt16(254, true)]).toEqual([2, 2]);
          expectAffine([...range(12, (i) => dv.getFloat32(280 + 4 * i, true)), 0, 0, 0, 1], affine, 1e-4);
          const pix = range(4, (i) => dv.getFloat32(76 + 4 * i, true));
          const q = qformToAffine({
            quatern: [dv.getFloat32(256, true), dv.getFloat32(260, true), dv.getFloat32(264, true)],
            qoffset: [dv.getFloat32(268, true), dv.getFloat32(272, true), dv.getFloat32(276, true)],
            pixdim: [pix[1]!, pix[2]!, pix[3]!],
            qfac: pix[0] === -1 ? -1 : 1,
          });
          expectAffine(q, affine, 1e-4);
          // voxels at offset 352, little-endian
          expect(Array.from(encode(vals, type))).toEqual(Array.from(raw.subarray(352)));
        }
      }
    });
  }

  it('keeps the input header geometry (qform-only, qfac -1) for a label map on the same grid', () => {
    const src = file('geom_src.nii');
    writeFileSync(
      src,
      hand1({ dim: dims, type: 'int16', qformCode: 1, quatern: [0.1, 0.7, 0.2], qoffset: [-3, 4.5, 7], pixdim: [-1, 0.7, 0.8, 2.2, 0, 0, 0, 0] }, encode(range(n), 'int16')),
    );
    const img = readNifti(src);
    const lab = file('geom_lab.nii.gz');
    writeNifti(lab, { ...img, data: Int32Array.from(range(n, (i) => i % 4)) }, { datatype: 'uint8' });
    const a = readFileSync(src);
    const b = gunzipSync(readFileSync(lab));
    // pixdim[0..3], qform_code, sform_code, quatern_b..qoffset_z, srow: byte-identical
    expect(Array.from(b.subarray(76, 92))).toEqual(Array.from(a.subarray(76, 92)));
    expect(Array.from(b.subarray(252, 328))).toEqual(Array.from(a.subarray(252, 328)));
    const l = readNiftiLabels(lab);
    expect(volumesMatch(img, l, 1e-6)).toBe(true);
    expect(l.datatype).toBe('uint8');
  });

  it('rebuilds the geometry from the affine when the header no longer describes the grid', () => {
    const img = readNifti(file('w_float32_lps.nii'));
    const moved = { ...img, affine: orientations.permuted! };
    writeNifti(file('moved.nii'), moved);
    expectAffine(readNifti(file('moved.nii')).affine, orientations.permuted!, 1e-4);
  });

  it('chooses the datatype: float32 for floats, the smallest integer type holding an Int32Array', () => {
    const affine = orientations.identity!;
    writeNifti(file('auto_f.nii'), { data: new Float32Array(n), dims, affine });
    writeNifti(file('auto_u8.nii'), { data: Int32Array.from(range(n, (i) => i)), dims, affine });
    writeNifti(file('auto_i16.nii'), { data: Int32Array.from(range(n, (i) => -i)), dims, affine });
    writeNifti(file('auto_i32.nii'), { data: Int32Array.from(range(n, (i) => i * 100000)), dims, affine });
    expect(['auto_f', 'auto_u8', 'auto_i16', 'auto_i32'].map((f) => readNifti(file(`${f}.nii`)).datatype)).toEqual([
      'float32',
      'uint8',
      'int16',
      'int32',
    ]);
  });

  it('rejects bad input with the path in the message, leaving no temp files', () => {
    const affine = orientations.identity!;
    const before = readdirSync(dir).length;
    expect(() => writeNifti(file('bad.nii'), { data: Float32Array.from(range(n, (i) => i + 0.5)), dims, affine }, { datatype: 'int16' })).toThrow(
      /bad\.nii: value 0\.5 at index 0 does not fit datatype int16/,
    );
    expect(() => writeNifti(file('bad.nii'), { data: Int32Array.from(range(n, (i) => i * 10)), dims, affine }, { datatype: 'uint8' })).toThrow(
      /value 260 at index 26 does not fit datatype uint8/,
    );
    expect(() => writeNifti(file('bad.img'), { data: new Float32Array(n), dims, affine })).toThrow(/bad\.img: file name must end in \.nii or \.nii\.gz/);
    expect(() => writeNifti(file('bad.nii'), { data: new Float32Array(n - 1), dims, affine })).toThrow(/data has 59 values, dims \[5, 4, 3\] need 60/);
    expect(() => writeNifti(join(dir, 'no', 'such', 'dir.nii'), { data: new Float32Array(n), dims, affine })).toThrow(/dir\.nii/);
    expect(() => writeNifti(file('bad.nii'), { data: new Float32Array(n), dims, affine: [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1] })).toThrow(/zero/);
    expect(readdirSync(dir).length).toBe(before);
  });
});

describe('canonical reorientation', () => {
  // voxel values name their own indices: v = 100 i + 10 j + k
  const dims: [number, number, number] = [4, 5, 6];
  const ident = new Float32Array(120);
  for (let k = 0; k < 6; k++) for (let j = 0; j < 5; j++) for (let i = 0; i < 4; i++) ident[i + 4 * (j + 5 * k)] = 100 * i + 10 * j + k;
  const vol = (affine: number[]): Volume => ({ data: ident, dims, spacing: [1, 1, 1], affine, header: null, datatype: 'float32', path: 'mem' });
  const world = (a: readonly number[], v: readonly number[]): number[] => [0, 1, 2].map((r) => a[r * 4]! * v[0]! + a[r * 4 + 1]! * v[1]! + a[r * 4 + 2]! * v[2]! + a[r * 4 + 3]!);

  function check(affine: number[], codes: string, canonDims: number[], expected: (a: number, b: number, c: number) => [number, number, number]): void {
    expect(axisCodes(affine)).toBe(codes);
    const { volume, info } = toCanonical(vol(affine));
    expect(volume.dims).toEqual(canonDims);
    expect(axisCodes(volume.affine)).toBe('RAS');
    expect(volume.header).toBeNull();
    for (let c = 0; c < canonDims[2]!; c++) {
      for (let b = 0; b < canonDims[1]!; b++) {
        for (let a = 0; a < canonDims[0]!; a++) {
          const [i, j, k] = expected(a, b, c);
          expect(volume.data[a + canonDims[0]! * (b + canonDims[1]! * c)]).toBe(100 * i + 10 * j + k);
          // the same world point before and after
          const w0 = world(affine, [i, j, k]);
          world(volume.affine, [a, b, c]).forEach((x, r) => expect(x).toBeCloseTo(w0[r]!, 9));
        }
      }
    }
    expect(Array.from(fromCanonical(volume.data, info))).toEqual(Array.from(ident));
    const labels = Int32Array.from(ident);
    const back = fromCanonical(toCanonical({ ...vol(affine), data: labels, datatype: 'int32' }).volume.data, info);
    expect(back).toBeInstanceOf(Int32Array);
    expect(Array.from(back)).toEqual(Array.from(labels));
  }

  it('identity stays as it is', () => {
    check([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], 'RAS', [4, 5, 6], (a, b, c) => [a, b, c]);
  });

  it('LPS flips the first two axes', () => {
    check([-1, 0, 0, 5, 0, -2, 0, 6, 0, 0, 3, 7, 0, 0, 0, 1], 'LPS', [4, 5, 6], (a, b, c) => [3 - a, 4 - b, c]);
  });

  it('permuted axes (voxel axes P, S, L) are permuted and flipped back', () => {
    // column 0 = -y (P), column 1 = +z (S), column 2 = -x (L)
    const affine = [0, 0, -1.5, 10, -2, 0, 0, 20, 0, 3, 0, 30, 0, 0, 0, 1];
    // canonical R <- voxel axis 2 reversed, A <- axis 0 reversed, S <- axis 1
    check(affine, 'PSL', [6, 4, 5], (a, b, c) => [3 - b, c, 5 - a]);
    const { volume } = toCanonical(vol(affine));
    expect(volume.spacing).toEqual([1, 1, 1]);
  });

  it('an oblique volume goes to its closest axes', () => {
    const t = 0.4; // 23° about z, then the first axis points mostly R, the second mostly A
    const affine = [-Math.cos(t), -Math.sin(t), 0, 0, -Math.sin(t), Math.cos(t), 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
    check(affine, 'LAS', [4, 5, 6], (a, b, c) => [3 - a, b, c]);
  });
});

describe('errors name the file and the problem', () => {
  const dims = [3, 4, 2];
  const good = hand1({ dim: dims, type: 'float32' }, encode(range(24), 'float32'));

  it('truncated data, truncated header, missing file', () => {
    writeFileSync(file('trunc.nii'), good.subarray(0, good.length - 5));
    expect(() => readNifti(file('trunc.nii'))).toThrow(/trunc\.nii: truncated data: .*3x4x2 float32 voxels \(96 bytes from offset 352\).* only 91 bytes/);
    writeFileSync(file('trunchdr.nii'), good.subarray(0, 200));
    expect(() => readNifti(file('trunchdr.nii'))).toThrow(/trunchdr\.nii: truncated header: 200 bytes/);
    expect(() => readNifti(file('missing.nii.gz'))).toThrow(/missing\.nii\.gz: cannot read file/);
  });

  it('corrupt and truncated gzip', () => {
    const gz = gzipSync(good);
    const bad = Uint8Array.from(gz);
    for (let i = 20; i < 40; i++) bad[i] ^= 0x5a;
    writeFileSync(file('corrupt.nii.gz'), bad);
    expect(() => readNifti(file('corrupt.nii.gz'))).toThrow(/corrupt\.nii\.gz: corrupt or truncated gzip data/);
    writeFileSync(file('cut.nii.gz'), gz.subarray(0, gz.length - 12));
    expect(() => readNifti(file('cut.nii.gz'))).toThrow(/cut\.nii\.gz: corrupt or truncated gzip data/);
  });

  it('bad magic, not NIfTI, hdr/img pair', () => {
    writeFileSync(file('magic.nii'), hand1({ dim: dims, type: 'float32', magic: 'n+3\0' }, encode(range(24), 'float32')));
    expect(() => readNifti(file('magic.nii'))).toThrow(/magic\.nii: bad magic "n\+3\\u0000" \(expected "n\+1\\0"\)/);
    writeFileSync(file('text.nii'), 'hello, this is not an image at all'.repeat(20));
    expect(() => readNifti(file('text.nii'))).toThrow(/text\.nii: not a NIfTI file: header size field is \d+/);
    writeFileSync(file('pair.nii'), hand1({ dim: dims, type: 'float32', magic: 'ni1\0' }, encode(range(24), 'float32')));
    expect(() => readNifti(file('pair.nii'))).toThrow(/pair\.nii: is the header of a \.hdr\/\.img pair/);
  });

  it('4-D where 3-D is expected, unsupported datatype', () => {
    writeFileSync(file('four.nii.gz'), gzipSync(hand1({ dim: [3, 4, 2, 3], type: 'float32' }, encode(range(72), 'float32'))));
    expect(() => readNifti(file('four.nii.gz'))).toThrow(/four\.nii\.gz: is 4-D with dims \[3, 4, 2, 3\]; expected a 3-D volume/);
    writeFileSync(file('cplx.nii'), hand1({ dim: dims, type: 'float64', datatypeCode: 32 }, encode(range(24), 'float64')));
    expect(() => readNifti(file('cplx.nii'))).toThrow(/cplx\.nii: unsupported datatype 32 \(complex64\)/);
  });

  it('an image/label pair on different grids', () => {
    writeFileSync(file('pair_img.nii'), good);
    writeFileSync(file('pair_lab_dims.nii'), hand1({ dim: [3, 4, 3], type: 'uint8' }, encode(range(36), 'uint8')));
    writeFileSync(file('pair_lab_aff.nii'), hand1({ dim: dims, type: 'uint8', pixdim: [1, 1, 1, 1.5, 0, 0, 0, 0] }, encode(range(24), 'uint8')));
    const img = readNifti(file('pair_img.nii'));
    expect(() => checkVolumesMatch(img, readNiftiLabels(file('pair_lab_dims.nii')))).toThrow(
      /pair_img\.nii and .*pair_lab_dims\.nii are not on the same voxel grid: dims differ: \[3, 4, 2\] vs \[3, 4, 3\]/,
    );
    expect(() => checkVolumesMatch(img, readNiftiLabels(file('pair_lab_aff.nii')))).toThrow(
      /pair_img\.nii and .*pair_lab_aff\.nii are not on the same voxel grid: affines differ at row 2, column 2: 1 vs 1\.5/,
    );
    expect(volumesMatch(img, readNifti(file('pair_img.nii')))).toBe(true);
  });
});

// ------------------------------------------------------------------------------------------------
// Cross-check with nibabel when Debian's python3-nibabel is installed.

const PY = '/usr/bin/python3';
const nibabelOk = spawnSync(PY, ['-c', 'import nibabel'], { encoding: 'utf8' }).status === 0;
if (!nibabelOk) console.log('nifti.test: skipping the nibabel cross-checks: /usr/bin/python3 cannot import nibabel (apt-get install python3-nibabel)');

function python(script: string): unknown {
  const r = spawnSync(PY, ['-c', script, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe.skipIf(!nibabelOk)('nibabel interoperability', () => {
  it('nibabel reads what we write: data, shape, sform, qform', () => {
    const dims: [number, number, number] = [5, 4, 3];
    const affines = [
      [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1],
      [-0.9, 0, 0, 90.5, 0, -0.9, 0, 120.25, 0, 0, 2.5, -60, 0, 0, 0, 1],
      [0, 0, -3, 10, 1.5, 0, 0, -20, 0, -2, 0, 30, 0, 0, 0, 1],
      [Math.cos(0.3), -Math.sin(0.3), 0, 1, Math.sin(0.3), Math.cos(0.3), 0, 2, 0, 0, 1.2, 3, 0, 0, 0, 1],
    ];
    const img = Float32Array.from(range(60, (i) => Math.sin(i) * 100));
    const lab = Int32Array.from(range(60, (i) => i % 7));
    affines.forEach((affine, t) => {
      writeNifti(file(`nb_img_${t}.nii.gz`), { data: img, dims, affine });
      writeNifti(file(`nb_lab_${t}.nii`), { data: lab, dims, affine }, { datatype: 'int16' });
    });
    const out = python(`
import sys, json, nibabel as nib, numpy as np
d = sys.argv[1]
res = []
for t in range(4):
    for name in (f'nb_img_{t}.nii.gz', f'nb_lab_{t}.nii'):
        im = nib.load(f'{d}/{name}')
        h = im.header
        res.append(dict(shape=list(im.shape), dtype=str(im.get_data_dtype()), data=np.asarray(im.get_fdata()).ravel(order='F').tolist(),
            best=h.get_best_affine().ravel().tolist(), sform=h.get_sform().ravel().tolist(), qform=h.get_qform().ravel().tolist(),
            codes=[int(h['qform_code']), int(h['sform_code'])]))
print(json.dumps(res))
`) as { shape: number[]; dtype: string; data: number[]; best: number[]; sform: number[]; qform: number[]; codes: number[] }[];
    out.forEach((r, idx) => {
      const t = Math.floor(idx / 2);
      const isImg = idx % 2 === 0;
      expect(r.shape).toEqual(dims);
      expect(r.dtype).toBe(isImg ? 'float32' : 'int16');
      expect(r.data).toEqual(Array.from(isImg ? img : lab));
      expect(r.codes).toEqual([2, 2]);
      for (const m of [r.best, r.sform, r.qform]) expectAffine(m, affines[t]!, 1e-4);
    });
  });

  it('we read what nibabel writes: scaling, NIfTI-2, qform-only, non-RAS and its canonical form', () => {
    const out = python(`
import sys, json, nibabel as nib, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(0)
res = {}
def save(name, im):
    nib.save(im, f'{d}/{name}')
    back = nib.load(f'{d}/{name}')
    res[name] = dict(data=np.asarray(back.get_fdata()).ravel(order='F').tolist(), affine=back.affine.ravel().tolist(),
                     shape=list(back.shape), dtype=str(back.get_data_dtype()),
                     codes=[int(back.header['qform_code']), int(back.header['sform_code'])])
ras = np.diag([1.0, 1.0, 1.0, 1.0]); ras[:3, 3] = [-2, -3, -4]
save('nb_ras.nii.gz', nib.Nifti1Image(rng.normal(size=(5, 6, 7)).astype(np.float32), ras))
# float data stored as int16: nibabel picks scl_slope/scl_inter
lps = np.array([[0, 0, -2.0, 30], [-1.5, 0, 0, 40], [0, 1.2, 0, -50], [0, 0, 0, 1]])  # voxel axes P, S, L
im = nib.Nifti1Image((rng.normal(size=(5, 6, 7)) * 300 + 1000).astype(np.float64), lps)
im.set_data_dtype(np.int16)
save('nb_scaled.nii', im)
save('nb_scaled_canon.nii.gz', nib.as_closest_canonical(nib.load(f'{d}/nb_scaled.nii')))
save('nb_n2.nii.gz', nib.Nifti2Image(rng.integers(0, 9, size=(4, 3, 5)).astype(np.uint16), lps))
q = nib.Nifti1Image(np.arange(60, dtype=np.uint8).reshape(3, 4, 5), None)
q.header.set_qform(lps, code=1); q.header.set_sform(None, code=0)
save('nb_qonly.nii', q)
print(json.dumps(res))
`) as Record<string, { data: number[]; affine: number[]; shape: number[]; dtype: string; codes: number[] }>;
    for (const [name, r] of Object.entries(out)) {
      const v = readNifti(file(name));
      expect(v.dims, name).toEqual(r.shape);
      expect(v.datatype, name).toBe(r.dtype);
      expectAffine(v.affine, r.affine, 1e-4);
      const err = Math.max(...Array.from(v.data, (x, i) => Math.abs(x - r.data[i]!) / Math.max(1, Math.abs(r.data[i]!))));
      expect(err, name).toBeLessThan(1e-6);
    }
    expect(out['nb_qonly.nii']!.codes).toEqual([1, 0]);
    expect(readNifti(file('nb_scaled.nii')).header!.sclSlope).not.toBe(1);
    // our canonical form of the P,S,L file equals nibabel's as_closest_canonical
    const { volume } = toCanonical(readNifti(file('nb_scaled.nii')));
    const canon = out['nb_scaled_canon.nii.gz']!;
    expect(volume.dims).toEqual(canon.shape);
    expectAffine(volume.affine, canon.affine, 1e-4);
    expect(Array.from(volume.data)).toEqual(Array.from(readNifti(file('nb_scaled_canon.nii.gz')).data));
  });
});
