import { describe, expect, it } from 'vitest';

import { batchCount, batches, deriveSeed, epochOrder, type Batch } from '../../src/data/loader.js';
import type { SliceSet } from '../../src/data/slices.js';

/** A set whose pixel values are unique codes 1..count*H*W in images, labels and weights alike. */
function codedSet(count: number, H: number, W: number, withWeights = true): SliceSet {
  const n = count * H * W;
  const codes = Float32Array.from({ length: n }, (_, i) => i + 1);
  return {
    H,
    W,
    count,
    images: codes,
    labels: Int32Array.from(codes),
    weights: withWeights ? codes.slice() : null,
    subject: new Int32Array(count),
    position: Int32Array.from({ length: count }, (_, i) => i),
    subjects: [],
    geometry: [],
  };
}

const all = (it: Iterable<Batch>): Batch[] => [...it];
const same = (a: Batch[], b: Batch[]): boolean =>
  a.length === b.length &&
  a.every(
    (x, i) =>
      x.n === b[i]!.n &&
      x.batch === b[i]!.batch &&
      x.indices.join() === b[i]!.indices.join() &&
      Buffer.from(x.x.buffer).equals(Buffer.from(b[i]!.x.buffer)) &&
      Buffer.from(x.y.buffer).equals(Buffer.from(b[i]!.y.buffer)) &&
      (x.w === null ? b[i]!.w === null : Buffer.from(x.w.buffer).equals(Buffer.from(b[i]!.w!.buffer))),
  );

describe('batches', () => {
  const set = codedSet(10, 6, 5);

  it('covers every slice once per epoch, NHWC layout, the last partial batch kept', () => {
    const b = all(batches(set, { batchSize: 4, seed: 1 }));
    expect(b.map((x) => x.n)).toEqual([4, 4, 2]);
    expect(batchCount(set, { batchSize: 4 })).toBe(3);
    expect(b.flatMap((x) => x.indices).sort((p, q) => p - q)).toEqual([...Array(10).keys()]);
    for (const x of b) {
      expect(x.x.length).toBe(x.n * 6 * 5 * 1);
      x.indices.forEach((idx, j) => {
        expect(x.x[j * 30]).toBe(idx * 30 + 1); // sample j is slice idx, pixel (0, 0)
        expect(x.y[j * 30 + 29]).toBe(idx * 30 + 30);
        expect(x.w![j * 30 + 7]).toBe(idx * 30 + 8);
      });
    }
    // no shuffle: in order; no weights: w null; a subset of indices
    expect(all(batches(set, { shuffle: false, batchSize: 3 })).map((x) => x.indices)).toEqual([[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]);
    expect(all(batches(codedSet(3, 2, 2, false)))[0]!.w).toBeNull();
    expect(all(batches(set, { shuffle: false, indices: [7, 2, 9] })).map((x) => x.indices)).toEqual([[7, 2, 9]]);
  });

  it('is a function of (seed, epoch): same -> identical, another epoch or seed -> another order', () => {
    const opts = { batchSize: 3, seed: 42, epoch: 5, augment: { translate: 2, intensity: { scale: 0.1, shift: 0.1 } } };
    expect(same(all(batches(set, opts)), all(batches(set, opts)))).toBe(true);
    const order = (seed: number, epoch: number): string => epochOrder(10, { seed, epoch }).join();
    expect(order(42, 5)).toBe(all(batches(set, opts)).flatMap((x) => x.indices).join());
    const orders = new Set([order(42, 5), order(42, 6), order(42, 7), order(43, 5)]);
    expect(orders.size).toBe(4);
    expect(deriveSeed(1, 2)).not.toBe(deriveSeed(2, 1));
    expect(deriveSeed(2 ** 32 + 1)).not.toBe(deriveSeed(1));
  });

  it('startBatch b gives exactly batches b.. of the full epoch', () => {
    const opts = { batchSize: 3, seed: 9, epoch: 2, augment: { translate: 1, intensity: { scale: 0.2 } } };
    const full = all(batches(set, opts));
    for (const start of [0, 1, 3]) expect(same(all(batches(set, { ...opts, startBatch: start })), full.slice(start))).toBe(true);
    expect(all(batches(set, { ...opts, startBatch: 4 }))).toEqual([]);
  });

  it('translation moves image, labels and weights together (zero / background fill)', () => {
    const big = codedSet(8, 7, 9);
    let moved = 0;
    for (const b of batches(big, { batchSize: 3, seed: 3, augment: { translate: 2 } })) {
      b.indices.forEach((idx, j) => {
        const o = j * 63;
        // the shift is the one that maps a pixel's code back to its source position
        let dy = 0;
        let dx = 0;
        for (let p = 0; p < 63; p++) {
          if (b.y[o + p] === 0) continue;
          const src = b.y[o + p]! - 1 - idx * 63;
          dy = Math.floor(p / 9) - Math.floor(src / 9);
          dx = (p % 9) - (src % 9);
          break;
        }
        expect(Math.abs(dy) <= 2 && Math.abs(dx) <= 2).toBe(true);
        if (dy !== 0 || dx !== 0) moved++;
        for (let r = 0; r < 7; r++) {
          for (let c = 0; c < 9; c++) {
            const sr = r - dy;
            const sc = c - dx;
            const want = sr >= 0 && sr < 7 && sc >= 0 && sc < 9 ? idx * 63 + sr * 9 + sc + 1 : 0;
            const p = o + r * 9 + c;
            expect([b.x[p], b.y[p], b.w![p]]).toEqual([want, want, want]);
          }
        }
      });
    }
    expect(moved).toBeGreaterThan(3);
  });

  it('intensity augmentation changes the image only: x = a*image + b per sample, then the shift', () => {
    for (const b of batches(set, { batchSize: 4, seed: 5, augment: { translate: 1, intensity: { scale: 0.3, shift: 0.5 } } })) {
      b.indices.forEach((_, j) => {
        const o = j * 30;
        const pts: [number, number][] = [];
        for (let p = 0; p < 30; p++) {
          if (b.y[o + p] === 0) expect(b.x[o + p]).toBe(0);
          else pts.push([b.y[o + p]!, b.x[o + p]!]);
          // labels and weights untouched by the intensity change
          expect(b.w![o + p]).toBe(b.y[o + p]);
        }
        const [[u0, v0], [u1, v1]] = [pts[0]!, pts.at(-1)!];
        const a = (v1 - v0) / (u1 - u0);
        const c = v0 - a * u0;
        expect(a).toBeGreaterThanOrEqual(0.7 - 1e-6);
        expect(a).toBeLessThanOrEqual(1.3 + 1e-6);
        for (const [u, v] of pts) expect(Math.abs(v - (a * u + c))).toBeLessThan(1e-3 * Math.abs(v) + 1e-3);
      });
    }
  });

  it('rejects bad options', () => {
    expect(() => all(batches(set, { batchSize: 0 }))).toThrow(/batches: 'batchSize' must be an integer >= 1, got 0/);
    expect(() => all(batches(set, { seed: -1 }))).toThrow(/'seed' must be an integer >= 0/);
    expect(() => all(batches(set, { indices: [3, 10] }))).toThrow(/index 10 in 'indices' is outside \[0, 10\)/);
    expect(() => all(batches(set, { augment: { translate: 1.5 } }))).toThrow(/'augment.translate' must be an integer/);
    expect(() => all(batches(set, { augment: { intensity: { scale: 1 } } }))).toThrow(/'augment.intensity.scale' must be in \[0, 1\)/);
  });
});
