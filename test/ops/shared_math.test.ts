// The per-element formulas in native/math/*.h that the CUDA kernels share with the CPU ones,
// pinned down bit for bit through the CPU ops: if a formula changes (or a compiler starts
// rounding it differently), these fail here, on machines without a GPU, instead of only in the
// GPU-vs-CPU parity tests (test/gpu/ops.test.ts). JS reference math is float64 rounded with
// Math.fround; multiply-adds use an exactly rounded float32 fma.
import { describe, expect, it } from 'vitest';

import { native, type NativeTensor } from '../../src/native.js';
import { randn } from '../helpers.js';

const f32 = Math.fround;
const bits = new Float32Array(1);
const bitsU = new Uint32Array(bits.buffer);

/** The float32 next to `x` (a float32, finite) in the direction of `toward`. */
function nextFloat(x: number, toward: number): number {
  if (x === toward) return x;
  if (x === 0) {
    bitsU[0] = 1;
    return toward > 0 ? bits[0]! : -bits[0]!;
  }
  bits[0] = x;
  bitsU[0] = bitsU[0]! + ((toward > x) === (x > 0) ? 1 : -1);
  return bits[0]!;
}

/** fmaf(a, b, c) for float32 a, b, c, rounded once to float32. a*b is exact in float64; the sum's
 * rounding error is recovered exactly (TwoSum), which settles the only ambiguous case: a float64
 * sum that lies exactly halfway between two float32 values. */
function fmaf(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const bb = s - p;
  const e = p - (s - bb) + (c - bb);
  const r = f32(s);
  if (e === 0 || r === s || !Number.isFinite(r)) return r;
  const n = nextFloat(r, s);
  if (Math.abs(s - r) !== Math.abs(n - s)) return r; // not a midpoint: nearest is unambiguous
  return (e > 0) === (n > r) ? n : r;
}

function tensor(data: Float32Array | Int32Array, shape: number[]): NativeTensor {
  const t = native.empty(shape, data instanceof Int32Array ? 'int32' : 'float32');
  t.write(data);
  return t;
}

function read(t: NativeTensor): Float32Array {
  const r = t.read() as Float32Array;
  t.dispose();
  return r;
}

function expectBits(actual: Float32Array, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], f32(expected[i]!))) throw new Error(`${what}: element ${i} is ${actual[i]}, want ${f32(expected[i]!)}`);
  }
}

describe('fmaf reference', () => {
  it('rounds once: an exact sum just above or below a float32 midpoint', () => {
    const a = 1 + 2 ** -12; // a*a = 1 + 2^-11 + 2^-24 exactly: halfway between two float32
    expect(fmaf(a, a, 0)).toBe(1 + 2 ** -11); // tie: to even
    expect(fmaf(a, a, 2 ** -80)).toBe(1 + 2 ** -11 + 2 ** -23); // float64 sum rounds to the midpoint, exact value is above
    expect(fmaf(a, a, -(2 ** -80))).toBe(1 + 2 ** -11);
    expect(fmaf(-a, a, -(2 ** -80))).toBe(-(1 + 2 ** -11 + 2 ** -23));
    expect(fmaf(2, 3, 4)).toBe(10);
  });
});

