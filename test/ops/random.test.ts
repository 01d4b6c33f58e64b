import { afterAll, describe, expect, it } from 'vitest';

import { native } from '../../src/native.js';
import { setNumThreads } from '../../src/memory.js';
import * as ops from '../../src/ops/index.js';
import { manualSeed } from '../../src/random.js';
import { Tensor } from '../../src/tensor.js';

const hex = (v: readonly number[]): string => v.map((x) => x.toString(16).padStart(8, '0')).join(' ');
const defaultThreads = native.info().threads;
afterAll(() => setNumThreads(defaultThreads));

function moments(d: ArrayLike<number>): { mean: number; variance: number; m4: number; min: number; max: number } {
  let s = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < d.length; i++) {
    s += d[i]!;
    min = Math.min(min, d[i]!);
    max = Math.max(max, d[i]!);
  }
  const mean = s / d.length;
  let s2 = 0;
  let s4 = 0;
  for (let i = 0; i < d.length; i++) {
    const c = d[i]! - mean;
    s2 += c * c;
    s4 += c * c * c * c;
  }
  return { mean, variance: s2 / d.length, m4: s4 / d.length, min, max };
}

describe('Philox4x32-10', () => {
  // Random123's known-answer vectors (kat_vectors, philox4x32 with 10 rounds)
  it('matches the published known-answer vectors', () => {
    expect(hex(native.philoxRaw([0, 0, 0, 0], [0, 0]))).toBe('6627e8d5 e169c58d bc57ac4c 9b00dbd8');
    const f = 0xffffffff;
    expect(hex(native.philoxRaw([f, f, f, f], [f, f]))).toBe('408f276d 41c83b0e a20bc7c6 6d5451fd');
    expect(hex(native.philoxRaw([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]))).toBe(
      'd16cfe09 94fdcceb 5001e420 24126ea1',
    );
  });
  it('rejects malformed counters and keys', () => {
    expect(() => native.philoxRaw([0, 0, 0], [0, 0])).toThrow(/philoxRaw: argument 'counter' must hold 4 words/);
    expect(() => native.philoxRaw([0, 0, 0, 0], [-1, 0])).toThrow(/philoxRaw: argument 'key'/);
  });
});

describe('uniform_ and normal_', () => {
  const N = 1_000_000;
  it('uniform_: range, mean and variance of 1e6 samples', () => {
    manualSeed(1);
    const t = ops.uniform([N], -2, 3);
    const m = moments(t.dataSync());
    // U[-2,3): mean 0.5, variance 25/12; 5-sigma bounds for the sample statistics
    const variance = 25 / 12;
    expect(Math.abs(m.mean - 0.5)).toBeLessThan(5 * Math.sqrt(variance / N));
    expect(Math.abs(m.variance - variance)).toBeLessThan(5 * Math.sqrt((625 / 80 - variance * variance) / N));
    expect(m.min).toBeGreaterThanOrEqual(-2);
    expect(m.max).toBeLessThan(3);
    expect(m.min).toBeLessThan(-1.999);
    expect(m.max).toBeGreaterThan(2.999);
    t.dispose();
  });
  it('uniform_ stays below hi when rounding would reach it', () => {
    const t = ops.uniform([100_000], 1, 1 + 2 ** -20);
    const m = moments(t.dataSync());
    expect(m.min).toBeGreaterThanOrEqual(1);
    expect(m.max).toBeLessThan(1 + 2 ** -20);
    t.dispose();
  });
  it('normal_: mean 0, std 1, fourth moment 3 on 1e6 samples', () => {
    manualSeed(2);
    const t = ops.normal([N]);
    const m = moments(t.dataSync());
    expect(Math.abs(m.mean)).toBeLessThan(5 / Math.sqrt(N));
    expect(Math.abs(m.variance - 1)).toBeLessThan(5 * Math.sqrt(2 / N));
    expect(Math.abs(m.m4 - 3)).toBeLessThan(5 * Math.sqrt(96 / N)); // var of z^4 = 105 - 9
    t.dispose();
  });
  it('normal_ with mean and std, in place', () => {
    const t = Tensor.zeros([500_000]);
    expect(ops.normal_(t, 3, 0.5)).toBe(t);
    const m = moments(t.dataSync());
    expect(Math.abs(m.mean - 3)).toBeLessThan(0.005);
    expect(Math.abs(Math.sqrt(m.variance) - 0.5)).toBeLessThan(0.005);
    t.dispose();
  });
  it('same seed gives the same tensors; consecutive draws differ', () => {
    manualSeed(7);
    const a = ops.normal([1000]).dataSync();
    const b = ops.normal([1000]).dataSync();
    manualSeed(7);
    const a2 = ops.normal([1000]).dataSync();
    expect(a2).toEqual(a);
    expect(b).not.toEqual(a);
  });
  it('draws depend on (seed, stream) only, not on the thread count', () => {
    const n = 300_001; // odd: a partial last block, and several parallel chunks
    const draw = (threads: number, stream: number): Float32Array[] => {
      setNumThreads(threads);
      const u = Tensor.empty([n]);
      const z = Tensor.empty([n]);
      native.uniform_(u.handle, 0, 1, 42, stream);
      native.normal_(z.handle, 0, 1, 42, stream);
      const m = Tensor.fromHandle(native.dropoutMask([n], 0.3, 42, stream));
      const r = [u, z, m].map((t) => t.dataSync() as Float32Array);
      [u, z, m].forEach((t) => t.dispose());
      return r;
    };
    const one = draw(1, 5);
    const two = draw(2, 5);
    setNumThreads(defaultThreads);
    for (let k = 0; k < 3; k++) expect(Buffer.from(two[k]!.buffer).equals(Buffer.from(one[k]!.buffer))).toBe(true);
    const other = draw(2, 6);
    for (let k = 0; k < 2; k++) expect(other[k]).not.toEqual(one[k]);
    // a prefix of a longer draw is the shorter draw
    const u = Tensor.empty([1000]);
    native.uniform_(u.handle, 0, 1, 42, 5);
    expect(u.dataSync()).toEqual(one[0]!.subarray(0, 1000));
    u.dispose();
  });
  it('rejects bad arguments', () => {
    const t = Tensor.zeros([4]);
    expect(() => ops.uniform_(t, 2, 1)).toThrow(/uniform_: argument 'lo' \(2\) must be <= 'hi' \(1\)/);
    expect(() => ops.normal_(t, 0, -1)).toThrow(/normal_: argument 'std' must be >= 0/);
    expect(() => ops.normal_(t, NaN, 1)).toThrow(/normal_: argument 'mean' must be a finite number/);
    expect(() => native.normal_(t.handle, 0, -1, 0, 0)).toThrow(/normal_: argument 'std' must be >= 0/);
    expect(() => native.uniform_(t.handle, 0, 1, -1, 0)).toThrow(/uniform_: argument 'seed' must be an unsigned 32-bit integer/);
    expect(() => ops.uniform_(Tensor.zeros([2], 'int32'))).toThrow(/uniform_: argument 'x' must be float32, got int32/);
    const x = Tensor.zeros([4]).requireGrad();
    const y = ops.scale(x, 2);
    expect(() => ops.normal_(y)).toThrow(/normal_: argument 'x' is the output of a recorded op/);
    t.dispose();
  });
});

