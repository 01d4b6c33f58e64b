import { describe, expect, it } from 'vitest';

import { tidy } from '../../src/autograd/scope.js';
import { noGrad } from '../../src/autograd/tape.js';
import { native } from '../../src/native.js';
import * as ops from '../../src/ops/index.js';
import { Tensor } from '../../src/tensor.js';
import { expectClose, expectError, randn, randt } from '../helpers.js';
import { checkAgainstTf } from '../reference/compare.js';
import { tf } from '../reference/tf.js';

const EPS = 1e-5;
const TOL = { rtol: 1e-4, atol: 1e-4 };

// Training-mode batch norm built from tfjs primitives, so tf.grads differentiates the statistics too.
function tfBnTrain(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps = EPS): tf.Tensor {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), g), b);
}

// A positive [C] vector for variances.
function positive(c: number, seed: number): Float32Array {
  return randn([c], seed).map((v) => Math.abs(v) + 0.5);
}

describe('batchNorm training mode against tfjs (forward, dx, dgamma, dbeta)', () => {
  const shapes: [string, number[]][] = [
    ['small', [2, 5, 7, 3]],
    ['odd sizes', [3, 7, 5, 16]],
    ['batch 1, H,W > 1', [1, 5, 7, 4]],
    ['one channel', [2, 3, 5, 1]],
    ['batch 1, one channel', [1, 4, 3, 1]],
    ['64 channels', [2, 4, 6, 64]],
    ['batch 1, 64 channels, odd', [1, 3, 5, 64]],
  ];
  for (const [name, s] of shapes) {
    it(name, () =>
      checkAgainstTf(
        (x, g, b) => ops.batchNorm(x, g!, b!, { training: true }),
        (x, g, b) => tfBnTrain(x, g!, b!),
        [s, [s[3]!], [s[3]!]],
        40 + s[3]!,
        TOL,
      ));
  }
  it('input with a large offset and scale (x*3 + 5) and a larger eps', () =>
    checkAgainstTf(
      (x, g, b) => ops.batchNorm(ops.scale(x, 3, 5), g!, b!, { training: true, eps: 1e-3 }),
      (x, g, b) => tfBnTrain(tf.add(tf.mul(x, 3), 5), g!, b!, 1e-3),
      [[2, 6, 5, 8], [8], [8]],
      60,
      TOL,
    ));
});

describe('batchNorm inference mode against tfjs', () => {
  for (const s of [
    [2, 5, 7, 3],
    [1, 3, 5, 64],
    [2, 4, 4, 1],
  ]) {
    it(`[${s.join(', ')}]`, () => {
      const C = s[3]!;
      const mean = randn([C], 70);
      const variance = positive(C, 71);
      const runningMean = Tensor.fromArray(mean, [C]);
      const runningVar = Tensor.fromArray(variance, [C]);
      checkAgainstTf(
        (x, g, b) => ops.batchNorm(x, g!, b!, { training: false, runningMean, runningVar }),
        (x, g, b) => tf.batchNorm(x, tf.tensor(mean), tf.tensor(variance), b!, g!, EPS),
        [s, [C], [C]],
        72,
        TOL,
      );
      // the running statistics are constants in inference mode: untouched, no gradient
      expect(Array.from(runningMean.dataSync())).toEqual(Array.from(mean));
      expect(Array.from(runningVar.dataSync())).toEqual(Array.from(variance));
      expect(runningMean.grad).toBeNull();
      runningMean.dispose();
      runningVar.dispose();
    });
  }
});

describe('batchNorm running statistics', () => {
  it('after 3 training steps match the closed form (unbiased batch variance, momentum)', () => {
    const shape = [2, 3, 5, 4];
    const C = 4;
    const n = 2 * 3 * 5;
    const momentum = 0.3;
    const runningMean = Tensor.zeros([C]);
    const runningVar = Tensor.ones([C]);
    const gamma = randt([C], 80);
    const beta = randt([C], 81);
    const wantMean = new Float64Array(C);
    const wantVar = new Float64Array(C).fill(1);
    for (let step = 0; step < 3; step++) {
      // offset and scale per step so the statistics move
      const data = randn(shape, 82 + step).map((v, i) => v * (1 + step) + (i % C) - step);
      const x = Tensor.fromArray(data, shape);
      ops.batchNorm(x, gamma, beta, { training: true, runningMean, runningVar, momentum }).dispose();
      x.dispose();
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let i = c; i < data.length; i += C) s += data[i]!;
        const m = s / n;
        let ss = 0;
        for (let i = c; i < data.length; i += C) ss += (data[i]! - m) ** 2;
        wantMean[c] = (1 - momentum) * wantMean[c]! + momentum * m;
        wantVar[c] = (1 - momentum) * wantVar[c]! + momentum * (ss / (n - 1));
      }
    }
    expectClose(runningMean.dataSync(), wantMean, 1e-5, 1e-6, 'running mean');
    expectClose(runningVar.dataSync(), wantVar, 1e-5, 1e-6, 'running var');
    for (const t of [runningMean, runningVar, gamma, beta]) t.dispose();
  });

  it('are updated under noGrad too, and momentum 0 leaves them unchanged', () => {
    const rm = Tensor.zeros([3]);
    const rv = Tensor.ones([3]);
    const g = Tensor.ones([3]);
    const b = Tensor.zeros([3]);
    const x = Tensor.fromArray(randn([2, 2, 2, 3], 90).map((v) => v + 4), [2, 2, 2, 3]);
    ops.batchNorm(x, g, b, { training: true, runningMean: rm, runningVar: rv, momentum: 0 }).dispose();
    expect(Array.from(rm.dataSync())).toEqual([0, 0, 0]);
    expect(Array.from(rv.dataSync())).toEqual([1, 1, 1]);
    noGrad(() => ops.batchNorm(x, g, b, { training: true, runningMean: rm, runningVar: rv }).dispose());
    for (const v of rm.dataSync()) expect(v).toBeGreaterThan(0.2); // 0.1 * (about 4)
    for (const t of [rm, rv, g, b, x]) t.dispose();
  });
});