describe('optimizer updates (math/optim.h): explicit fmadd, bit for bit', () => {
  const n = 517;
  const sgdCases = [
    { momentum: 0, dampening: 0, wd: 0, nesterov: false, first: false },
    { momentum: 0.9, dampening: 0, wd: 1e-4, nesterov: true, first: false },
    { momentum: 0.9, dampening: 0.1, wd: 1e-3, nesterov: false, first: true },
    { momentum: 0.95, dampening: 0.1, wd: 1e-3, nesterov: false, first: false },
  ];
  for (const c of sgdCases) {
    it(`sgdStep ${JSON.stringify(c)}`, () => {
      const p0 = randn([n], 1);
      const g0 = randn([n], 2);
      const b0 = randn([n], 3);
      const p = tensor(p0, [n]);
      const b = tensor(b0, [n]);
      const g = tensor(g0, [n]);
      const lr = 0.013;
      native.sgdStep(p, g, c.momentum ? b : null, lr, c.momentum, c.dampening, c.wd, c.nesterov, c.first);
      const wantP = new Float32Array(n);
      const wantB = new Float32Array(n);
      const [m, d, wd] = [f32(c.momentum), f32(c.dampening), f32(c.wd)];
      for (let i = 0; i < n; i++) {
        let gi = g0[i]!;
        if (wd !== 0) gi = fmaf(wd, p0[i]!, gi);
        wantB[i] = b0[i]!;
        if (m !== 0) {
          const bi = c.first ? gi : fmaf(m, b0[i]!, f32(f32(1 - d) * gi));
          wantB[i] = bi;
          gi = c.nesterov ? fmaf(m, bi, gi) : bi;
        }
        wantP[i] = fmaf(-f32(lr), gi, p0[i]!);
      }
      expectBits(read(p), wantP, 'param');
      expectBits(read(b), wantB, 'momentum buffer');
      g.dispose();
    });
  }

  for (const c of [
    { wd: 0, decoupled: false },
    { wd: 1e-2, decoupled: false },
    { wd: 1e-2, decoupled: true },
  ]) {
    it(`adamStep ${JSON.stringify(c)}`, () => {
      const p0 = randn([n], 4);
      const g0 = randn([n], 5);
      const m0 = randn([n], 6);
      const v0 = randn([n], 7).map((x) => x * x);
      const [p, g, m, v] = [tensor(p0, [n]), tensor(g0, [n]), tensor(m0, [n]), tensor(v0, [n])];
      const [lr, b1, b2, eps, step] = [1e-3, 0.9, 0.999, 1e-8, 7];
      native.adamStep(p, g, m, v, lr, b1, b2, eps, c.wd, step, c.decoupled);
      const stepSize = f32(lr / (1 - b1 ** step));
      const bc2 = f32(Math.sqrt(1 - b2 ** step));
      const [lrF, b1F, b2F, epsF, wdF] = [f32(lr), f32(b1), f32(b2), f32(eps), f32(c.wd)];
      const want = { p: new Float32Array(n), m: new Float32Array(n), v: new Float32Array(n) };
      for (let i = 0; i < n; i++) {
        let pi = p0[i]!;
        let gi = g0[i]!;
        if (wdF !== 0) {
          if (c.decoupled) pi = f32(pi * fmaf(-lrF, wdF, 1));
          else gi = fmaf(wdF, pi, gi);
        }
        const mt = fmaf(b1F, m0[i]!, f32(f32(1 - b1F) * gi));
        const vt = fmaf(b2F, v0[i]!, f32(f32(f32(1 - b2F) * gi) * gi));
        const denom = f32(f32(f32(Math.sqrt(vt)) / bc2) + epsF);
        want.p[i] = fmaf(-stepSize, f32(mt / denom), pi);
        want.m[i] = mt;
        want.v[i] = vt;
      }
      expectBits(read(p), want.p, 'param');
      expectBits(read(m), want.m, 'm');
      expectBits(read(v), want.v, 'v');
      g.dispose();
    });
  }
});

describe('Philox draws (math/philox.h): element i = lane i % 4 of block i / 4', () => {
  const KEY_TAG = 0x53435345;
  const lanes = (seed: number, stream: number, i: number): number =>
    native.philoxRaw([Math.floor(i / 4) >>> 0, Math.floor(i / 4 / 2 ** 32) >>> 0, stream, 0], [seed, KEY_TAG])[i % 4];
  const uniform01 = (x: number): number => (x >>> 8) * 2 ** -24;

  it('uniform_ is lo + (hi - lo) * u with one rounding, kept below hi', () => {
    const n = 203;
    for (const [lo, hi, seed, stream] of [
      [-0.3, 0.7, 42, 3],
      [-3, 1e-3, 7, 1],
      [5, 5.000001, 1, 0],
    ] as const) {
      const t = tensor(new Float32Array(n), [n]);
      native.uniform_(t, lo, hi, seed, stream);
      const [l, h] = [f32(lo), f32(hi)];
      const want = Array.from({ length: n }, (_, i) => {
        const v = fmaf(f32(h - l), uniform01(lanes(seed, stream, i)), l);
        return v >= h && h > l ? nextFloat(h, l) : v;
      });
      expectBits(read(t), want, `uniform_(${lo}, ${hi})`);
    }
  });

  it('dropoutMask drops where u < p and scales the rest by 1/(1-p)', () => {
    const n = 301;
    const p = 0.3;
    const want = Array.from({ length: n }, (_, i) => (uniform01(lanes(9, 2, i)) < f32(p) ? 0 : f32(1 / (1 - p))));
    expectBits(read(native.dropoutMask([7, 43], p, 9, 2)), want, 'dropout mask');
  });
});

