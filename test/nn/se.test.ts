import { describe, expect, it } from 'vitest';

import { noGrad } from '../../src/autograd/tape.js';

import { ChannelSE, ChannelSpatialSE, createSe, SpatialSE, type SeOptions } from '../../src/nn/se.js';
import { squeezeExcite } from '../../src/ops/se.js';
import { manualSeed, Rng } from '../../src/random.js';
import { Tensor } from '../../src/tensor.js';
import { expectClose, finiteDiff, randn } from '../helpers.js';

type Block = ChannelSE | SpatialSE | ChannelSpatialSE;

function make(kind: 'cse' | 'sse' | 'scse', C: number, opts: SeOptions): Block {
  return createSe(kind, C, opts) as Block;
}

/** Runs forward+backward of a block, returns y, dx and every parameter gradient by name. */
function run(m: Block, x: Float32Array, shape: number[], dy: Float32Array) {
  const xt = Tensor.fromArray(x, shape, { requiresGrad: true });
  const y = m.forward(xt);
  y.backward(Tensor.fromArray(dy, shape));
  const out = { y: y.dataSync(), dx: xt.grad!.dataSync(), params: new Map(m.namedParameters().map(([n, p]) => [n, p.grad!.dataSync()])) };
  for (const p of m.parameters()) {
    p.grad?.dispose();
    p.grad = null;
  }
  xt.dispose();
  y.dispose();
  return out;
}

/** The pixels (n·H·W + p) where some channel's cSE and sSE gates are within tol of each other. */
function nearTiePixels(m: ChannelSpatialSE, x: Float32Array, shape: number[], tol: number): Set<number> {
  const [N, H, W, C] = shape as [number, number, number, number];
  const { s, q } = noGrad(() => {
    const xt = Tensor.fromArray(x, shape);
    const se = m.cSE.excitation(xt);
    const sp = m.sSE.excitation(xt);
    const out = { s: se.dataSync(), q: sp.dataSync() };
    for (const t of [xt, se, sp]) t.dispose();
    return out;
  });
  const out = new Set<number>();
  for (let n = 0; n < N; n++)
    for (let p = 0; p < H * W; p++)
      for (let ch = 0; ch < C; ch++) if (Math.abs(s[n * C + ch]! - q[n * H * W + p]!) <= tol) out.add(n * H * W + p);
  return out;
}

describe('fused SE = composed SE (forward and every gradient)', () => {
  const rng = new Rng(2024);
  const cases: { kind: 'cse' | 'sse' | 'scse'; agg: 'add' | 'max' | 'mul'; bias: boolean; shape: number[] }[] = [];
  const Cs = [2, 3, 8, 17, 64, 256];
  for (let i = 0; i < 24; i++) {
    const kind = (['cse', 'sse', 'scse'] as const)[i % 3]!;
    const agg = (['add', 'max', 'mul'] as const)[Math.floor(i / 3) % 3]!;
    const C = Cs[i % Cs.length]!;
    const H = 1 + rng.int(C >= 64 ? 12 : 20);
    const W = 1 + rng.int(C >= 64 ? 12 : 20);
    cases.push({ kind, agg, bias: i % 2 === 0, shape: [1 + rng.int(4), H, W, C] });
  }
  // Images above 8 MiB with C % 8 = 0 write their outputs with streaming stores
  // (native/cpu/stream_store.h); C = 60 at the same size takes the normal-store fallback.
  cases.push({ kind: 'scse', agg: 'max', bias: true, shape: [2, 208, 168, 64] });
  cases.push({ kind: 'cse', agg: 'add', bias: false, shape: [1, 211, 177, 60] });
  for (const c of cases) {
    it(`${c.kind}${c.kind === 'scse' ? ` ${c.agg}` : ''} bias=${c.bias} [${c.shape}]`, () => {
      manualSeed(7);
      const opts = { aggregation: c.agg, bias: c.bias };
      const fused = make(c.kind, c.shape[3]!, { ...opts, impl: 'fused' });
      const composed = make(c.kind, c.shape[3]!, { ...opts, impl: 'composed' });
      composed.loadStateDict(fused.stateDict());
      const x = randn(c.shape, 11);
      const dy = randn(c.shape, 12);
      const a = run(fused, x, c.shape, dy);
      const b = run(composed, x, c.shape, dy);
      expectClose(a.y, b.y, 1e-5, 1e-6, 'y');
      if (c.kind === 'scse' && c.agg === 'max') {
        // max splits a tie's gradient in half, so where cSE and sSE nearly tie, a gate rounded a few
        // ulps apart by the two implementations moves half the gradient from one branch to the
        // other (through the sSE conv, the whole pixel's dx). Those pixels are left out of dx.
        const skip = nearTiePixels(composed as ChannelSpatialSE, x, c.shape, 1e-5);
        expect(skip.size).toBeLessThan(c.shape[0]! * c.shape[1]! * c.shape[2]! * 0.01 + 2);
        const keep = (_: number, i: number) => !skip.has(Math.floor(i / c.shape[3]!));
        expectClose(a.dx.filter(keep), b.dx.filter(keep), 1e-4, 1e-5, 'dx');
      } else expectClose(a.dx, b.dx, 1e-4, 1e-5, 'dx');
      expect([...a.params.keys()]).toEqual([...b.params.keys()]);
      for (const [n, g] of a.params) expectClose(g, b.params.get(n)!, 1e-3, 1e-4, `grad ${n}`);
      fused.dispose();
      composed.dispose();
    });
  }
});

