import { describe, expect, it } from 'vitest';

import * as ops from '../../src/ops/index.js';
import { Tensor } from '../../src/tensor.js';
import { checkAgainstTf, type TfFn } from '../reference/compare.js';
import { tf } from '../reference/tf.js';

describe('unary ops against tfjs', () => {
  it('relu', () => checkAgainstTf(ops.relu, (x) => tf.relu(x), [[2, 5, 7, 3]], 1));
  it('sigmoid', () => checkAgainstTf(ops.sigmoid, (x) => tf.sigmoid(x), [[2, 5, 7, 3]], 2));
  it('scale', () => checkAgainstTf((x) => ops.scale(x, -2.5, 0.5), (x) => tf.add(tf.mul(x, -2.5), 0.5), [[3, 4, 5]], 3));
  it('prelu with one slope per channel', () =>
    checkAgainstTf(ops.prelu, (x, a) => tf.prelu(x, a!), [[2, 5, 7, 6], [6]], 4, { rtol: 1e-5, atol: 1e-5 }));
  it('prelu with one shared slope', () =>
    checkAgainstTf(ops.prelu, (x, a) => tf.prelu(x, tf.reshape(a!, [])), [[2, 5, 7, 6], [1]], 5, { rtol: 1e-5, atol: 1e-5 }));
});

describe('broadcasting binary ops against tfjs', () => {
  const cases: [string, number[], number[]][] = [
    ['same shape', [2, 5, 7, 3], [2, 5, 7, 3]],
    ['per channel [C]', [2, 5, 7, 3], [3]],
    ['per channel [N,1,1,C]', [2, 5, 7, 3], [2, 1, 1, 3]],
    ['per pixel [N,H,W,1]', [2, 5, 7, 3], [2, 5, 7, 1]],
    ['scalar', [2, 5, 7, 3], [1]],
    ['both broadcast', [2, 1, 7, 1], [1, 5, 1, 3]],
  ];
  // div keeps the divisor away from zero: b -> |b| + 0.5 on both sides
  const fns: [string, (a: Tensor, b: Tensor) => Tensor, TfFn][] = [
    ['add', ops.add, (a, b) => tf.add(a, b!)],
    ['sub', ops.sub, (a, b) => tf.sub(a, b!)],
    ['mul', ops.mul, (a, b) => tf.mul(a, b!)],
    ['div', (a, b) => ops.div(a, ops.scale(absLike(b), 1, 0.5)), (a, b) => tf.div(a, tf.add(tf.abs(b!), 0.5))],
  ];
  for (const [name, ours, theirs] of fns) {
    for (const [cname, sa, sb] of cases) {
      it(`${name}: ${cname}`, () => checkAgainstTf(ours, theirs, [sa, sb], 10, { rtol: 1e-5, atol: 1e-5 }));
    }
  }
  it('maximum against tfjs (tfjs cannot broadcast its gradient, so same shapes)', () => checkAgainstTf(ops.maximum, (a, b) => tf.maximum(a, b!), [[2, 3, 4, 5], [2, 3, 4, 5]], 20));
  it('maximum and minimum split ties equally (torch.maximum / torch.minimum)', () => {
    const a = Tensor.fromArray([1, 2, 3], [3], { requiresGrad: true });
    const b = Tensor.fromArray([1, 5, 0], [3], { requiresGrad: true });
    ops.sum(ops.maximum(a, b)).backward();
    expect(Array.from(a.grad!.dataSync())).toEqual([0.5, 0, 1]);
    expect(Array.from(b.grad!.dataSync())).toEqual([0.5, 1, 0]);
    a.grad!.dispose();
    a.grad = null;
    b.grad!.dispose();
    b.grad = null;
    ops.sum(ops.minimum(a, b)).backward();
    expect(Array.from(a.grad!.dataSync())).toEqual([0.5, 1, 0]);
    expect(Array.from(b.grad!.dataSync())).toEqual([0.5, 0, 1]);
  });
});

// |b| from our own ops (relu(b) + relu(-b))
function absLike(b: Tensor): Tensor {
  return ops.add(ops.relu(b), ops.relu(ops.neg(b)));
}

describe('shape ops and reductions against tfjs', () => {
  it('concat along channels', () =>
    checkAgainstTf((a, b, c) => ops.concat([a, b!, c!]), (a, b, c) => tf.concat([a, b!, c!], 3), [[2, 3, 5, 4], [2, 3, 5, 1], [2, 3, 5, 7]], 30));
  it('split along channels', () =>
    checkAgainstTf(
      (x) => {
        const [a, b] = ops.split(x, [2, 5]);
        return ops.add(ops.scale(a!, 3), ops.sum(b!, 3, true));
      },
      (x) => {
        const [a, b] = tf.split(x, [2, 5], 3);
        return tf.add(tf.mul(a!, 3), tf.sum(b!, 3, true));
      },
      [[2, 3, 5, 7]],
      31,
    ));
  it('softmax over channels', () => checkAgainstTf(ops.softmax, (x) => tf.softmax(x), [[2, 3, 5, 7]], 32));
  it('sum over everything', () => checkAgainstTf((x) => ops.sum(x), (x) => tf.sum(x), [[2, 3, 5, 7]], 33, { rtol: 1e-5, atol: 1e-4 }));
  it('mean over H, W', () => checkAgainstTf((x) => ops.mean(x, [1, 2]), (x) => tf.mean(x, [1, 2]), [[2, 3, 5, 7]], 34));
  it('mean with keepDims', () => checkAgainstTf((x) => ops.mean(x, [0, 1, 2], true), (x) => tf.mean(x, [0, 1, 2], true), [[2, 3, 5, 7]], 35));
  it('sum over the last axis of a matrix', () => checkAgainstTf((x) => ops.sum(x, -1), (x) => tf.sum(x, -1), [[4, 9]], 36));
  it('reshape shares storage and routes the gradient', () =>
    checkAgainstTf(
      (x) => ops.mul(ops.reshape(x, [6, -1]), ops.reshape(x, [6, 10])),
      (x) => tf.mul(tf.reshape(x, [6, 10]), tf.reshape(x, [6, 10])),
      [[2, 3, 10]],
      37,
    ));
});
