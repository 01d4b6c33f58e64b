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

function randLabels(n: number, K: number, seed: number, skip: number[] = []): Int32Array {
  const r = new Rng(seed);
  return Int32Array.from({ length: n }, () => {
    for (;;) {
      const l = r.int(K);
      if (!skip.includes(l)) return l;
    }
  });
}

// float64 reference: 1 - mean_{k in C} (2 I_k + s) / (Sp_k + G_k + eps), sums over all pixels
function refDice(x: ArrayLike<number>, labels: Int32Array, K: number, classes: number[], eps = 1e-5, s = 1e-5): number {
  const I = new Float64Array(K);
  const Sp = new Float64Array(K);
  const G = new Float64Array(K);
  for (let i = 0; i < labels.length; i++) {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, x[i * K + k]!);
    let z = 0;
    for (let k = 0; k < K; k++) z += Math.exp(x[i * K + k]! - m);
    for (let k = 0; k < K; k++) {
      const p = Math.exp(x[i * K + k]! - m) / z;
      Sp[k] += p;
      if (labels[i] === k) {
        I[k] += p;
        G[k] += 1;
      }
    }
  }
  let d = 0;
  for (const k of classes) d += (2 * I[k]! + s) / (Sp[k]! + G[k]! + eps);
  return 1 - d / classes.length;
}

// the same loss written with tfjs ops (softmax once, one-hot, batch sums)
function tfDice(K: number, labels: Int32Array, shape: number[], classes: number[], eps = 1e-5, s = 1e-5) {
  return (x: tf.Tensor): tf.Tensor => {
    const p = tf.softmax(x);
    const g = tf.oneHot(tf.tensor1d(labels, 'int32'), K).reshape(shape);
    const I = tf.sum(tf.mul(p, g), [0, 1, 2]);
    const den = tf.add(tf.add(tf.sum(p, [0, 1, 2]), tf.sum(g, [0, 1, 2])), eps);
    const d = tf.div(tf.add(tf.mul(I, 2), s), den);
    const sel = tf.gather(d, tf.tensor1d(classes, 'int32'));
    return tf.sub(1, tf.mean(sel));
  };
}

describe('diceLoss by hand', () => {
  // pixel 0: logits [0, 0] -> p = [1/2, 1/2], label 1; pixel 1: logits [ln 3, 0] -> p = [3/4, 1/4], label 0
  const x = (): Tensor => Tensor.fromArray([0, 0, Math.log(3), 0], [1, 1, 2, 2], { requiresGrad: true });
  const lab = (): Tensor => Tensor.fromArray(new Int32Array([1, 0]), [1, 1, 2]);
  it('foreground only (default): class 1 has I = 1/2, Σp = 3/4, Σg = 1', () => {
    const l = ops.diceLoss(x(), lab());
    expect(l.shape).toEqual([]);
    expectClose([l.item()], [1 - (2 * 0.5 + 1e-5) / (0.75 + 1 + 1e-5)], 1e-6, 0, 'loss');
    // the paper's formula (no numerator smoothing): 1 - 1 / 1.75001
    expectClose([ops.diceLoss(x(), lab(), { smoothNr: 0 }).item()], [1 - 1 / 1.75001], 1e-6, 0, 'smoothNr 0');
  });
  it('with background: class 0 has I = 3/4, Σp = 5/4, Σg = 1 (Dice 2/3)', () => {
    const l = ops.diceLoss(x(), lab(), { includeBackground: true, eps: 1e-7, smoothNr: 0 });
    expectClose([l.item()], [1 - (1.5 / 2.25 + 1 / 1.75) / 2], 1e-6, 0, 'loss');
    const only0 = ops.diceLoss(x(), lab(), { classes: [0], eps: 1e-7, smoothNr: 0 });
    expectClose([only0.item()], [1 - 1.5 / 2.25], 1e-6, 0, 'classes [0]');
  });
  it('a perfect confident prediction has loss ~0', () => {
    const l = ops.diceLoss(Tensor.fromArray([50, 0, 0, 0, 50, 0, 0, 0, 50], [1, 1, 3, 3]), Tensor.fromArray(new Int32Array([0, 1, 2]), [1, 1, 3]), { includeBackground: true });
    expect(l.item()).toBeCloseTo(0, 5);
  });
});