describe('SE blocks against float64 finite differences', () => {
  // A tiny scSE block evaluated in float64 in the test: the loss is Σ y ⊙ r for a fixed r.
  const N = 2, H = 3, W = 2, C = 4, Cr = 2;
  for (const agg of ['add', 'max', 'mul'] as const) {
    it(`scSE ${agg}`, () => {
      manualSeed(3);
      const m = new ChannelSpatialSE(C, { aggregation: agg, impl: 'fused' });
      const names = m.namedParameters().map(([n]) => n);
      const x = randn([N, H, W, C], 21);
      const r = randn([N, H, W, C], 22);
      const params = m.namedParameters().map(([, p]) => Float64Array.from(p.dataSync()));
      const flat = Float64Array.from([...x, ...params.flatMap((p) => [...p])]);
      const sizes = [x.length, ...params.map((p) => p.length)];
      const loss64 = (v: Float64Array): number => {
        const parts: Float64Array[] = [];
        let o = 0;
        for (const s of sizes) parts.push(v.subarray(o, (o += s)));
        const [u, w1, b1, w2, b2, wc, bc] = parts as Float64Array[];
        const sig = (t: number) => 1 / (1 + Math.exp(-t));
        let total = 0;
        for (let n = 0; n < N; n++) {
          const z = new Float64Array(C);
          for (let p = 0; p < H * W; p++) for (let c = 0; c < C; c++) z[c] += u![(n * H * W + p) * C + c]! / (H * W);
          const h = new Float64Array(Cr);
          for (let j = 0; j < Cr; j++) {
            let a = b1![j]!;
            for (let c = 0; c < C; c++) a += w1![j * C + c]! * z[c]!;
            h[j] = Math.max(0, a);
          }
          const s = new Float64Array(C);
          for (let c = 0; c < C; c++) {
            let a = b2![c]!;
            for (let j = 0; j < Cr; j++) a += w2![c * Cr + j]! * h[j]!;
            s[c] = sig(a);
          }
          for (let p = 0; p < H * W; p++) {
            const base = (n * H * W + p) * C;
            let d = bc![0]!;
            for (let c = 0; c < C; c++) d += wc![c]! * u![base + c]!;
            const q = sig(d);
            for (let c = 0; c < C; c++) {
              const a = u![base + c]! * s[c]!;
              const b = u![base + c]! * q;
              const y = agg === 'add' ? a + b : agg === 'mul' ? a * b : Math.max(a, b);
              total += y * r[base + c]!;
            }
          }
        }
        return total;
      };
      const fd = finiteDiff(loss64, flat, 1e-6);
      const out = run(m, x, [N, H, W, C], r);
      const ours = Float64Array.from([...out.dx, ...names.flatMap((n) => [...out.params.get(n)!])]);
      expectClose(ours, fd, 1e-3, 1e-4, 'gradient vs finite differences');
      // the forward value itself, recomputed in float64
      let yr = 0;
      out.y.forEach((v, i) => (yr += v * r[i]!));
      expect(Math.abs(yr - loss64(flat))).toBeLessThan(1e-4 * Math.max(1, Math.abs(yr)));
      m.dispose();
    });
  }
});

