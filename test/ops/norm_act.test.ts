// batchNormAct (fused batch norm + activation over concatenated inputs) against tfjs built from
// primitives (moments, concat, relu/min), against float64 statistics, against the composed ops
// (running statistics), and its argument errors from TypeScript and from C++.
import { describe, expect, it } from 'vitest';

import { native } from '../../src/native.js';
import * as ops from '../../src/ops/index.js';
import type { NormActivation } from '../../src/ops/norm_act.js';
import { Tensor } from '../../src/tensor.js';
import { expectClose, expectError, randn, randt } from '../helpers.js';
import { checkAgainstTf } from '../reference/compare.js';
import { tfBnAct } from '../reference/norm_tf.js';
import { tf } from '../reference/tf.js';

const EPS = 1e-5;
const TOL = { rtol: 2e-4, atol: 2e-4 };

// parts' channel counts, N, H, W; activation; slope length (0 = no slope)
const cases: [string, number[], number[], NormActivation, number][] = [
  ['one input, relu', [5], [2, 4, 6], 'relu', 0],
  ['one input, none', [3], [2, 5, 3], 'none', 0],
  ['one input, prelu shared slope', [16], [1, 5, 7], 'prelu', 1],
  ['two inputs (1 + 4), prelu shared slope', [1, 4], [2, 3, 5], 'prelu', 1],
  ['three inputs (3 + 2 + 5), prelu per-channel slope', [3, 2, 5], [2, 4, 3], 'prelu', 10],
  ['two inputs (7 + 9), relu, 70 pixels (a partial block)', [7, 9], [1, 7, 10], 'relu', 0],
];

describe('batchNormAct training mode against tfjs (forward, every input gradient, gamma, beta, slope)', () => {
  for (const [name, parts, [N, H, W], act, na] of cases) {
    it(name, () => {
      const C = parts.reduce((a, b) => a + b, 0);
      const shapes = [...parts.map((c) => [N!, H!, W!, c]), [C], [C], ...(na ? [[na]] : [])];
      const k = parts.length;
      checkAgainstTf(
        (...ts) => ops.batchNormAct(ts.slice(0, k), ts[k]!, ts[k + 1]!, { training: true, activation: act, ...(na ? { slope: ts[k + 2]! } : {}) }),
        (...ts) => tfBnAct(ts.slice(0, k) as tf.Tensor[], ts[k]!, ts[k + 1]!, act, ts[k + 2]),
        shapes,
        300 + C,
        TOL,
      );
    });
  }
});

describe('batchNormAct inference mode against tfjs (running statistics as constants)', () => {
  for (const [act, na] of [
    ['prelu', 1],
    ['relu', 0],
  ] as const) {
    it(`two inputs, ${act}`, () => {
      const parts = [2, 6];
      const C = 8;
      const mean = randn([C], 320);
      const variance = randn([C], 321).map((v) => Math.abs(v) + 0.5);
      const runningMean = Tensor.fromArray(mean, [C]);
      const runningVar = Tensor.fromArray(variance, [C]);
      checkAgainstTf(
        (x0, x1, g, b, a) => ops.batchNormAct([x0, x1!], g!, b!, { training: false, runningMean, runningVar, activation: act, ...(a ? { slope: a } : {}) }),
        (x0, x1, g, b, a) => tfBnAct([x0, x1!], g!, b!, act, a, [tf.tensor(mean), tf.tensor(variance)]),
        [...parts.map((c) => [2, 3, 4, c]), [C], [C], ...(na ? [[na]] : [])],
        322,
        TOL,
      );
      expect(Array.from(runningMean.dataSync())).toEqual(Array.from(mean));
      runningMean.dispose();
      runningVar.dispose();
    });
  }
});