describe('diceLoss against tfjs (value and tf.grads)', () => {
  const cases: { shape: [number, number, number, number]; opts: ops.DiceLossOptions; classes: (K: number) => number[] }[] = [
    { shape: [2, 5, 6, 4], opts: {}, classes: (K) => Array.from({ length: K - 1 }, (_, i) => i + 1) },
    { shape: [2, 5, 6, 4], opts: { includeBackground: true }, classes: (K) => Array.from({ length: K }, (_, i) => i) },
    { shape: [1, 7, 3, 9], opts: { classes: [8, 2, 5] }, classes: () => [8, 2, 5] },
    { shape: [3, 4, 4, 2], opts: { smoothNr: 0, eps: 1e-3 }, classes: () => [1] },
    { shape: [2, 9, 11, 28], opts: {}, classes: (K) => Array.from({ length: K - 1 }, (_, i) => i + 1) },
  ];
  for (const { shape, opts, classes } of cases) {
    it(`${JSON.stringify(shape)} ${JSON.stringify(opts)}`, () => {
      const [N, H, W, K] = shape;
      const xd = randn(shape, 10 + K, 2);
      const labels = randLabels(N * H * W, K, 20 + K);
      const before = memory().tensors;
      const x = Tensor.fromArray(xd, shape, { requiresGrad: true });
      const lab = Tensor.fromArray(labels, [N, H, W]);
      const loss = ops.diceLoss(x, lab, opts);
      const seed = Tensor.full([], 1.3);
      loss.backward(seed);
      const cls = classes(K);
      const ref = tfValueAndGrads(tfDice(K, labels, shape, cls, opts.eps ?? 1e-5, opts.smoothNr ?? 1e-5), [tfFrom(xd, shape)], tf.scalar(1.3));
      expectClose(loss.dataSync(), ref.y, 1e-5, 1e-6, 'loss vs tf');
      expectClose([loss.item()], [refDice(xd, labels, K, cls, opts.eps, opts.smoothNr)], 1e-6, 1e-7, 'loss vs float64');
      expectClose(x.grad!.dataSync(), ref.grads[0]!, 1e-4, 1e-8, 'dlogits vs tf');
      [x, lab, loss, seed].forEach((t) => t.dispose());
      expect(memory().tensors).toBe(before);
    });
  }
  it('gradient against float64 finite differences', () => {
    const shape = [2, 3, 2, 5];
    const xd = randn(shape, 5, 1.5);
    const labels = randLabels(12, 5, 6);
    const x = Tensor.fromArray(xd, shape, { requiresGrad: true });
    ops.diceLoss(x, Tensor.fromArray(labels, [2, 3, 2])).backward();
    const fd = finiteDiff((v) => refDice(v, labels, 5, [1, 2, 3, 4]), Float64Array.from(xd), 1e-5);
    expectClose(x.grad!.dataSync(), fd, 1e-3, 1e-7, 'dlogits');
  });
});

describe('diceLoss empty classes (never NaN)', () => {
  it('a class absent from the target but predicted counts as Dice smoothNr/(Σp + eps) ≈ 0 and still gets a gradient', () => {
    const shape = [1, 4, 4, 3];
    const xd = randn(shape, 3);
    const labels = randLabels(16, 3, 4, [2]); // class 2 never in the target
    const x = Tensor.fromArray(xd, shape, { requiresGrad: true });
    const l = ops.diceLoss(x, Tensor.fromArray(labels, [1, 4, 4]));
    l.backward();
    expect(Number.isFinite(l.item())).toBe(true);
    expectClose([l.item()], [refDice(xd, labels, 3, [1, 2])], 1e-6, 1e-7, 'loss');
    const g = x.grad!.dataSync();
    expect(Array.from(g).every(Number.isFinite)).toBe(true);
  });
  it('a class absent from both target and prediction counts as Dice 1 (loss 0), as MONAI (smooth_nr = smooth_dr = 1e-5)', () => {
    // p_2 = exp(-200)/... underflows to exactly 0 in float32
    const xd = [0, 1, -200, 1, 0, -200, 3, 0, -200];
    const x = Tensor.fromArray(xd, [1, 1, 3, 3], { requiresGrad: true });
    const lab = Tensor.fromArray(new Int32Array([1, 0, 0]), [1, 1, 3]);
    const l = ops.diceLoss(x, lab, { classes: [2] });
    expect(l.item()).toBe(0);
    l.backward();
    expect(Array.from(x.grad!.dataSync()).every((v) => v === 0)).toBe(true);
    // with the paper's formula (no numerator term) the same class counts as Dice 0: loss 1, no NaN
    expect(ops.diceLoss(x, lab, { classes: [2], smoothNr: 0 }).item()).toBe(1);
  });
});

