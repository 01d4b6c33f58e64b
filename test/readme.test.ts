import { describe, expect, it } from 'vitest';

import { createModel, manualSeed, memory, ops, SGD, Tensor, tidy } from '../src/index.js';

describe('the README library example', () => {
  it('runs as written and its loss goes down', () => {
    manualSeed(1);
    const model = createModel('unet', { numClasses: 3, filters: 4, se: 'scse' });
    const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.95, weightDecay: 1e-4 });
    const images = Float32Array.from({ length: 4 * 32 * 32 }, (_, i) => ((i % 32) > 16 ? 1 : 0) + 0.1 * Math.sin(i));
    const labels = Int32Array.from({ length: 4 * 32 * 32 }, (_, i) => ((i % 32) > 16 ? 1 : 0) + (((i >> 5) % 32) > 20 ? 1 : 0));
    const x = Tensor.fromArray(images, [4, 32, 32, 1]);
    const y = Tensor.fromArray(labels, [4, 32, 32], { dtype: 'int32' });
    const losses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const loss = tidy(() => ops.combinedLoss(model.forward(x), y).loss);
      losses.push(loss.item());
      loss.backward();
      opt.step();
      opt.zeroGrad();
      loss.dispose();
    }
    expect(losses[7]!).toBeLessThan(losses[0]!);
    expect(memory().tensors).toBeGreaterThan(0);
    opt.dispose();
    model.dispose();
    x.dispose();
    y.dispose();
  });
});