describe('SE modules', () => {
  it('parameter counts equal the closed forms (C = 64, r = 2)', () => {
    const C = 64;
    const counts = (opts: SeOptions) => ({
      cse: new ChannelSE(C, opts).numParameters(),
      sse: new SpatialSE(C, opts).numParameters(),
      scse: new ChannelSpatialSE(C, opts).numParameters(),
    });
    expect(counts({})).toEqual({ cse: C * C + 1.5 * C, sse: C + 1, scse: 4257 });
    expect(counts({ bias: false })).toEqual({ cse: C * C, sse: C + 1, scse: 4161 });
    expect(8 * counts({ bias: false }).scse).toBe(33288); // the paper's "3.3 × 10^4"
    expect(new ChannelSE(C, { reduction: 4 }).numParameters()).toBe(2 * 16 * C + 16 + C);
  });

  it('uses the authors\' parameter names', () => {
    expect(new ChannelSpatialSE(8).namedParameters().map(([n, p]) => `${n}:${p.shape.join('x')}`)).toEqual([
      'cSE.fc1.weight:4x8',
      'cSE.fc1.bias:4',
      'cSE.fc2.weight:8x4',
      'cSE.fc2.bias:8',
      'sSE.conv.weight:1x1x1x8',
      'sSE.conv.bias:1',
    ]);
  });

  it('initialises like PyTorch: U(-1/sqrt(fan_in), 1/sqrt(fan_in))', () => {
    manualSeed(1);
    const m = new ChannelSE(256);
    const w1 = m.namedParameters().find(([n]) => n === 'fc1.weight')![1].dataSync();
    const bound = 1 / Math.sqrt(256);
    let max = 0;
    let sumSq = 0;
    for (const v of w1) {
      max = Math.max(max, Math.abs(v));
      sumSq += v * v;
    }
    expect(max).toBeLessThanOrEqual(bound);
    expect(max).toBeGreaterThan(0.99 * bound);
    expect(sumSq / w1.length).toBeCloseTo((bound * bound) / 3, 5); // variance of U(-b, b)
  });

  it('max aggregation splits tied gradients equally between the branches (torch.max)', () => {
    manualSeed(5);
    const m = new ChannelSpatialSE(4, { aggregation: 'max' });
    // zero the parameters: s = q = σ(0) = 0.5 everywhere, so both branches tie on every element
    for (const [, p] of m.namedParameters()) p.handle.write(new Float32Array(p.size));
    const x = randn([1, 2, 3, 4], 9);
    const dy = new Float32Array(x.length).fill(1);
    const fusedOut = run(m, x, [1, 2, 3, 4], dy);
    m.impl = 'composed';
    const composedOut = run(m, x, [1, 2, 3, 4], dy);
    expectClose(fusedOut.dx, composedOut.dx, 1e-6, 1e-7, 'dx at ties');
    for (const [n, g] of fusedOut.params) expectClose(g, composedOut.params.get(n)!, 1e-6, 1e-7, `${n} at ties`);
    // half of dy reaches the sSE branch: dq[p] = Σ_c ½·u, through σ' = ¼ into the conv weight
    // dw[c] = Σ_p ⅛·(Σ_c' u[p,c'])·u[p,c]
    const dw = [0, 0, 0, 0];
    for (let p = 0; p < 6; p++) {
      let t = 0;
      for (let c = 0; c < 4; c++) t += x[p * 4 + c]!;
      for (let c = 0; c < 4; c++) dw[c] += 0.125 * t * x[p * 4 + c]!;
    }
    expectClose(fusedOut.params.get('sSE.conv.weight')!, new Float32Array(dw), 1e-5, 1e-6, 'sSE conv weight at ties');
    m.dispose();
  });

  it('rejects bad configuration and inputs with clear errors', () => {
    expect(() => new ChannelSE(0)).toThrow(/cse: argument 'channels' must be a positive integer, got 0/);
    expect(() => new ChannelSE(8, { reduction: 16 })).toThrow(/argument 'reduction' must be an integer in \[1, 8\]/);
    expect(() => new ChannelSpatialSE(8, { aggregation: 'avg' as never })).toThrow(/'aggregation' must be add\|max\|mul/);
    expect(() => createSe('xse' as never, 8)).toThrow(/'kind' must be none\|cse\|sse\|scse/);
    const m = new ChannelSpatialSE(8);
    expect(() => m.forward(Tensor.zeros([1, 4, 4, 6]))).toThrow(/argument 'fc1.weight' expected shape \[\*, 6\]/);
    const bad = randn([1, 2, 2, 8], 1);
    bad[3] = Number.NaN;
    expect(() => m.forward(Tensor.fromArray(bad, [1, 2, 2, 8]))).toThrow(/NaN or Inf/);
    expect(() => squeezeExcite(Tensor.zeros([1, 2, 2, 8], 'int32'), 'sse', {})).toThrow(/argument 'x' must be float32, got int32/);
    m.dispose();
  });
});