describe('diceLoss determinism and combinedLoss', () => {
  it('same loss for 1 and 2 threads over many chunks', () => {
    const shape = [2, 64, 67, 5];
    const xd = randn(shape, 11);
    const labels = randLabels(2 * 64 * 67, 5, 12);
    const run = (t: number): [number, Float32Array] => {
      setNumThreads(t);
      const x = Tensor.fromArray(xd, shape, { requiresGrad: true });
      const l = ops.diceLoss(x, Tensor.fromArray(labels, shape.slice(0, 3)));
      l.backward();
      return [l.item(), x.grad!.dataSync() as Float32Array];
    };
    const [l1, g1] = run(1);
    const [l2, g2] = run(2);
    setNumThreads(defaultThreads);
    expect(l2).toBe(l1);
    expect(Buffer.from(g2.buffer).equals(Buffer.from(g1.buffer))).toBe(true);
    expectClose([l1], [refDice(xd, labels, 5, [1, 2, 3, 4])], 1e-6, 0, 'loss');
  });
  it('combinedLoss = weighted CE + Dice, gradients add up', () => {
    const shape = [2, 4, 5, 6];
    const xd = randn(shape, 31);
    const labels = randLabels(40, 6, 32);
    const wd = Float32Array.from(randn([40], 33), (v) => 1 + Math.abs(v));
    const lab = Tensor.fromArray(labels, [2, 4, 5]);
    const w = Tensor.fromArray(wd, [2, 4, 5]);
    const before = memory().tensors;
    const x = Tensor.fromArray(xd, shape, { requiresGrad: true });
    const { loss, ce, dice } = ops.combinedLoss(x, lab, w, { includeBackground: true });
    expectClose([loss.item()], [ce.item() + dice.item()], 1e-6, 0, 'loss = ce + dice');
    expectClose([dice.item()], [refDice(xd, labels, 6, [0, 1, 2, 3, 4, 5])], 1e-6, 0, 'dice');
    loss.backward();
    const gAll = x.grad!.dataSync();
    const x1 = Tensor.fromArray(xd, shape, { requiresGrad: true });
    const l1 = ops.softmaxCrossEntropy(x1, lab, w);
    l1.backward();
    const x2 = Tensor.fromArray(xd, shape, { requiresGrad: true });
    const l2 = ops.diceLoss(x2, lab, { includeBackground: true });
    l2.backward();
    const sum = x1.grad!.dataSync().map((v, i) => v + x2.grad!.dataSync()[i]!);
    expectClose(gAll, sum, 1e-5, 1e-8, 'dlogits');
    [x, x1, x2, l1, l2, loss, ce, dice].forEach((t) => t.dispose());
    expect(memory().tensors).toBe(before);
  });
});

describe('diceLoss errors', () => {
  const x = Tensor.fromArray(randn([2, 3, 4, 5], 1), [2, 3, 4, 5]);
  const labels = Tensor.fromArray(new Int32Array(24).fill(1), [2, 3, 4]);
  it('bad options name the op and argument', () => {
    expect(() => ops.diceLoss(x, labels, { classes: [5] })).toThrow("diceLoss: argument 'classes' has 5, outside [0, 5)");
    expect(() => ops.diceLoss(x, labels, { classes: [1, 1] })).toThrow(/diceLoss: argument 'classes' lists class 1 twice/);
    expect(() => ops.diceLoss(x, labels, { classes: [] })).toThrow(/diceLoss: argument 'classes' must be a non-empty array/);
    expect(() => ops.diceLoss(x, labels, { eps: 0 })).toThrow(/diceLoss: argument 'eps' must be > 0/);
    expect(() => ops.diceLoss(x, labels, { smoothNr: -1 })).toThrow(/diceLoss: argument 'smoothNr' must be a finite number >= 0/);
    expect(() => ops.diceLoss(Tensor.zeros([1, 2, 2, 1]), Tensor.zeros([1, 2, 2], 'int32'))).toThrow(/diceLoss: logits have 1 class\(es\): no foreground class/);
  });
  it('shapes, dtypes and labels (TypeScript and native checks)', () => {
    expect(() => ops.diceLoss(x, Tensor.zeros([2, 3, 4]))).toThrow(/diceLoss: argument 'labels' must be int32, got float32/);
    expect(() => ops.diceLoss(x, Tensor.zeros([2, 3, 5], 'int32'))).toThrow(
      "diceLoss: argument 'labels' expected shape [2, 3, 4] ('logits' [2, 3, 4, 5] without the class axis), got [2, 3, 5]",
    );
    const bad = new Int32Array(24).fill(1);
    bad[13] = 7;
    expect(() => ops.diceLoss(x, Tensor.fromArray(bad, [2, 3, 4]))).toThrow(
      "diceLoss: argument 'labels' has 7 at [1, 0, 1], outside the class range [0, 5) of 'logits' [2, 3, 4, 5]",
    );
    const xd = randn([2, 3, 4, 5], 1);
    xd[7] = NaN;
    expect(() => ops.diceLoss(Tensor.fromArray(xd, [2, 3, 4, 5]), labels)).toThrow(/diceLoss: argument 'logits' contains NaN\/Inf at \[0, 0, 1, 2\]/);
    const before = memory().tensors;
    expect(() => native.diceLoss(x.handle, labels.handle, [0, 9], 1e-5, 0)).toThrow(/diceLoss: argument 'classes' has 9/);
    expect(() => native.diceLoss(x.handle, labels.handle, [1], -1, 0)).toThrow(/diceLoss: argument 'eps' must be a finite number >= 0/);
    expect(() => native.diceLoss(x.handle, x.handle, [1], 1e-5, 0)).toThrow(/diceLoss: argument 'labels' must be int32/);
    expect(() => native.diceLossBackward(x.handle, labels.handle, x.handle, [1], 1e-5, 0, x.handle)).toThrow(
      /diceLossBackward: argument 'stats' expected shape \[3, 5\], got \[2, 3, 4, 5\]/,
    );
    expect(memory().tensors).toBe(before);
  });
});
