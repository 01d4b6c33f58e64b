import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { readNiftiLabels, writeNifti } from '../../src/data/nifti.js';
import { restack, sliceSubjects, toOriginalGrid, writePrediction, type AxisName } from '../../src/data/slices.js';
import { loadManifest, type Subject } from '../../src/data/subjects.js';
import type { Vec3 } from '../../src/data/volume.js';
import { Rng } from '../../src/random.js';

const dir = mkdtempSync(join(tmpdir(), 'scse-slices-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RAS = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];

/** value(x, y, z) = 1 + x + 100 y + 10000 z: every voxel says where it is. */
const code = (x: number, y: number, z: number): number => 1 + x + 100 * y + 10000 * z;

function codedSubject(dims: Vec3, id = 's', labelsOf?: (x: number, y: number, z: number) => number): Subject {
  const [nx, ny, nz] = dims;
  const image = new Float32Array(nx * ny * nz);
  const labels = new Int32Array(nx * ny * nz);
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        image[x + nx * (y + ny * z)] = code(x, y, z);
        labels[x + nx * (y + ny * z)] = labelsOf ? labelsOf(x, y, z) : code(x, y, z);
      }
    }
  }
  return { id, image, labels, dims, affine: RAS, split: 'train' };
}

/** The expected (x, y, z) of slice pixel (r, c) at position p, written out per axis. */
function voxelOf(axis: AxisName, p: number, r: number, c: number): [number, number, number] {
  if (axis === 'axial') return [c, r, p]; // rows y, cols x
  if (axis === 'coronal') return [c, p, r]; // rows z, cols x
  return [p, c, r]; // sagittal: rows z, cols y
}

const AXES: AxisName[] = ['sagittal', 'coronal', 'axial'];