describe('dropout2d', () => {
  const [N, H, W, C] = [8, 3, 5, 64];
  const p = 0.3;

  it('zeroes whole channels, scales kept ones by 1/(1-p), keeps about 1-p of them', () => {
    manualSeed(3);
    const x = Tensor.fromArray(Float32Array.from({ length: N * H * W * C }, (_, i) => 1 + (i % 7)), [N, H, W, C]);
    const xd = x.dataSync();
    const y = ops.dropout2d(x, p).dataSync();
    let kept = 0;
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        const base = n * H * W * C + c;
        const scale = y[base]! / xd[base]!;
        expect(scale === 0 || Math.abs(scale - 1 / (1 - p)) < 1e-6).toBe(true);
        if (scale !== 0) kept++;
        for (let s = 0; s < H * W; s++) {
          const i = base + s * C;
          expect(y[i]).toBe(Math.fround(xd[i]! * Math.fround(scale === 0 ? 0 : 1 / (1 - p))));
        }
      }
    }
    const frac = kept / (N * C); // 512 Bernoulli(0.7): sd 0.02
    expect(Math.abs(frac - (1 - p))).toBeLessThan(0.1);
    x.dispose();
  });
  it('keep fraction of a large mask is 1-p', () => {
    manualSeed(4);
    const m = Tensor.fromHandle(native.dropoutMask([200_000, 1, 1, 5], p, 9, 1)).dataSync();
    let kept = 0;
    for (const v of m) kept += v !== 0 ? 1 : 0;
    expect(Math.abs(kept / m.length - (1 - p))).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / m.length));
  });
  it('gradient is the mask times dy', () => {
    manualSeed(5);
    const x = Tensor.fromArray(Float32Array.from({ length: N * H * W * C }, (_, i) => Math.sin(i)), [N, H, W, C], { requiresGrad: true });
    const ones = Tensor.ones([N, H, W, C]);
    const mask = ops.dropout2d(ones, p).dataSync(); // the mask itself, drawn with key k
    manualSeed(5);
    const y = ops.dropout2d(x, p);
    const dy = Float32Array.from({ length: x.size }, (_, i) => Math.cos(3 * i));
    y.backward(Tensor.fromArray(dy, x.shape));
    const g = x.grad!.dataSync();
    for (let i = 0; i < g.length; i++) expect(g[i]).toBe(Math.fround(dy[i]! * mask[i]!));
    x.dispose();
  });
  it('is the identity in eval mode and for p = 0', () => {
    const x = Tensor.fromArray([1, 2, 3, 4, 5, 6], [1, 1, 2, 3], { requiresGrad: true });
    const y = ops.dropout2d(x, 0.5, false);
    expect(y).not.toBe(x);
    expect(y.dataSync()).toEqual(x.dataSync());
    ops.sum(y).backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([1, 1, 1, 1, 1, 1]);
    expect(ops.dropout2d(x, 0).dataSync()).toEqual(x.dataSync());
    expect(Array.from(ops.dropout2d(x, 1).dataSync())).toEqual([0, 0, 0, 0, 0, 0]);
  });
  it('rejects bad arguments', () => {
    const x = Tensor.zeros([2, 3, 4]);
    expect(() => ops.dropout2d(x, 0.5)).toThrow(/dropout2d: argument 'x' expected rank 4 \(NHWC\), got shape \[2, 3, 4\]/);
    expect(() => ops.dropout2d(Tensor.zeros([1, 1, 1, 1]), 1.5)).toThrow(/dropout2d: argument 'p' must be in \[0, 1\], got 1.5/);
    expect(() => native.dropoutMask([2], -0.1, 0, 0)).toThrow(/dropoutMask: argument 'p' must be in \[0, 1\]/);
  });
});