describe('elementwise rules (math/eltwise.h, math/pool.h)', () => {
  it('affine is one fused multiply-add', () => {
    const x = randn([257], 8);
    const [a, b] = [f32(1.37), f32(-0.21)];
    expectBits(read(native.affine(tensor(x, [257]), 1.37, -0.21)), Array.from(x, (v) => fmaf(a, v, b)), 'affine');
  });

  it('max/min keep a on ties (signed zeros too) and give NaN for a NaN on either side; maxShare splits ties', () => {
    const a = new Float32Array([1, 2, NaN, 3, -0, 0]);
    const b = new Float32Array([1, NaN, 2, 4, 0, -0]);
    const run = (k: string) => read(native.binary(k, tensor(a, [6]), tensor(b, [6])));
    expectBits(run('max'), [1, NaN, NaN, 4, -0, 0], 'max');
    expectBits(run('min'), [1, NaN, NaN, 3, -0, 0], 'min');
    expectBits(run('maxShare'), [0.5, 0, 0, 0, 0.5, 0.5], 'maxShare');
  });

  it('softmax rows: max-shifted (no overflow); a NaN poisons its row only', () => {
    const y = read(native.softmax(tensor(new Float32Array([1000, 0, 1000, 1, NaN, 0, 0, 0, NaN]), [3, 3])));
    expectBits(y.slice(0, 3), [0.5, 0, 0.5], 'large logits');
    expect(Array.from(y.slice(3)).every(Number.isNaN)).toBe(true);
  });

  it('prelu slope gradient sums x*dy in float64 over x <= 0 (shared and per channel)', () => {
    const [rows, C] = [37, 5];
    const x = randn([rows, C], 9);
    x[3] = 0;
    x[4] = -0;
    const dy = randn([rows, C], 10);
    const perC = new Float64Array(C);
    for (let i = 0; i < rows * C; i++) if (!(x[i]! > 0)) perC[i % C]! += x[i]! * dy[i]!;
    const [, dsC] = native.preluBackward(tensor(x, [rows, C]), tensor(randn([C], 11), [C]), tensor(dy, [rows, C]));
    expectBits(read(dsC), Array.from(perC), 'per-channel slope grad');
    const [, ds1] = native.preluBackward(tensor(x, [rows, C]), tensor(new Float32Array([0.25]), [1]), tensor(dy, [rows, C]));
    expectBits(read(ds1), [perC.reduce((s, v) => s + v, 0)], 'shared slope grad');
  });

  it('max pooling: first maximum in scan order wins ties; a NaN wins and stays', () => {
    // one 3x3 window (kernel 3, stride 1) over 1 channel: ties at 5 (positions 1 and 4), NaN later
    const run = (vals: number[]) => {
      const [y, idx] = native.maxPool2d(tensor(new Float32Array(vals), [1, 3, 3, 1]), 3, 1);
      const i = (idx.read() as Int32Array)[0];
      idx.dispose();
      return [read(y)[0], i];
    };
    expect(run([1, 5, 2, 3, 5, 0, 4, 1, 2])).toEqual([5, 1]);
    expect(run([1, 5, 2, 3, NaN, 0, 4, 9, NaN])).toEqual([NaN, 4]);
    expect(run([NaN, 5, 2, 3, 5, 0, 4, 1, 2])).toEqual([NaN, 0]);
  });
});
