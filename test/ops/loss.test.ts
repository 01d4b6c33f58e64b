import { afterAll, describe, expect, it } from 'vitest';

import { memory, setNumThreads } from '../../src/memory.js';
import { native } from '../../src/native.js';
import * as ops from '../../src/ops/index.js';
import { Rng } from '../../src/random.js';
import { Tensor } from '../../src/tensor.js';
import { expectClose, finiteDiff, randn } from '../helpers.js';
import { tf, tfFrom, tfValueAndGrads } from '../reference/tf.js';

const defaultThreads = native.info().threads;
afterAll(() => setNumThreads(defaultThreads));

function randLabels(n: number, K: number, seed: number): Int32Array {
  const r = new Rng(seed);
  return Int32Array.from({ length: n }, () => r.int(K));
}

// float64 reference: sum_i w_i * (logsumexp(x_i) - x_i[label_i]) / P
function refLoss(x: ArrayLike<number>, labels: Int32Array, w: ArrayLike<number> | null, K: number): number {
  const P = labels.length;
  let total = 0;
  for (let i = 0; i < P; i++) {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, x[i * K + k]!);
    let s = 0;
    for (let k = 0; k < K; k++) s += Math.exp(x[i * K + k]! - m);
    total += (w ? w[i]! : 1) * (Math.log(s) + m - x[i * K + labels[i]!]!);
  }
  return total / P;
}

describe('softmaxCrossEntropy without weights against tfjs', () => {
  const cases: [number, number, number, number][] = [
    [2, 3, 5, 2],
    [1, 7, 3, 3],
    [3, 5, 5, 5],
    [2, 4, 7, 9],
    [1, 9, 11, 17],
    [2, 5, 3, 28],
  ];
  for (const [N, H, W, K] of cases) {
    it(`[${N}, ${H}, ${W}, ${K}]`, () => {
      const shape = [N, H, W, K];
      const xd = randn(shape, 100 + K, 3);
      const labels = randLabels(N * H * W, K, 200 + K);
      const g = 1.7;
      const before = memory().tensors;
      const x = Tensor.fromArray(xd, shape, { requiresGrad: true });
      const lab = Tensor.fromArray(labels, [N, H, W]);
      const loss = ops.softmaxCrossEntropy(x, lab);
      expect(loss.shape).toEqual([]);
      const seed = Tensor.full([], g);
      loss.backward(seed);
      seed.dispose();
      const ref = tfValueAndGrads(
        (t) => tf.mean(tf.neg(tf.sum(tf.mul(tf.oneHot(tf.tensor1d(labels, 'int32'), K).reshape(shape), tf.logSoftmax(t)), -1))),
        [tfFrom(xd, shape)],
        tf.scalar(g),
      );
      expectClose(loss.dataSync(), ref.y, 1e-5, 1e-6, 'loss');
      expectClose(x.grad!.dataSync(), ref.grads[0]!, 1e-4, 1e-7, 'dlogits');
      // and tf.losses.softmaxCrossEntropy with reduction MEAN agrees on the value
      const tl = tf.tidy(() =>
        tf.losses
          .softmaxCrossEntropy(tf.oneHot(tf.tensor1d(labels, 'int32'), K), tfFrom(xd, [N * H * W, K]), undefined, 0, tf.Reduction.MEAN)
          .dataSync(),
      );
      expectClose(loss.dataSync(), tl, 1e-5, 1e-6, 'tf.losses');
      expectClose(loss.dataSync(), [refLoss(xd, labels, null, K)], 1e-6, 1e-7, 'float64');
      [x, lab, loss].forEach((t) => t.dispose());
      expect(memory().tensors).toBe(before);
    });
  }
});

