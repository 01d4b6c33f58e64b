import { describe, expect, it } from 'vitest';

import { tidy } from '../../src/autograd/scope.js';
import { native } from '../../src/native.js';
import * as ops from '../../src/ops/index.js';
import { Tensor } from '../../src/tensor.js';
import { expectClose, expectError, finiteDiff, randn, randt } from '../helpers.js';
import { checkAgainstTf } from '../reference/compare.js';
import { tf } from '../reference/tf.js';

// Plain-JS max pooling: values and PyTorch-style flat indices h*W+w, first maximum in scan order.
function refMaxPool(x: ArrayLike<number>, [N, H, W, C]: number[], k: number, s: number): { y: number[]; idx: number[]; shape: number[] } {
  const OH = Math.floor((H - k) / s) + 1;
  const OW = Math.floor((W - k) / s) + 1;
  const y: number[] = [];
  const idx: number[] = [];
  for (let n = 0; n < N; n++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++)
        for (let c = 0; c < C; c++) {
          let best = -Infinity;
          let at = -1;
          for (let kh = 0; kh < k; kh++)
            for (let kw = 0; kw < k; kw++) {
              const h = oh * s + kh;
              const w = ow * s + kw;
              const v = x[((n * H + h) * W + w) * C + c]!;
              if (v > best) {
                best = v;
                at = h * W + w;
              }
            }
          y.push(best);
          idx.push(at);
        }
  return { y, idx, shape: [N, OH, OW, C] };
}

// Plain-JS float64 unpooling: zeros [N,H,W,C], y[n, idx, c] = x.
function refUnpool(x: ArrayLike<number>, idx: ArrayLike<number>, [N, h, w, C]: number[], H: number, W: number): Float64Array {
  const y = new Float64Array(N * H * W * C);
  for (let n = 0; n < N; n++)
    for (let p = 0; p < h * w; p++)
      for (let c = 0; c < C; c++) {
        const i = (n * h * w + p) * C + c;
        y[(n * H * W + idx[i]!) * C + c] = x[i]!;
      }
  return y;
}

describe('maxPool2d against tfjs (NHWC, valid padding) and a plain-JS argmax', () => {
  const cases: [number[], number, number][] = [
    [[2, 6, 8, 3], 2, 2],
    [[2, 7, 9, 5], 2, 2],
    [[1, 5, 5, 64], 2, 2],
    [[2, 8, 8, 3], 3, 2],
    [[1, 7, 9, 4], 3, 2],
    [[2, 6, 6, 2], 3, 1],
  ];
  for (const [s, k, st] of cases) {
    it(`[${s.join(', ')}] kernel ${k} stride ${st}`, () => {
      checkAgainstTf((x) => ops.maxPool2d(x, { kernel: k, stride: st }).y, (x) => tf.maxPool(x as tf.Tensor4D, k, st, 'valid'), [s], 200 + k * 10 + s[1]!);
      const x = randt(s, 300, false);
      const { y, indices } = ops.maxPool2d(x, { kernel: k, stride: st });
      const ref = refMaxPool(x.dataSync(), s, k, st);
      expect(indices.dtype).toBe('int32');
      expect(indices.shape).toEqual(ref.shape);
      expect(Array.from(indices.dataSync())).toEqual(ref.idx);
      expectClose(y.dataSync(), ref.y, 0, 0, 'values');
      for (const t of [x, y, indices]) t.dispose();
    });
  }

  it('uses defaults kernel 2, stride 2 and floors odd sizes', () => {
    const x = randt([1, 5, 7, 2], 310, false);
    const { y, indices } = ops.maxPool2d(x);
    expect(y.shape).toEqual([1, 2, 3, 2]);
    for (const t of [x, y, indices]) t.dispose();
  });

  it('ties: the first element of the window in scan order wins, and gets the whole gradient', () => {
    // constant input: every window picks its top-left pixel
    const x = Tensor.full([1, 4, 6, 2], 1.5).requireGrad();
    const { y, indices } = ops.maxPool2d(x);
    const want = [0, 0, 2, 2, 4, 4, 12, 12, 14, 14, 16, 16];
    expect(Array.from(indices.dataSync())).toEqual(want);
    ops.sum(y).backward();
    const g = x.grad!.dataSync();
    for (let h = 0; h < 4; h++)
      for (let w = 0; w < 6; w++) expect(g[(h * 6 + w) * 2]).toBe(h % 2 === 0 && w % 2 === 0 ? 1 : 0);
    // a partial tie: window [[1, 5], [5, 0]] picks the first 5 (h=0, w=1)
    const z = Tensor.fromArray([1, 5, 5, 0], [1, 2, 2, 1]);
    const r = ops.maxPool2d(z);
    expect(Array.from(r.indices.dataSync())).toEqual([1]);
    for (const t of [x, y, indices, z, r.y, r.indices]) t.dispose();
  });

  it('overlapping windows (kernel 3, stride 1) accumulate the gradient of a shared maximum', () => {
    const data = new Float32Array(16).fill(0);
    data[5] = 9; // (1, 1) is the maximum of all four 3x3 windows of a 4x4 plane
    const x = Tensor.fromArray(data, [1, 4, 4, 1], { requiresGrad: true });
    const { y, indices } = ops.maxPool2d(x, { kernel: 3, stride: 1 });
    expect(Array.from(indices.dataSync())).toEqual([5, 5, 5, 5]);
    ops.sum(y).backward();
    expect(x.grad!.dataSync()[5]).toBe(4);
    for (const t of [x, y, indices]) t.dispose();
  });
});

