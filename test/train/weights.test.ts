import { spawnSync } from 'node:child_process';

import { describe, expect, it } from 'vitest';

import { Rng } from '../../src/random.js';
import { boundaryMask, medianFrequencyWeights, pixelWeightMap, volumeWeightMap } from '../../src/train/weights.js';
import { expectClose } from '../helpers.js';

const PY = '/usr/bin/python3';
const hasNumpy = spawnSync(PY, ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;

describe('medianFrequencyWeights', () => {
  it('hand example: real division, a never-present class gets 0 and is left out of the median', () => {
    // A = [0 0 0 1] (4 px), B = [0 0 2 2] (4 px), C = [0 1] (2 px); class 3 never appears
    // f0 = 6/10, f1 = 2/(4+2) = 1/3, f2 = 2/4; median(0.6, 1/3, 0.5) = 0.5
    const r = medianFrequencyWeights([Int32Array.of(0, 0, 0, 1), Int32Array.of(0, 0, 2, 2), Int32Array.of(0, 1)], 4);
    expectClose(r.frequency, [0.6, 1 / 3, 0.5, 0], 1e-15, 0, 'f');
    expect(r.median).toBe(0.5);
    expectClose(r.weights, [0.5 / 0.6, 1.5, 1, 0], 1e-15, 0, 'w');
    expect(r.present).toEqual([true, true, true, false]);
    // floor division (the reference code's bug) would have given class 0 the weight 0
    expect(r.weights[0]).toBeGreaterThan(0.8);
  });
  it('an even number of present classes takes the mean of the two middle frequencies', () => {
    // one image of 10 px: counts 1, 2, 3, 4 -> f = .1 .2 .3 .4, median .25
    const r = medianFrequencyWeights([Int32Array.of(0, 1, 1, 2, 2, 2, 3, 3, 3, 3)], 4);
    expect(r.median).toBeCloseTo(0.25, 15);
    expectClose(r.weights, [2.5, 1.25, 0.25 / 0.3, 0.625], 1e-14, 0, 'w');
  });
  it('per volume equals median(counts) / count_c', () => {
    const r = new Rng(3);
    const vol = Int32Array.from({ length: 1000 }, () => Math.min(4, Math.floor(r.float() * r.float() * 6)));
    const counts = [0, 0, 0, 0, 0];
    vol.forEach((l) => counts[l]!++);
    const present = counts.filter((n) => n > 0).sort((a, b) => a - b);
    const m = present.length % 2 ? present[present.length >> 1]! : (present[present.length / 2 - 1]! + present[present.length / 2]!) / 2;
    const w = medianFrequencyWeights([vol], 5).weights;
    expectClose(w, counts.map((n) => (n ? m / n : 0)), 1e-13, 0, 'w');
  });
  it('rejects bad labels and arguments', () => {
    expect(() => medianFrequencyWeights([Int32Array.of(0, 3)], 3)).toThrow("medianFrequencyWeights: argument 'images[0]' has 3 at 1, outside the class range [0, 3)");
    expect(() => medianFrequencyWeights([], 3)).toThrow(/argument 'images' must be a non-empty array/);
    expect(() => medianFrequencyWeights([Int32Array.of(0)], 0)).toThrow(/argument 'numClasses' must be an integer >= 1/);
    expect(() => medianFrequencyWeights([new Int32Array(0)], 2)).toThrow(/holds no pixels/);
  });
});

describe('boundaryMask', () => {
  // a step 0 0 1 1 1 along one axis; numpy.gradient marks positions 1 and 2
  const step = [0, 0, 1, 1, 1];
  const want = [0, 1, 1, 0, 0];
  it('finds boundaries along x, y and z alike (the reference code missed one axis)', () => {
    expect(Array.from(boundaryMask(step, [5, 1, 1]))).toEqual(want);
    expect(Array.from(boundaryMask(step, [1, 5, 1]))).toEqual(want);
    expect(Array.from(boundaryMask(step, [1, 1, 5]))).toEqual(want);
  });
  it('on a 3x3x3 cube: a structure varying only along z is still found', () => {
    // label 1 on the slice z = 2 only: x and y gradients are 0 everywhere
    const L = new Int32Array(27);
    for (let i = 18; i < 27; i++) L[i] = 1;
    const m = boundaryMask(L, [3, 3, 3]);
    // numpy.gradient along z: z=0 -> L1-L0 = 0, z=1 -> (L2-L0)/2 != 0, z=2 -> L2-L1 != 0
    expect(Array.from(m)).toEqual([...new Array(9).fill(0), ...new Array(18).fill(1)]);
  });
  it("'gradient' skips the middle of a one-voxel structure, 'neighbors' does not", () => {
    expect(Array.from(boundaryMask([0, 1, 0], [3, 1, 1], 'gradient'))).toEqual([1, 0, 1]);
    expect(Array.from(boundaryMask([0, 1, 0], [3, 1, 1], 'neighbors'))).toEqual([1, 1, 1]);
    expect(Array.from(boundaryMask(step, [1, 1, 5], 'neighbors'))).toEqual([0, 1, 1, 0, 0]);
  });
  it.skipIf(!hasNumpy)('matches numpy.gradient on all three axes for a random volume', () => {
    const dims: [number, number, number] = [7, 5, 6];
    const r = new Rng(9);
    // blocky labels so that both flat regions and boundaries occur
    const L = Int32Array.from({ length: 210 }, (_, i) => {
      const x = i % 7;
      const y = Math.floor(i / 7) % 5;
      const z = Math.floor(i / 35);
      return r.float() < 0.1 ? r.int(4) : (x > 3 ? 1 : 0) + (y > 2 ? 2 : 0) + (z === 4 ? 1 : 0);
    });
    const code = `
import json, sys, numpy as np
a = json.load(sys.stdin)
L = np.array(a["L"], dtype=np.int64).reshape(a["nz"], a["ny"], a["nx"])  # x fastest
g = np.gradient(L.astype(np.float64))
print(json.dumps((np.any(np.stack(g) != 0, axis=0)).astype(int).ravel().tolist()))`;
    const res = spawnSync(PY, ['-c', code], { input: JSON.stringify({ L: Array.from(L), nx: 7, ny: 5, nz: 6 }), encoding: 'utf8' });
    expect(res.status, res.stderr).toBe(0);
    expect(Array.from(boundaryMask(L, dims))).toEqual(JSON.parse(res.stdout));
  });
  it('rejects bad dims', () => {
    expect(() => boundaryMask([0, 1], [3, 1, 1])).toThrow("boundaryMask: argument 'labels' has 2 voxels, dims [3, 1, 1] need 3");
    expect(() => boundaryMask([0], [1, 1, 0] as unknown as [number, number, number])).toThrow(/argument 'dims' must be \[nx, ny, nz\]/);
  });
});

describe('pixelWeightMap', () => {
  it('class weight of the label + ω0 on boundaries', () => {
    const L = Int32Array.of(0, 0, 1, 1, 1);
    const map = pixelWeightMap(L, [5, 1, 1], [0.5, 3]);
    expectClose(map, [0.5, 2.5, 5, 3, 3], 0, 0, 'map');
    expectClose(pixelWeightMap(L, [1, 5, 1], [0.5, 3], { omega0: 1 }), [0.5, 1.5, 4, 3, 3], 0, 0, 'omega0 1');
    expectClose(pixelWeightMap(L, [1, 1, 5], [0.5, 3], { omega0: 0 }), [0.5, 0.5, 3, 3, 3], 0, 0, 'omega0 0');
  });
  it('volumeWeightMap = per-volume median frequency weights + boundary', () => {
    const L = Int32Array.of(0, 0, 0, 1, 1, 2, 0, 0); // dims [2, 2, 2]
    const { map, classWeights } = volumeWeightMap(L, [2, 2, 2], 3);
    // counts 5, 2, 1 -> median 2 -> w = [0.4, 1, 2]
    expectClose(classWeights, [0.4, 1, 2], 1e-15, 0, 'w');
    const edge = boundaryMask(L, [2, 2, 2]);
    expectClose(map, Array.from(L, (l, i) => classWeights[l]! + 2 * edge[i]!), 1e-7, 0, 'map');
  });
  it('rejects bad class weights and labels', () => {
    expect(() => pixelWeightMap([0, 2], [2, 1, 1], [1, 1])).toThrow("pixelWeightMap: argument 'labels' has 2 at 1, outside the class range [0, 2)");
    expect(() => pixelWeightMap([0, 1], [2, 1, 1], [1, NaN])).toThrow(/argument 'classWeights' has NaN at 1/);
    expect(() => pixelWeightMap([0, 1], [2, 1, 1], [1, 1], { omega0: -1 })).toThrow(/argument 'omega0' must be a finite number >= 0/);
  });
});
