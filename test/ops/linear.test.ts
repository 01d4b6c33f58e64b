import { describe, expect, it } from 'vitest';

import { native } from '../../src/native.js';
import * as ops from '../../src/ops/index.js';
import { Tensor } from '../../src/tensor.js';
import { randt } from '../helpers.js';
import { checkAgainstTf } from '../reference/compare.js';
import { tf } from '../reference/tf.js';

const tol = { rtol: 1e-4, atol: 1e-5 };

describe('linear against tfjs (forward, dx, dw, dbias)', () => {
  const cases: [string, number, number, number][] = [
    ['batch 1', 1, 7, 3],
    ['batch 5', 5, 7, 3],
    ['SE-sized MLP 64 -> 4', 3, 64, 4],
    ['wider 130 -> 33, batch 64', 64, 130, 33],
  ];
  cases.forEach(([name, n, inF, outF], i) => {
    it(`${name}, with bias`, () =>
      checkAgainstTf((x, w, b) => ops.linear(x, w!, b!), (x, w, b) => tf.add(tf.matMul(x, w!, false, true), b!), [[n, inF], [outF, inF], [outF]], 20 + i, tol));
    it(`${name}, without bias`, () =>
      checkAgainstTf((x, w) => ops.linear(x, w!), (x, w) => tf.matMul(x, w!, false, true), [[n, inF], [outF, inF]], 40 + i, tol));
  });

  it('only the inputs that require grad get one', () => {
    const x = randt([4, 6], 60, false);
    const w = randt([3, 6], 61, true);
    ops.sum(ops.linear(x, w)).backward();
    expect(x.grad).toBeNull();
    expect(w.grad!.shape).toEqual([3, 6]);
  });
});

describe('linear bad inputs', () => {
  const x = randt([4, 6], 70, false);
  const w = randt([3, 6], 71, false);
  it('feature mismatch, ranks, bias, dtype, disposed', () => {
    expect(() => ops.linear(x, randt([3, 5], 72, false))).toThrow(/linear: argument 'w' \[3, 5\] expects 5 input features but 'x' \[4, 6\] has 6/);
    expect(() => ops.linear(randt([4, 6, 1], 73, false), w)).toThrow(/linear: argument 'x' expected rank 2 \[N, in\], got shape \[4, 6, 1\]/);
    expect(() => ops.linear(x, w, randt([6], 74, false))).toThrow(/linear: argument 'bias' expected shape \[3\] \(output features\), got \[6\]/);
    expect(() => ops.linear(Tensor.zeros([4, 6], 'int32'), w)).toThrow(/linear: argument 'x' must be float32, got int32/);
    const xd = randt([4, 6], 75, false);
    xd.dispose();
    expect(() => ops.linear(xd, w)).toThrow(/linear: argument 'x' \[4, 6\] has been disposed/);
  });
  it('native checks', () => {
    expect(() => native.linear(x.handle, randt([3, 5], 76, false).handle, null)).toThrow(/linear: argument 'w' \[3, 5\] expects 5 input features/);
    expect(() => native.linear(x.handle, w.handle, Tensor.zeros([2]).handle)).toThrow(/linear: argument 'bias' expected shape \[3\]/);
    expect(() => native.linearBackward(x.handle, w.handle, Tensor.zeros([4, 2]).handle, true)).toThrow(/linearBackward: .*dy/);
  });
});