describe('sliceSubjects', () => {
  it('cuts each axis with the documented layout, centre-padded to a multiple of 16', () => {
    const dims: Vec3 = [5, 7, 9];
    const s = codedSubject(dims);
    for (const axis of AXES) {
      const set = sliceSubjects([s], { axis, normalize: 'none' });
      const depth = { sagittal: 5, coronal: 7, axial: 9 }[axis];
      const [h, w] = { sagittal: [9, 7], coronal: [9, 5], axial: [7, 5] }[axis] as [number, number];
      expect([set.H, set.W, set.count]).toEqual([16, 16, depth]);
      const g = set.geometry[0]!;
      expect(g.sliceShape).toEqual([h, w]);
      const oy = Math.floor((16 - h) / 2);
      const ox = Math.floor((16 - w) / 2);
      expect(g.offset).toEqual([oy, ox]);
      expect(Array.from(set.position)).toEqual(Array.from({ length: depth }, (_, i) => i));
      expect(Array.from(set.subject)).toEqual(new Array(depth).fill(0));
      let bad = 0;
      for (let p = 0; p < depth; p++) {
        for (let R = 0; R < 16; R++) {
          for (let C = 0; C < 16; C++) {
            const r = R - oy;
            const c = C - ox;
            const inside = r >= 0 && r < h && c >= 0 && c < w;
            const want = inside ? code(...voxelOf(axis, p, r, c)) : 0;
            const at = p * 256 + R * 16 + C;
            if (set.images[at] !== want || set.labels[at] !== want) bad++;
          }
        }
      }
      expect(bad, axis).toBe(0);
    }
  });

  it('crops to a smaller fixed size around the centre and pads to a larger one', () => {
    const s = codedSubject([5, 7, 9]);
    const set = sliceSubjects([s], { axis: 'axial', size: [4, 3], normalize: 'none' });
    const g = set.geometry[0]!;
    // h = 7 -> 4 rows: floor(-3 / 2) = -2 (source rows 2..5); w = 5 -> 3 cols: -1 (cols 1..3)
    expect(g.offset).toEqual([-2, -1]);
    for (let R = 0; R < 4; R++) for (let C = 0; C < 3; C++) expect(set.images[2 * 12 + R * 3 + C]).toBe(code(C + 1, R + 2, 2));
    const big = sliceSubjects([s], { axis: 'axial', size: [10, 20], normalize: 'none' });
    expect(big.geometry[0]!.offset).toEqual([1, 7]);
    expect(big.images[3 * 200 + 1 * 20 + 7]).toBe(code(0, 0, 3));
    // multiple: 1 keeps the slice size
    expect([sliceSubjects([s], { axis: 'sagittal', multiple: 1 }).H, sliceSubjects([s], { axis: 'sagittal', multiple: 1 }).W]).toEqual([9, 7]);
  });

  it('restack(slice labels) gives back the volume on every axis, odd sizes, several subjects', () => {
    const subjects = [codedSubject([5, 7, 9], 'a'), codedSubject([11, 3, 6], 'b'), codedSubject([17, 19, 1], 'c')];
    for (const axis of AXES) {
      for (const opts of [{}, { multiple: 8 }, { size: [40, 33] as [number, number] }]) {
        const set = sliceSubjects(subjects, { axis, ...opts });
        subjects.forEach((s, i) => {
          const g = set.geometry[i]!;
          const HW = set.H * set.W;
          const mine = set.labels.subarray(g.start * HW, (g.start + g.count) * HW);
          expect(Array.from(set.subject.subarray(g.start, g.start + g.count))).toEqual(new Array(g.count).fill(i));
          expect(restack(mine, set, i)).toEqual(s.labels);
          // float data restacks too
          const back = restack(set.images.subarray(g.start * HW, (g.start + g.count) * HW), set, i);
          expect(back).toBeInstanceOf(Float32Array);
        });
      }
    }
  });

  it('restack after cropping keeps the covered voxels and leaves the rest 0', () => {
    const s = codedSubject([9, 10, 11]);
    const set = sliceSubjects([s], { axis: 'coronal', size: [5, 6] });
    const vol = restack(set.labels, set, 0);
    const [oy, ox] = set.geometry[0]!.offset; // rows z, cols x
    expect([oy, ox]).toEqual([-3, -2]);
    for (let z = 0; z < 11; z++) {
      for (let y = 0; y < 10; y++) {
        for (let x = 0; x < 9; x++) {
          const covered = z + oy >= 0 && z + oy < 5 && x + ox >= 0 && x + ox < 6;
          expect(vol[x + 9 * (y + 10 * z)]).toBe(covered ? code(x, y, z) : 0);
        }
      }
    }
    expect(() => restack(new Int32Array(7), set, 0)).toThrow(/restack: subject 0 \(s\) has 10 slices of 5x6 = 300 values, pred has 7/);
    expect(() => restack(set.labels, set, 1)).toThrow(/subjectIndex 1 is outside/);
  });

  it('dropEmpty leaves out all-background slices, and restack leaves them 0', () => {
    // labels only in z = 2 and z = 5
    const s = codedSubject([4, 5, 8], 's', (x, y, z) => ((z === 2 || z === 5) && x === 1 ? 3 : 0));
    const set = sliceSubjects([s], { axis: 'axial', dropEmpty: true });
    expect(set.count).toBe(2);
    expect(Array.from(set.position)).toEqual([2, 5]);
    expect(restack(set.labels, set, 0)).toEqual(s.labels);
    const img = restack(set.images, set, 0);
    expect(img[4 * 5 * 3]).toBe(0); // z = 3 dropped
    expect(img[4 * 5 * 2 + 1]).toBeGreaterThan(0);
    // along x only x = 1 carries labels
    expect(Array.from(sliceSubjects([s], { axis: 'sagittal', dropEmpty: true }).position)).toEqual([1]);
    expect(sliceSubjects([s], { axis: 'axial' }).count).toBe(8);
  });

  it('min-max normalizes each volume on its own to [0, 1]', () => {
    const r = new Rng(5);
    const mk = (id: string, lo: number, hi: number): Subject => {
      const n = 6 * 5 * 4;
      const image = Float32Array.from({ length: n }, () => lo + (hi - lo) * r.float());
      image[7] = lo;
      image[100] = hi;
      return { id, image, labels: new Int32Array(n), dims: [6, 5, 4], affine: RAS, split: 'train' };
    };
    const subjects = [mk('a', -100, 300), mk('b', 2, 3)];
    const set = sliceSubjects(subjects, { axis: 'coronal' });
    subjects.forEach((s, i) => {
      const g = set.geometry[i]!;
      expect(g.range).toEqual([s.image[7], s.image[100]]);
      const back = restack(set.images.subarray(g.start * set.H * set.W, (g.start + g.count) * set.H * set.W), set, i);
      const [lo, hi] = [s.image[7]!, s.image[100]!];
      let worst = 0;
      for (let k = 0; k < back.length; k++) worst = Math.max(worst, Math.abs(back[k]! - (s.image[k]! - lo) / (hi - lo)));
      expect(worst).toBeLessThan(1e-6);
      expect(Math.min(...back)).toBe(0);
      expect(Math.max(...back)).toBeCloseTo(1, 6);
    });
    // a constant volume becomes zeros, not NaN
    const flat = { ...mk('c', 0, 1), image: new Float32Array(120).fill(7) };
    expect(sliceSubjects([flat]).images.every((v) => v === 0)).toBe(true);
  });

  it('rejects bad input with the reason', () => {
    const s = codedSubject([4, 4, 4]);
    expect(() => sliceSubjects([])).toThrow(/no subjects/);
    expect(() => sliceSubjects([s], { axis: 'oblique' as never })).toThrow(/axis must be/);
    expect(() => sliceSubjects([{ ...s, labels: new Int32Array(3) }])).toThrow(/subject 0 \(s\): dims \[4, 4, 4\] need 64 voxels/);
    expect(() => sliceSubjects([s], { size: [0, 4] })).toThrow(/'size' must be two positive integers/);
    const nan = { ...s, image: s.image.map((v, i) => (i === 3 ? NaN : v)) };
    expect(() => sliceSubjects([nan])).toThrow(/NaN at voxel 3/);
    expect(() => sliceSubjects([{ ...s, image: s.image.map((v, i) => (i === 3 ? Infinity : v)) }])).toThrow(/non-finite/);
  });
});