describe('maxUnpool2d', () => {
  it('odd sizes: 7x9 pooled to 3x4 and unpooled back to 7x9; round trip keeps the maxima in place', () => {
    const s = [2, 7, 9, 3];
    const x = randt(s, 400, false);
    const { y, indices } = ops.maxPool2d(x);
    expect(y.shape).toEqual([2, 3, 4, 3]);
    const u = ops.maxUnpool2d(y, indices, [7, 9]);
    expect(u.shape).toEqual(s);
    const xd = x.dataSync();
    const ud = u.dataSync();
    const id = indices.dataSync();
    const kept = new Set<number>();
    for (let n = 0; n < 2; n++)
      for (let p = 0; p < 12; p++)
        for (let c = 0; c < 3; c++) kept.add((n * 63 + id[(n * 12 + p) * 3 + c]!) * 3 + c);
    for (let i = 0; i < xd.length; i++) expect(ud[i]).toBe(kept.has(i) ? xd[i] : 0);
    // the last row and column were dropped by the floor and must be zero
    for (let n = 0; n < 2; n++)
      for (let c = 0; c < 3; c++) {
        for (let w = 0; w < 9; w++) expect(ud[((n * 7 + 6) * 9 + w) * 3 + c]).toBe(0);
        for (let h = 0; h < 7; h++) expect(ud[((n * 7 + h) * 9 + 8) * 3 + c]).toBe(0);
      }
    expectClose(ud, refUnpool(y.dataSync(), id, y.shape as number[], 7, 9), 0, 0, 'forward');
    for (const t of [x, y, indices, u]) t.dispose();
  });

  it('gradient against float64 finite differences (odd output size)', () => {
    const xs = [2, 3, 4, 3];
    const x0 = randt([2, 7, 9, 3], 410, false);
    const { y: pooled, indices } = ops.maxPool2d(x0);
    const xData = randn(xs, 411);
    const w = randn([2, 7, 9, 3], 412); // loss = sum(w * unpool(x))
    const x = Tensor.fromArray(xData, xs, { requiresGrad: true });
    const u = ops.maxUnpool2d(x, indices, [7, 9]);
    u.backward(Tensor.fromArray(w, u.shape));
    const id = indices.dataSync();
    const loss = (v: Float64Array): number => {
      const yv = refUnpool(v, id, xs, 7, 9);
      let s = 0;
      for (let i = 0; i < yv.length; i++) s += yv[i]! * w[i]!;
      return s;
    };
    const fd = finiteDiff(loss, Float64Array.from(xData));
    expectClose(x.grad!.dataSync(), fd, 1e-6, 1e-6, 'dx');
    for (const t of [x0, pooled, indices, x, u]) t.dispose();
  });

  it('composes with maxPool2d under autograd (pool -> unpool -> loss)', () => {
    const x = randt([1, 6, 5, 2], 420);
    const r = tidy(() => {
      const { y, indices } = ops.maxPool2d(x);
      return ops.sum(ops.maxUnpool2d(y, indices, [6, 5]));
    });
    r.backward();
    // d/dx of sum(unpool(pool(x))): 1 at each window maximum, 0 elsewhere (last column dropped)
    const { indices } = ops.maxPool2d(x);
    const id = indices.dataSync();
    const g = x.grad!.dataSync();
    let ones = 0;
    for (const v of g) ones += v;
    expect(ones).toBe(id.length);
    for (let i = 0; i < id.length; i++) expect(g[id[i]! * 2 + (i % 2)]).toBe(1);
    for (const t of [x, r, indices]) t.dispose();
  });

  it('rejects out-of-range indices with a clear error (natively checked)', () => {
    const x = randt([1, 2, 2, 1], 430, false);
    const hi = Tensor.fromArray(new Int32Array([0, 1, 2, 63]), [1, 2, 2, 1]);
    expectError(() => ops.maxUnpool2d(x, hi, [7, 9]), 'maxUnpool2d', "'indices'", '63', '[0, 63)', '[7, 9]');
    const neg = Tensor.fromArray(new Int32Array([0, -1, 2, 3]), [1, 2, 2, 1]);
    expectError(() => ops.maxUnpool2d(x, neg, [7, 9]), 'maxUnpool2d', "'indices'", '-1');
    expectError(() => native.maxUnpool2dBackward(Tensor.zeros([1, 2, 2, 1]).handle, neg.handle), 'maxUnpool2dBackward', "'indices'");
    expectError(() => native.maxPool2dBackward(Tensor.zeros([1, 2, 2, 1]).handle, hi.handle, [1, 4, 4, 1]), 'maxPool2dBackward', "'indices'", '63');
    for (const t of [x, hi, neg]) t.dispose();
  });
});