describe('softmaxCrossEntropy with per-pixel weights', () => {
  for (const [N, H, W, K] of [
    [2, 3, 5, 4],
    [1, 5, 3, 13],
    [3, 1, 7, 28],
  ] as const) {
    it(`[${N}, ${H}, ${W}, ${K}]: value and gradient against float64`, () => {
      const shape = [N, H, W, K];
      const P = N * H * W;
      const xd = randn(shape, 300 + K, 2);
      const labels = randLabels(P, K, 400 + K);
      const r = new Rng(500 + K);
      const wd = Float32Array.from({ length: P }, () => 0.5 + 4 * r.float());
      const x = Tensor.fromArray(xd, shape, { requiresGrad: true });
      const loss = ops.softmaxCrossEntropy(x, Tensor.fromArray(labels, [N, H, W]), Tensor.fromArray(wd, [N, H, W]));
      const g = 0.8;
      loss.backward(Tensor.full([], g));
      const want = refLoss(xd, labels, wd, K);
      expectClose(loss.dataSync(), [want], 1e-6, 1e-7, 'loss');
      const fd = finiteDiff((v) => g * refLoss(v, labels, wd, K), Float64Array.from(xd), 1e-5);
      expectClose(x.grad!.dataSync(), fd, 1e-4, 1e-7, 'dlogits');
    });
  }
  it('uniform weights of 1 equal the unweighted loss', () => {
    const xd = randn([2, 3, 3, 6], 7);
    const labels = randLabels(18, 6, 8);
    const a = ops.softmaxCrossEntropy(Tensor.fromArray(xd, [2, 3, 3, 6]), Tensor.fromArray(labels, [2, 3, 3])).item();
    const b = ops.softmaxCrossEntropy(Tensor.fromArray(xd, [2, 3, 3, 6]), Tensor.fromArray(labels, [2, 3, 3]), Tensor.ones([2, 3, 3])).item();
    expect(b).toBe(a);
  });
});

describe('softmaxCrossEntropy numerics', () => {
  it('is stable for huge logits (log-sum-exp)', () => {
    const x = Tensor.fromArray([1000, -1000, 0, 80, 90, 100], [1, 1, 2, 3], { requiresGrad: true });
    const loss = ops.softmaxCrossEntropy(x, Tensor.fromArray(new Int32Array([1, 0]), [1, 1, 2]));
    // pixel 0: 2000, pixel 1: lse(80,90,100) - 80 = 20 + log(1 + e^-10 + e^-20)
    expectClose([loss.item()], [(2000 + 20 + Math.log(1 + Math.exp(-10) + Math.exp(-20))) / 2], 1e-6, 0, 'loss');
    loss.backward();
    expect(Array.from(x.grad!.dataSync()).every(Number.isFinite)).toBe(true);
  });
  it('gives the same loss for 1 and 2 threads over many chunks', () => {
    const shape = [2, 64, 67, 5];
    const xd = randn(shape, 11);
    const labels = randLabels(2 * 64 * 67, 5, 12);
    const run = (t: number): number => {
      setNumThreads(t);
      return ops.softmaxCrossEntropy(Tensor.fromArray(xd, shape), Tensor.fromArray(labels, shape.slice(0, 3))).item();
    };
    const one = run(1);
    const two = run(2);
    setNumThreads(defaultThreads);
    expect(two).toBe(one);
    expectClose([one], [refLoss(xd, labels, null, 5)], 1e-6, 0, 'loss');
  });
});

