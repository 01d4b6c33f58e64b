import { describe, expect, it } from 'vitest';

import { memory, ops, SGD, Tensor, tidy } from '../src/index.js';
import { manualSeed } from '../src/random.js';
import { randn } from './helpers.js';

describe('a training step leaks nothing', () => {
  it('200 steps of conv / batch norm / prelu / pool / unpool / concat / scSE / weighted CE / SGD leave memory() unchanged', () => {
    manualSeed(42);
    const N = 2, H = 8, W = 8, C = 4, K = 3;
    const param = (shape: number[], scale: number, seed: number) => Tensor.fromArray(randn(shape, seed, scale), shape, { requiresGrad: true });
    const w1 = param([C, 3, 3, 1], 0.3, 1);
    const b1 = param([C], 0.1, 2);
    const gamma = Tensor.ones([C]).requireGrad();
    const beta = Tensor.zeros([C]).requireGrad();
    const slope = Tensor.full([1], 0.25).requireGrad();
    const rm = Tensor.zeros([C]);
    const rv = Tensor.ones([C]);
    const fc1 = param([2, C], 0.3, 3);
    const fc2 = param([C, 2], 0.3, 4);
    const sq = param([1, 1, 1, C], 0.3, 5);
    const sqb = param([1], 0.1, 6);
    const up = param([C, 2, 2, C], 0.3, 7);
    const cls = param([K, 1, 1, 2 * C], 0.3, 8);
    const params = [w1, b1, gamma, beta, slope, fc1, fc2, sq, sqb, up, cls];
    const opt = new SGD(params, { lr: 0.01, momentum: 0.9, weightDecay: 1e-4, nesterov: true });
    const x = Tensor.fromArray(randn([N, H, W, 1], 9), [N, H, W, 1]);
    const labels = Tensor.fromArray(Int32Array.from({ length: N * H * W }, (_, i) => i % K), [N, H, W]);
    const weights = Tensor.fromArray(Float32Array.from({ length: N * H * W }, (_, i) => 1 + (i % 5) / 5), [N, H, W]);

    const step = (): number => {
      const loss = tidy(() => {
        const h = ops.prelu(ops.batchNorm(ops.conv2d(x, w1, b1, { padding: 1 }), gamma, beta, { training: true, runningMean: rm, runningVar: rv }), slope);
        const s = ops.squeezeExcite(h, 'scse', { fc1Weight: fc1, fc2Weight: fc2, convWeight: sq, convBias: sqb });
        const { y, indices } = ops.maxPool2d(s);
        const u1 = ops.maxUnpool2d(y, indices, [H, W]);
        const u2 = ops.convTranspose2d(ops.dropout2d(y, 0.2, true), up, null, { stride: 2 });
        const logits = ops.conv2d(ops.concat([ops.add(u1, s), u2]), cls);
        return ops.softmaxCrossEntropy(logits, labels, weights);
      });
      const v = loss.item();
      loss.backward();
      loss.dispose();
      opt.step();
      opt.zeroGrad();
      return v;
    };

    // warm-up: optimizer state, primitive caches and the allocator's size classes are created here
    const first = step();
    step();
    const before = memory();
    let last = first;
    for (let i = 0; i < 200; i++) {
      last = step();
      if (process.env.MEMTRACE) console.log(i, JSON.stringify(memory()));
    }
    const after = memory();
    expect(after.tensors).toBe(before.tensors);
    expect(after.bytesInUse).toBe(before.bytesInUse);
    expect(after.bytesReserved).toBe(before.bytesReserved);
    expect(Number.isFinite(last)).toBe(true);
    expect(last).toBeLessThan(first); // and it learned something
    opt.dispose();
    for (const t of [...params, rm, rv, x, labels, weights]) t.dispose();
  });
});

describe('tensors left to the garbage collector', () => {
  // Native bytes are reported to V8 (napi_adjust_external_memory, native/core/tensor.cc):
  // unreferenced tensors then get collected once native memory grows, instead of piling up
  // behind their small JS handles. (Node runs native finalizers between event-loop turns, so
  // synchronous code should still tidy() or dispose().)
  it('are collected in an async loop: 40 undisposed 64 MiB tensors never have more than a few alive', async () => {
    const before = memory().tensors;
    let most = 0;
    for (let i = 0; i < 40; i++) {
      Tensor.zeros([16, 1024, 1024]); // 64 MiB, dropped at once
      most = Math.max(most, memory().tensors - before);
      await new Promise((r) => setImmediate(r));
    }
    expect(most).toBeLessThanOrEqual(12); // without the reporting: 40 (V8 sees 40 small objects)
  });

  it('tidy loops that churn gigabytes do not make V8 collect again and again', async () => {
    const { PerformanceObserver, constants } = await import('node:perf_hooks');
    const churn = async (iterations: number) => {
      for (let i = 0; i < iterations; i++) {
        tidy(() => {
          for (let k = 0; k < 16; k++) Tensor.zeros([16, 1024, 1024]); // 1 GiB per iteration, freed by tidy
        });
        await new Promise((r) => setImmediate(r));
      }
    };
    await churn(2); // the first iteration reports its high-water mark (and may collect on the way)
    let major = 0;
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++;
      }
    });
    obs.observe({ entryTypes: ['gc'] });
    await churn(8);
    await new Promise((r) => setTimeout(r, 50)); // let the observer deliver
    obs.disconnect();
    // reporting every allocation and free made V8 collect once per ~64 MiB: about 16 per iteration
    expect(major).toBeLessThanOrEqual(2);
  });
});