describe('globalAvgPool against tfjs mean over H, W', () => {
  for (const s of [
    [2, 5, 7, 3],
    [1, 1, 1, 64],
    [3, 4, 4, 1],
    [1, 33, 17, 40],
  ]) {
    it(`[${s.join(', ')}]`, () => checkAgainstTf(ops.globalAvgPool, (x) => tf.mean(x, [1, 2], true), [s], 500 + s[3]!, { rtol: 1e-5, atol: 1e-6 }));
  }
});

describe('pooling bad inputs', () => {
  const x = randt([2, 4, 4, 3], 600, false);
  it('are rejected in TypeScript with the op and argument named', () => {
    expectError(() => ops.maxPool2d(randt([4, 4, 3], 1, false)), 'maxPool2d', "'x'", 'rank 4');
    expectError(() => ops.maxPool2d(x, { kernel: 5 }), 'maxPool2d', "'x'", 'smaller than the 5x5 kernel');
    expectError(() => ops.maxPool2d(x, { stride: 0 }), 'maxPool2d', "'stride'");
    expectError(() => ops.maxPool2d(x, { kernel: 1.5 }), 'maxPool2d', "'kernel'");
    expectError(() => ops.maxPool2d(Tensor.zeros([2, 4, 4, 3], 'int32')), 'maxPool2d', "'x'", 'int32');
    expectError(() => ops.globalAvgPool(randt([4, 3], 1, false)), 'globalAvgPool', "'x'", 'rank 4');
    expectError(() => ops.globalAvgPool(Tensor.zeros([1, 2, 2, 1], 'int32')), 'globalAvgPool', "'x'", 'int32');
    const { y, indices } = ops.maxPool2d(x);
    expectError(() => ops.maxUnpool2d(y, Tensor.zeros([2, 2, 3, 3], 'int32'), [4, 4]), 'maxUnpool2d', "'indices'", '[2, 2, 2, 3]', '[2, 2, 3, 3]');
    expectError(() => ops.maxUnpool2d(y, Tensor.zeros([2, 2, 2, 3]), [4, 4]), 'maxUnpool2d', "'indices'", 'int32', 'float32');
    expectError(() => ops.maxUnpool2d(y, indices, [4, 0]), 'maxUnpool2d', "'outputSize[1]'");
    expectError(() => ops.maxUnpool2d(y, indices, [4] as never), 'maxUnpool2d', "'outputSize'");
    expectError(() => ops.maxUnpool2d(randt([2, 2, 3], 1, false), indices, [4, 4]), 'maxUnpool2d', "'x'", 'rank 4');
    const d = randt([1, 4, 4, 1], 1, false);
    d.dispose();
    expectError(() => ops.maxPool2d(d), 'maxPool2d', "'x'", 'disposed');
    expectError(() => ops.globalAvgPool(d), 'globalAvgPool', "'x'", 'disposed');
    indices.dispose();
    expectError(() => ops.maxUnpool2d(y, indices, [4, 4]), 'maxUnpool2d', "'indices'", 'disposed');
    y.dispose();
  });
  it('are rejected natively too (no crash)', () => {
    expectError(() => native.maxPool2d(x.handle, 9, 2), 'maxPool2d', "'x'", 'kernel');
    expectError(() => native.maxPool2d(x.handle, 2, 0), 'maxPool2d', "'stride'");
    expectError(() => native.maxPool2d(Tensor.zeros([2, 4, 4, 3], 'int32').handle, 2, 2), 'maxPool2d', "'x'", 'int32');
    const idx = Tensor.zeros([2, 2, 2, 3], 'int32');
    expectError(() => native.maxUnpool2d(randt([2, 2, 2, 4], 1, false).handle, idx.handle, 4, 4), 'maxUnpool2d', "'x'", "'indices'");
    expectError(() => native.maxUnpool2d(randt([2, 2, 2, 3], 1, false).handle, idx.handle, 0, 4), 'maxUnpool2d', "'outputSize'");
    expectError(() => native.maxPool2dBackward(randt([2, 2, 2, 3], 1, false).handle, idx.handle, [2, 4, 4]), 'maxPool2dBackward', "'xShape'");
    expectError(() => native.globalAvgPoolBackward(randt([2, 1, 1, 4], 1, false).handle, [2, 4, 4, 3]), 'globalAvgPoolBackward', "'dy'");
    idx.dispose();
  });
});