describe('softmaxCrossEntropy errors', () => {
  const x = Tensor.fromArray(randn([2, 3, 4, 5], 1), [2, 3, 4, 5]);
  const labels = new Int32Array(24).fill(1);
  it('labels out of range name the op, argument, value and position', () => {
    const bad = labels.slice();
    bad[1 * 12 + 2 * 4 + 3] = 5;
    expect(() => ops.softmaxCrossEntropy(x, Tensor.fromArray(bad, [2, 3, 4]))).toThrow(
      "softmaxCrossEntropy: argument 'labels' has 5 at [1, 2, 3], outside the class range [0, 5) of 'logits' [2, 3, 4, 5]",
    );
    bad[1 * 12 + 2 * 4 + 3] = 1;
    bad[7] = -1;
    expect(() => ops.softmaxCrossEntropy(x, Tensor.fromArray(bad, [2, 3, 4]))).toThrow(/'labels' has -1 at \[0, 1, 3\]/);
  });
  it('NaN and Inf logits', () => {
    const xd = randn([2, 3, 4, 5], 1);
    xd[((0 * 3 + 2) * 4 + 1) * 5 + 4] = NaN;
    expect(() => ops.softmaxCrossEntropy(Tensor.fromArray(xd, [2, 3, 4, 5]), Tensor.fromArray(labels, [2, 3, 4]))).toThrow(
      "softmaxCrossEntropy: argument 'logits' contains NaN/Inf at [0, 2, 1, 4] (value NaN)",
    );
    xd[((0 * 3 + 2) * 4 + 1) * 5 + 4] = 0;
    xd[((1 * 3 + 0) * 4 + 0) * 5 + 0] = -Infinity;
    expect(() => ops.softmaxCrossEntropy(Tensor.fromArray(xd, [2, 3, 4, 5]), Tensor.fromArray(labels, [2, 3, 4]))).toThrow(
      /'logits' contains NaN\/Inf at \[1, 0, 0, 0\] \(value -Inf\)/,
    );
  });
  it('non-finite weights', () => {
    const w = new Float32Array(24).fill(1);
    w[5] = Infinity;
    expect(() => ops.softmaxCrossEntropy(x, Tensor.fromArray(labels, [2, 3, 4]), Tensor.fromArray(w, [2, 3, 4]))).toThrow(
      /argument 'weights' contains NaN\/Inf at \[0, 1, 1\]/,
    );
  });
  it('a failed call leaves no live tensor', () => {
    const bad = labels.slice();
    bad[0] = 99;
    const lab = Tensor.fromArray(bad, [2, 3, 4]);
    const before = memory().tensors;
    expect(() => native.softmaxCrossEntropy(x.handle, lab.handle, null)).toThrow(/'labels' has 99/);
    expect(memory().tensors).toBe(before);
  });
  it('shape and dtype mismatches (TypeScript and native checks)', () => {
    expect(() => ops.softmaxCrossEntropy(x, Tensor.fromArray(labels.slice(0, 12), [1, 3, 4]))).toThrow(
      "softmaxCrossEntropy: argument 'labels' expected shape [2, 3, 4] ('logits' [2, 3, 4, 5] without the class axis), got [1, 3, 4]",
    );
    expect(() => ops.softmaxCrossEntropy(x, Tensor.zeros([2, 3, 4]))).toThrow(/softmaxCrossEntropy: argument 'labels' must be int32, got float32/);
    expect(() => ops.softmaxCrossEntropy(x, Tensor.fromArray(labels, [2, 3, 4]), Tensor.ones([2, 3, 4, 1]))).toThrow(
      /softmaxCrossEntropy: argument 'weights' expected shape \[2, 3, 4\] \(one weight per pixel/,
    );
    expect(() => ops.softmaxCrossEntropy(Tensor.zeros([5]), Tensor.zeros([], 'int32'))).toThrow(/argument 'logits' expected rank >= 2/);
    const l3 = Tensor.fromArray(labels.slice(0, 12), [1, 3, 4]);
    expect(() => native.softmaxCrossEntropy(x.handle, l3.handle, null)).toThrow(/softmaxCrossEntropy: argument 'labels' expected shape \[2, 3, 4\]/);
    expect(() => native.softmaxCrossEntropy(x.handle, x.handle, null)).toThrow(/softmaxCrossEntropy: argument 'labels' must be int32/);
    const lab = Tensor.fromArray(labels, [2, 3, 4]);
    expect(() => native.softmaxCrossEntropyBackward(x.handle, lab.handle, null, x.handle)).toThrow(
      /softmaxCrossEntropyBackward: argument 'dy' must have one element/,
    );
  });
});
