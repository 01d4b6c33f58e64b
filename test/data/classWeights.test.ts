import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { computeClassWeights, weightCacheKey, withClassWeights } from '../../src/data/classWeights.js';
import { sliceSubjects } from '../../src/data/slices.js';
import { splitSubjectBySlices, type Subject } from '../../src/data/subjects.js';
import type { Vec3 } from '../../src/data/volume.js';
import { Rng } from '../../src/random.js';
import { boundaryMask, medianFrequencyWeights } from '../../src/train/weights.js';

const dir = mkdtempSync(join(tmpdir(), 'scse-cw-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RAS = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];

/** Random ellipsoid blobs of classes 1..3 on background. */
function blobSubject(id: string, dims: Vec3, seed: number, split: Subject['split']): Subject {
  const r = new Rng(seed);
  const [nx, ny, nz] = dims;
  const labels = new Int32Array(nx * ny * nz);
  for (let b = 0; b < 5; b++) {
    const c = [r.float() * nx, r.float() * ny, r.float() * nz];
    const rad = [1 + r.float() * nx * 0.3, 1 + r.float() * ny * 0.3, 1 + r.float() * nz * 0.3];
    const cls = 1 + (b % 3);
    for (let z = 0; z < nz; z++) {
      for (let y = 0; y < ny; y++) {
        for (let x = 0; x < nx; x++) {
          if (((x - c[0]!) / rad[0]!) ** 2 + ((y - c[1]!) / rad[1]!) ** 2 + ((z - c[2]!) / rad[2]!) ** 2 <= 1) labels[x + nx * (y + ny * z)] = cls;
        }
      }
    }
  }
  const image = Float32Array.from(labels, (l) => l + r.float());
  return { id, image, labels, dims, affine: RAS, split };
}

const subjects = [blobSubject('a', [13, 11, 9], 1, 'train'), blobSubject('b', [10, 12, 7], 2, 'train'), blobSubject('c', [9, 9, 9], 3, 'val')];

/** weights of slice k, pixel (R, C), computed from the definition. */
function expectedWeights(set: ReturnType<typeof sliceSubjects>, cw: ArrayLike<number>, omega0: number): Float32Array {
  const out = new Float32Array(set.count * set.H * set.W);
  const masks = set.subjects.map((s) => boundaryMask(s.labels, s.dims));
  for (let k = 0; k < set.count; k++) {
    const si = set.subject[k]!;
    const s = set.subjects[si]!;
    const g = set.geometry[si]!;
    const p = set.position[k]!;
    for (let R = 0; R < set.H; R++) {
      for (let C = 0; C < set.W; C++) {
        const r = R - g.offset[0];
        const c = C - g.offset[1];
        if (r < 0 || c < 0 || r >= g.sliceShape[0] || c >= g.sliceShape[1]) continue;
        // coronal: rows z, cols x, position y
        const v = c + s.dims[0] * (p + s.dims[1] * r);
        out[(k * set.H + R) * set.W + C] = cw[s.labels[v]!]! + omega0 * masks[si]![v]!;
      }
    }
  }
  return out;
}

const bytesEqual = (a: ArrayBufferView, b: ArrayBufferView): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('class weights of a slice set', () => {
  const set = sliceSubjects(subjects, { axis: 'coronal', multiple: 8 });

  it('median frequency over the training volumes + the 3-D boundary term, sliced like the images', () => {
    const r = computeClassWeights(set);
    expect(r.numClasses).toBe(4);
    const mf = medianFrequencyWeights([subjects[0]!.labels, subjects[1]!.labels], 4).weights;
    expect(Array.from(r.classWeights)).toEqual(Array.from(mf));
    expect(bytesEqual(r.weights, expectedWeights(set, mf, 2))).toBe(true);
    // padding carries weight 0; the set itself is unchanged, withClassWeights fills `weights`
    expect(r.weights[0]).toBe(0);
    expect(set.weights).toBeNull();
    const w = withClassWeights(set, { omega0: 0, medianFrequency: false });
    expect(w.images).toBe(set.images);
    expect(Array.from(w.classWeights)).toEqual([1, 1, 1, 1]);
    expect(bytesEqual(w.weights!, expectedWeights(set, [1, 1, 1, 1], 0))).toBe(true);
  });

  it("'slices' balances over the training slices; given class weights are used as they are", () => {
    const slices: Int32Array[] = [];
    for (const s of subjects.slice(0, 2)) {
      const [nx, ny, nz] = s.dims;
      for (let y = 0; y < ny; y++) slices.push(Int32Array.from({ length: nx * nz }, (_, i) => s.labels[(i % nx) + nx * (y + ny * Math.floor(i / nx))]!));
    }
    const r = computeClassWeights(set, { frequencyOver: 'slices', omega0: 3 });
    const mf = medianFrequencyWeights(slices, 4).weights;
    expect(Array.from(r.classWeights)).toEqual(Array.from(mf));
    expect(bytesEqual(r.weights, expectedWeights(set, mf, 3))).toBe(true);
    const g = computeClassWeights(set, { classWeights: [0.5, 1, 2, 4], boundary: 'neighbors' });
    expect(Array.from(g.classWeights)).toEqual([0.5, 1, 2, 4]);
    expect(() => computeClassWeights(set, { classWeights: [1, 2] })).toThrow(/'classWeights' has 2 entries, numClasses is 4/);
    expect(() => computeClassWeights(set, { numClasses: 3 })).toThrow(/outside the class range \[0, 3\)/);
  });

  it('a slice part counts only its own slices for the class frequencies', () => {
    const parts = splitSubjectBySlices(subjects[0]!, { axis: 'coronal', block: 2, margin: 0, holdOutEvery: 3 });
    const trainSet = sliceSubjects([parts[0]!], { axis: 'coronal' });
    const m = parts[0]!.part!.mask;
    const own = subjects[0]!.labels.filter((_, i) => m[Math.floor(i / 13) % 11] === 1);
    const r = computeClassWeights(trainSet, { numClasses: 4 });
    expect(Array.from(r.classWeights)).toEqual(Array.from(medianFrequencyWeights([own], 4).weights));
    expect(r.weights.length).toBe(trainSet.count * trainSet.H * trainSet.W);
  });

  it('caches to <cacheDir>/weights-<hash>.bin: a hit returns identical bytes; labels and options change the key', () => {
    const cacheDir = join(dir, 'cache');
    const first = computeClassWeights(set, { cacheDir });
    expect(first.cacheHit).toBe(false);
    expect(first.cachePath).toMatch(/weights-[0-9a-f]{64}\.bin$/);
    expect(existsSync(first.cachePath!)).toBe(true);
    const second = computeClassWeights(set, { cacheDir });
    expect(second.cacheHit).toBe(true);
    expect(second.cachePath).toBe(first.cachePath);
    expect(bytesEqual(second.weights, first.weights)).toBe(true);
    expect(bytesEqual(second.classWeights, first.classWeights)).toBe(true);
    // what goes into the key
    const key = weightCacheKey(set);
    expect(weightCacheKey(set, { omega0: 2, boundary: 'gradient', medianFrequency: true })).toBe(key); // defaults spelled out
    expect(weightCacheKey(set, { omega0: 1 })).not.toBe(key);
    expect(weightCacheKey(set, { boundary: 'neighbors' })).not.toBe(key);
    const changed = subjects.map((s) => ({ ...s, labels: s.labels.slice() }));
    changed[2]!.labels[5] = (changed[2]!.labels[5]! + 1) % 4;
    expect(weightCacheKey(sliceSubjects(changed, { axis: 'coronal', multiple: 8 }))).not.toBe(key);
    expect(weightCacheKey(sliceSubjects(subjects, { axis: 'coronal', multiple: 32 }))).not.toBe(key);
    // intensities do not enter the weights, nor the key
    expect(weightCacheKey(sliceSubjects(subjects.map((s) => ({ ...s, image: s.image.map((v) => 3 * v + 1) })), { axis: 'coronal', multiple: 8 }))).toBe(key);
    // a damaged cache file is recomputed and replaced
    writeFileSync(first.cachePath!, 'garbage');
    const third = computeClassWeights(set, { cacheDir });
    expect(third.cacheHit).toBe(false);
    expect(bytesEqual(third.weights, first.weights)).toBe(true);
    expect(computeClassWeights(set, { cacheDir }).cacheHit).toBe(true);
    expect(readdirSync(cacheDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