describe('back to the file grid', () => {
  it('a prediction restacked and written with writePrediction lines up with an oblique-axis input file', () => {
    // the file's voxel axes are (A, S, L): canonical axis 0 is file axis 2 reversed
    const dims: Vec3 = [6, 5, 7];
    const affine = [0, 0, -1, 10, 1, 0, 0, -3, 0, 1, 0, 2, 0, 0, 0, 1];
    const n = 6 * 5 * 7;
    const labels = Int32Array.from({ length: n }, (_, i) => (i * 7) % 5);
    const image = Float32Array.from({ length: n }, (_, i) => i);
    writeNifti(join(dir, 'x_image.nii.gz'), { data: image, dims, affine });
    writeNifti(join(dir, 'x_label.nii.gz'), { data: labels, dims, affine }, { datatype: 'uint8' });
    writeFileSync(join(dir, 'm.csv'), 'image,label,split\nx_image.nii.gz,x_label.nii.gz,test\n');
    const s = loadManifest(join(dir, 'm.csv'))[0]!;
    expect(s.dims).toEqual([7, 6, 5]);
    for (const axis of AXES) {
      const set = sliceSubjects([s], { axis });
      const vol = restack(set.labels, set, 0);
      expect(toOriginalGrid(vol, s)).toEqual(labels);
      writePrediction(join(dir, `pred_${axis}.nii.gz`), vol, s);
      const back = readNiftiLabels(join(dir, `pred_${axis}.nii.gz`));
      expect(back.dims).toEqual(dims);
      expect(back.affine.map((v) => Math.round(v * 1e4) / 1e4)).toEqual(affine);
      expect(back.data).toEqual(labels);
    }
  });
});
