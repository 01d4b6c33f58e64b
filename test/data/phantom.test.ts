import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { readNifti, readNiftiLabels } from '../../src/data/nifti.js';
import { axisCodes } from '../../src/data/orient.js';
import {
  generatePhantomSet,
  generatePhantomSubject,
  PHANTOM_CLASSES,
  phantomAffine,
  writePhantomSet,
  type PhantomSubject,
} from '../../src/data/phantom.js';
import { checkVolumesMatch } from '../../src/data/volume.js';

const dir = mkdtempSync(join(tmpdir(), 'scse-phantom-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SIZE = 48;
const set = generatePhantomSet({ subjects: 6, size: SIZE, seed: 2024 });
const cls = (name: string): number => set.classes.indexOf(name);

function counts(s: PhantomSubject): number[] {
  const c = new Array<number>(s.classes.length).fill(0);
  for (const l of s.labels) c[l]!++;
  return c;
}

// Byte comparison: vitest's deep equality is slow on 100k-element typed arrays.
const sameBits = (a: Float32Array | Int32Array, b: Float32Array | Int32Array): boolean =>
  a.constructor === b.constructor && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** Voxels of class a with a face neighbour of class b. */
function contacts(s: PhantomSubject, a: number, b: number): number {
  const [nx, ny, nz] = s.dims;
  let n = 0;
  for (let k = 1; k < nz - 1; k++) {
    for (let j = 1; j < ny - 1; j++) {
      for (let i = 1; i < nx - 1; i++) {
        const o = i + nx * (j + ny * k);
        if (s.labels[o] !== a) continue;
        for (const d of [1, -1, nx, -nx, nx * ny, -nx * ny]) {
          if (s.labels[o + d] === b) {
            n++;
            break;
          }
        }
      }
    }
  }
  return n;
}

function values(s: PhantomSubject, c: number): Float64Array {
  const out: number[] = [];
  s.labels.forEach((l, i) => {
    if (l === c) out.push(s.image[i]!);
  });
  return Float64Array.from(out).sort();
}
const quantile = (sorted: Float64Array, q: number): number => sorted[Math.floor(q * (sorted.length - 1))]!;

describe('phantom generator', () => {
  it('is deterministic: same seed bit-identical, different seed different', () => {
    const a = generatePhantomSubject(77, { size: SIZE });
    const b = generatePhantomSubject(77, { size: SIZE });
    const c = generatePhantomSubject(78, { size: SIZE });
    expect(sameBits(a.image, b.image)).toBe(true);
    expect(sameBits(a.labels, b.labels)).toBe(true);
    expect(sameBits(a.image, c.image)).toBe(false);
    expect(sameBits(a.labels, c.labels)).toBe(false);
    const again = generatePhantomSet({ subjects: 6, size: SIZE, seed: 2024 });
    again.subjects.forEach((s, i) => {
      expect(sameBits(s.image, set.subjects[i]!.image)).toBe(true);
      expect(sameBits(s.labels, set.subjects[i]!.labels)).toBe(true);
    });
    const other = generatePhantomSet({ subjects: 1, size: SIZE, seed: 2025 });
    expect(sameBits(other.subjects[0]!.image, set.subjects[0]!.image)).toBe(false);
  });

  it('has ids, shapes and a train/val/test split by subject', () => {
    expect(set.classes).toEqual([...PHANTOM_CLASSES]);
    expect(set.subjects.map((s) => s.id)).toEqual(['phantom_000', 'phantom_001', 'phantom_002', 'phantom_003', 'phantom_004', 'phantom_005']);
    expect(set.subjects.map((s) => s.split)).toEqual(['train', 'train', 'train', 'train', 'val', 'test']);
    for (const s of set.subjects) {
      expect(s.dims).toEqual([SIZE, SIZE, SIZE]);
      expect(s.image.length).toBe(SIZE ** 3);
      expect(s.labels.length).toBe(SIZE ** 3);
      expect(s.image.every(Number.isFinite)).toBe(true);
      expect(axisCodes(s.affine)).toBe('RAS');
    }
    const anis = generatePhantomSubject(3, { size: [40, 48, 32] });
    expect(anis.dims).toEqual([40, 48, 32]);
    expect(new Set(anis.labels).size).toBe(PHANTOM_CLASSES.length);
  });

  it('has every class in every subject, with strong class imbalance', () => {
    for (const s of set.subjects) {
      const c = counts(s);
      c.forEach((n, k) => expect(n, `${s.id} ${s.classes[k]}`).toBeGreaterThan(0));
      const fg = c.slice(1);
      // the smallest structure is a tiny fraction of the largest
      expect(Math.min(...fg) / Math.max(...fg), s.id).toBeLessThan(0.01);
    }
  });

  it('has roughly mirror-symmetric left/right pairs', () => {
    for (const s of set.subjects) {
      const c = counts(s);
      for (const base of ['ventricle', 'thalamus']) {
        const l = c[cls(`${base}_left`)]!;
        const r = c[cls(`${base}_right`)]!;
        expect(Math.abs(l - r) / Math.max(l, r), `${s.id} ${base}: ${l} vs ${r}`).toBeLessThan(0.25);
      }
    }
  });

  it('has a skull shell around the brain, a nested nucleus and touching structures', () => {
    for (const s of set.subjects) {
      expect(contacts(s, cls('brain'), cls('background')), s.id).toBe(0);
      expect(contacts(s, cls('skull'), cls('background')), s.id).toBeGreaterThan(0);
      // nested: the nucleus only touches the cerebellum around it
      for (const other of set.classes) {
        if (other !== 'cerebellum' && other !== 'cerebellar_nucleus') expect(contacts(s, cls('cerebellar_nucleus'), cls(other)), `${s.id} ${other}`).toBe(0);
      }
      expect(contacts(s, cls('cerebellum'), cls('brainstem')), s.id).toBeGreaterThan(0);
      expect(contacts(s, cls('thalamus_left'), cls('thalamus_right')), s.id).toBeGreaterThan(0);
    }
  });

  it('has overlapping intensities between some classes and separable ones elsewhere', () => {
    const s = set.subjects[0]!;
    const brain = values(s, cls('brain'));
    const inRange = (c: string): number => {
      const v = values(s, cls(c));
      const lo = quantile(brain, 0.05);
      const hi = quantile(brain, 0.95);
      return v.filter((x) => x >= lo && x <= hi).length / v.length;
    };
    expect(inRange('cerebellum')).toBeGreaterThan(0.3);
    expect(inRange('thalamus_left')).toBeGreaterThan(0.2);
    expect(inRange('ventricle_left')).toBeLessThan(0.01);
    // background is pure noise around 0 (sd 0.05)
    const bg = values(s, 0);
    expect(Math.abs(bg.reduce((a, b) => a + b, 0) / bg.length)).toBeLessThan(0.005);
  });

  it('merges unchosen structures into their parents', () => {
    const full = generatePhantomSubject(9, { size: 32 });
    const five = generatePhantomSubject(9, { size: 32, classes: 5 });
    const named = generatePhantomSubject(9, { size: 32, classes: ['background', 'brain', 'cerebellar_nucleus'] });
    expect(five.classes).toEqual(PHANTOM_CLASSES.slice(0, 5));
    expect(sameBits(full.image, five.image)).toBe(true);
    const toFive = [0, 1, 2, 3, 4, 2, 2, 2, 2, 2];
    // skull -> background, everything inside the brain except the nucleus -> brain
    const toNamed = [0, 0, 1, 1, 1, 1, 1, 1, 1, 2];
    full.labels.forEach((l, i) => {
      if (five.labels[i] !== toFive[l]) throw new Error(`classes=5: voxel ${i} label ${five.labels[i]}, want ${toFive[l]}`);
      if (named.labels[i] !== toNamed[l]) throw new Error(`named classes: voxel ${i} label ${named.labels[i]}, want ${toNamed[l]}`);
    });
  });

  it('rejects bad options', () => {
    expect(() => generatePhantomSubject(1, { size: 10 })).toThrow(/'size' must be/);
    expect(() => generatePhantomSubject(1, { classes: 1 })).toThrow(/'classes' must be an integer in 2\.\.10/);
    expect(() => generatePhantomSubject(1, { classes: ['background', 'liver'] })).toThrow(/unknown classes liver/);
    expect(() => generatePhantomSubject(-1)).toThrow(/'seed'/);
    expect(() => generatePhantomSet({ subjects: 2, seed: 1, split: { val: 0.5, test: 0.5 } })).toThrow(/no training subjects/);
  });

  it('writes a set that reads back identically', () => {
    const small = { ...set, subjects: set.subjects.slice(3) };
    const manifest = writePhantomSet(dir, small, { compressionLevel: 1 });
    const onDisk = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    expect(onDisk).toEqual(manifest);
    expect(manifest.subjects).toEqual([
      { id: 'phantom_003', image: 'phantom_003_image.nii.gz', label: 'phantom_003_label.nii.gz', split: 'train' },
      { id: 'phantom_004', image: 'phantom_004_image.nii.gz', label: 'phantom_004_label.nii.gz', split: 'val' },
      { id: 'phantom_005', image: 'phantom_005_image.nii.gz', label: 'phantom_005_label.nii.gz', split: 'test' },
    ]);
    manifest.subjects.forEach((m, i) => {
      const s = small.subjects[i]!;
      const img = readNifti(join(dir, m.image));
      const lab = readNiftiLabels(join(dir, m.label));
      expect(sameBits(img.data, s.image)).toBe(true);
      expect(sameBits(lab.data, s.labels)).toBe(true);
      expect(lab.datatype).toBe('uint8');
      expect(lab.header!.description).toBe(`scse phantom ${s.id} labels`);
      expect(img.affine).toEqual(phantomAffine(s.dims));
      expect(img.spacing).toEqual([1, 1, 1]);
      checkVolumesMatch(img, lab);
    });
  });
});