describe('batchNorm memory', () => {
  it('forward + backward leaves no native tensor behind', () => {
    const before = native.memory().tensors;
    const x = randt([2, 3, 3, 5], 100);
    const g = randt([5], 101);
    const b = randt([5], 102);
    const rm = Tensor.zeros([5]);
    const rv = Tensor.ones([5]);
    for (const training of [true, false]) {
      tidy(() => ops.sum(ops.mul(ops.batchNorm(x, g, b, { training, runningMean: rm, runningVar: rv }), x)).backward());
    }
    // without grad nothing is saved either
    noGrad(() => ops.batchNorm(x, g, b, { training: true }).dispose());
    for (const t of [x, g, b, rm, rv]) t.dispose();
    expect(native.memory().tensors).toBe(before);
  });
});

describe('batchNorm bad inputs', () => {
  const C = 3;
  const x = randt([2, 4, 4, C], 110, false);
  const g = randt([C], 111, false);
  const b = randt([C], 112, false);
  it('are rejected in TypeScript with the op and argument named', () => {
    expectError(() => ops.batchNorm(randt([2, 4, C], 1, false), g, b, { training: true }), 'batchNorm', "'x'", 'rank 4');
    expectError(() => ops.batchNorm(x, randt([C + 1], 1, false), b, { training: true }), 'batchNorm', "'gamma'", `[${C}]`, `[${C + 1}]`);
    expectError(() => ops.batchNorm(x, g, randt([1, C], 1, false), { training: true }), 'batchNorm', "'beta'");
    expectError(() => ops.batchNorm(Tensor.zeros([2, 4, 4, C], 'int32'), g, b, { training: true }), 'batchNorm', "'x'", 'float32', 'int32');
    expectError(() => ops.batchNorm(x, g, b, { training: true, eps: 0 }), 'batchNorm', "'eps'");
    expectError(() => ops.batchNorm(x, g, b, { training: true, momentum: 1.5 }), 'batchNorm', "'momentum'");
    expectError(() => ops.batchNorm(x, g, b, { training: false }), 'batchNorm', 'runningMean');
    expectError(() => ops.batchNorm(x, g, b, { training: true, runningMean: Tensor.zeros([C]) }), 'batchNorm', 'runningVar');
    expectError(() => ops.batchNorm(x, g, b, { training: false, runningMean: Tensor.zeros([C + 2]), runningVar: Tensor.ones([C]) }), 'batchNorm', "'runningMean'");
    expectError(() => ops.batchNorm(randt([1, 1, 1, C], 1, false), g, b, { training: true }), 'batchNorm', 'more than one value');
    expectError(() => ops.batchNorm(x, g, b, {} as never), 'batchNorm', 'training');
    const d = randt([C], 1, false);
    d.dispose();
    expectError(() => ops.batchNorm(x, d, b, { training: true }), 'batchNorm', "'gamma'", 'disposed');
  });
  it('are rejected natively too (no crash)', () => {
    expectError(() => native.batchNormTrain(x.handle, randt([C + 1], 1, false).handle, b.handle, null, null, 0.1, 1e-5), 'batchNorm', "'gamma'");
    expectError(() => native.batchNormTrain(x.handle, g.handle, b.handle, null, null, 2, 1e-5), 'batchNorm', "'momentum'");
    expectError(() => native.batchNormTrain(x.handle, g.handle, b.handle, null, null, 0.1, -1), 'batchNorm', "'eps'");
    expectError(() => native.batchNormInfer(randt([8, C], 1, false).handle, g.handle, b.handle, g.handle, g.handle, 1e-5), 'batchNorm', "'x'", 'rank 4');
    expectError(() => native.batchNormBackward(x.handle, g.handle, g.handle, g.handle, randt([2, 4, 5, C], 1, false).handle, 1e-5, false), 'batchNormBackward', "'dy'");
    const d = randt([C], 1, false);
    const h = d.handle;
    d.dispose();
    expectError(() => native.batchNormInfer(x.handle, g.handle, b.handle, h, g.handle, 1e-5), 'batchNorm', "'runningMean'", 'disposed');
  });
});