describe('batchNormAct against the composed ops', () => {
  it('running statistics, output and gradients equal concat → batchNorm → prelu (multi-threaded sizes)', () => {
    const parts = [1, 64, 3];
    const C = 68;
    const xs = parts.map((c, i) => randt([2, 33, 35, c], 330 + i, true, 1 + i));
    const gamma = randt([C], 334);
    const beta = randt([C], 335);
    const slope = Tensor.fromArray(new Float32Array([0.25]), [1], { requiresGrad: true });
    const stats = () => [Tensor.zeros([C]), Tensor.ones([C])] as const;
    const [rm1, rv1] = stats();
    const [rm2, rv2] = stats();
    const dy = Tensor.fromArray(randn([2, 33, 35, C], 336), [2, 33, 35, C]);

    const fused = ops.batchNormAct(xs, gamma, beta, { training: true, runningMean: rm1, runningVar: rv1, momentum: 0.3, activation: 'prelu', slope });
    fused.backward(dy);
    const gradsF = [...xs, gamma, beta, slope].map((t) => Float32Array.from(t.grad!.dataSync()));
    for (const t of [...xs, gamma, beta, slope]) {
      t.grad!.dispose();
      t.grad = null;
    }

    const composed = ops.prelu(ops.batchNorm(ops.concat(xs), gamma, beta, { training: true, runningMean: rm2, runningVar: rv2, momentum: 0.3 }), slope);
    composed.backward(dy);
    expectClose(fused.dataSync(), composed.dataSync(), 1e-4, 1e-5, 'forward');
    [...xs, gamma, beta, slope].forEach((t, i) => expectClose(gradsF[i]!, t.grad!.dataSync(), 1e-3, 1e-3, `grad ${i}`));
    expectClose(rm1.dataSync(), rm2.dataSync(), 1e-5, 1e-6, 'running mean');
    expectClose(rv1.dataSync(), rv2.dataSync(), 1e-5, 1e-6, 'running var');
    for (const t of [...xs, gamma, beta, slope, rm1, rv1, rm2, rv2, dy, fused, composed]) t.dispose();
  });

  it('statistics stay accurate when |mean| ≫ std (x = 1000 + 0.01·noise)', () => {
    const shape = [2, 16, 16, 3];
    const data = randn(shape, 340).map((v, i) => 1000 + 0.01 * v + (i % 3));
    const x = Tensor.fromArray(data, shape);
    const g = Tensor.ones([3]);
    const b = Tensor.zeros([3]);
    const y = ops.batchNormAct(x, g, b, { training: true, activation: 'none' }).dataSync();
    // float64 reference of the normalized values
    const n = data.length / 3;
    const want = new Float64Array(data.length);
    for (let c = 0; c < 3; c++) {
      let s = 0;
      for (let i = c; i < data.length; i += 3) s += data[i]!;
      const m = s / n;
      let q = 0;
      for (let i = c; i < data.length; i += 3) q += (data[i]! - m) ** 2;
      for (let i = c; i < data.length; i += 3) want[i] = (data[i]! - m) / Math.sqrt(q / n + EPS);
    }
    // float32 inputs near 1000 carry ~6e-5 absolute rounding, i.e. ~6e-3 of a 0.01 std
    expectClose(y, want, 0, 2e-2, 'normalized');
    for (const t of [x, g, b]) t.dispose();
  });

  it('leaves no native tensor behind (forward + backward, training and eval)', () => {
    const before = native.memory().tensors;
    const xs = [randt([2, 3, 3, 2], 350), randt([2, 3, 3, 3], 351)];
    const g = randt([5], 352);
    const b = randt([5], 353);
    const a = randt([1], 354);
    const rm = Tensor.zeros([5]);
    const rv = Tensor.ones([5]);
    for (const training of [true, false]) {
      const y = ops.batchNormAct(xs, g, b, { training, runningMean: rm, runningVar: rv, activation: 'prelu', slope: a });
      const dy = Tensor.ones(y.shape);
      y.backward(dy);
      dy.dispose();
      y.dispose();
    }
    for (const t of [...xs, g, b, a, rm, rv]) {
      t.grad?.dispose();
      t.dispose();
    }
    expect(native.memory().tensors).toBe(before);
  });
});

describe('batchNormAct argument errors', () => {
  const x = Tensor.zeros([2, 3, 3, 4]);
  const y = Tensor.zeros([2, 3, 4, 2]);
  const g = Tensor.ones([4]);
  const b = Tensor.zeros([4]);
  const a = Tensor.full([1], 0.25);
  it('from TypeScript, naming the op, the argument and the shapes', () => {
    expectError(() => ops.batchNormAct([x, y], Tensor.ones([6]), Tensor.zeros([6]), { training: true }), 'batchNormAct', "'xs[1]'", '[2, 3, 4, 2]', '[2, 3, 3, 4]');
    expectError(() => ops.batchNormAct([x, x], g, b, { training: true }), 'batchNormAct', "'gamma'", '[8]', '[4]');
    expectError(() => ops.batchNormAct(x, g, b, { training: true, activation: 'prelu' }), 'batchNormAct', "'slope'", 'required');
    expectError(() => ops.batchNormAct(x, g, b, { training: true, activation: 'relu', slope: a }), 'batchNormAct', "'slope'", "'prelu'");
    expectError(() => ops.batchNormAct(x, g, b, { training: true, activation: 'prelu', slope: Tensor.ones([3]) }), 'batchNormAct', "'slope'", '[1] or [4]', '[3]');
    expectError(() => ops.batchNormAct(x, g, b, { training: true, activation: 'gelu' as NormActivation }), 'batchNormAct', "'activation'", 'gelu');
    expectError(() => ops.batchNormAct(x, g, b, { training: false }), 'batchNormAct', 'runningMean');
    expectError(() => ops.batchNormAct(Tensor.zeros([1, 1, 1, 4]), g, b, { training: true }), 'batchNormAct', 'N*H*W > 1', '[1, 1, 1, 4]');
    expectError(() => ops.batchNormAct([], g, b, { training: true }), 'batchNormAct', "'xs'");
  });
  it('from C++ when TypeScript is bypassed', () => {
    const h = (t: Tensor) => t.handle;
    expectError(() => native.batchNormActTrain([h(x), h(y)], h(g), h(b), null, null, 0.1, EPS, 0, null), 'batchNormAct', "'xs[1]'", '[2, 3, 4, 2]');
    expectError(() => native.batchNormActTrain([h(x)], h(Tensor.ones([5])), h(b), null, null, 0.1, EPS, 0, null), 'batchNormAct', "'gamma'", '[4]', '[5]');
    expectError(() => native.batchNormActTrain([h(x)], h(g), h(b), null, null, 0.1, EPS, 7, null), 'batchNormAct', "'act'", '7');
    expectError(() => native.batchNormActTrain([h(x)], h(g), h(b), null, null, 0.1, EPS, 2, null), 'batchNormAct', "'slope'");
    expectError(() => native.batchNormActTrain([h(x)], h(g), h(b), null, null, 0.1, -1, 0, null), 'batchNormAct', "'eps'");
    expectError(() => native.batchNormActInfer([h(x)], h(g), h(b), h(g), h(Tensor.ones([2])), EPS, 1, null), 'batchNormAct', "'runningVar'", '[2]');
    expectError(
      () => native.batchNormActBackward([h(x)], h(g), h(g), h(g), h(b), h(y), EPS, false, 1, null),
      'batchNormActBackward',
      "'dy'",
      '[2, 3, 3, 4]',
      '[2, 3, 4, 2]',
    );
  });
});
