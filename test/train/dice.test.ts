import { describe, expect, it } from 'vitest';

import { argmaxLast, dicePerClass, meanDice } from '../../src/train/dice.js';

describe('evaluation Dice', () => {
  it('matches a hand computation, with absent structures as null', () => {
    // truth: class 1 on 4 voxels, class 2 on 2; prediction: class 1 on 3 of them + 1 wrong, class 3 once
    const truth = Int32Array.from([1, 1, 1, 1, 2, 2, 0, 0, 0, 0]);
    const pred = Int32Array.from([1, 1, 1, 0, 2, 0, 1, 3, 0, 0]);
    const d = dicePerClass(pred, truth, 5);
    expect(d[1]).toBeCloseTo((2 * 3) / (4 + 4), 12); // |P1|=4 (3 right + 1 wrong), |T1|=4
    expect(d[2]).toBeCloseTo((2 * 1) / (1 + 2), 12);
    expect(d[3]).toBe(0); // predicted but absent from truth
    expect(d[4]).toBeNull(); // absent from both
    expect(d[0]).toBeCloseTo((2 * 2) / (4 + 4), 12);
    expect(meanDice(d)).toBeCloseTo((0.75 + 2 / 3 + 0) / 3, 12);
    expect(meanDice(d, true)).toBeCloseTo((0.5 + 0.75 + 2 / 3 + 0) / 4, 12);
  });

  it('argmax over the class axis of NHWC logits, first maximum on ties', () => {
    expect(Array.from(argmaxLast(Float32Array.from([0, 2, 1, 5, 5, 1, -1, -2, -3]), 3))).toEqual([1, 0, 0]);
  });

  it('rejects mismatched sizes', () => {
    expect(() => dicePerClass(new Int32Array(3), new Int32Array(4), 2)).toThrow(/prediction has 3 voxels, truth 4/);
  });
});
