// Layers: PyTorch's default initialisation (fan-in rules included), names, train/eval behaviour.
import { describe, expect, it } from 'vitest';

import { noGrad } from '../../src/autograd/tape.js';
import { BatchNorm2d, Conv2d, ConvTranspose2d, Dropout2d, isTorchOnlyKey, MaxPool2d, MaxUnpool2d, PReLU, ReLU, Sequential } from '../../src/nn/index.js';
import { manualSeed } from '../../src/random.js';
import { Tensor } from '../../src/tensor.js';
import { expectClose, randn } from '../helpers.js';

function stats(t: Tensor): { max: number; std: number } {
  const d = t.dataSync();
  let s = 0;
  let s2 = 0;
  let max = 0;
  for (const v of d) {
    s += v;
    s2 += v * v;
    max = Math.max(max, Math.abs(v));
  }
  const mean = s / d.length;
  return { max, std: Math.sqrt(s2 / d.length - mean * mean) };
}

/** U(±b) has max |w| just below b and std b/√3. */
function expectUniform(t: Tensor, bound: number, what: string): void {
  const { max, std } = stats(t);
  expect(max, `${what} max`).toBeLessThanOrEqual(bound);
  if (t.size >= 200) expect(max, `${what} max`).toBeGreaterThan(0.95 * bound);
  else expect(max, `${what} max`).toBeGreaterThan(0.5 * bound);
  if (t.size >= 1000) expect(Math.abs(std / (bound / Math.sqrt(3)) - 1), `${what} std`).toBeLessThan(0.05);
}

describe('init', () => {
  it('Conv2d: OHWI weight and bias ~ U(±1/√(inC·k·k))', () => {
    manualSeed(1);
    const c = new Conv2d(16, 32, 5, { padding: 2 });
    expect(c.weight.shape).toEqual([32, 5, 5, 16]);
    expectUniform(c.weight, 1 / Math.sqrt(16 * 25), 'weight');
    expectUniform(c.bias!, 1 / Math.sqrt(16 * 25), 'bias');
    expect([...c.stateDict().keys()]).toEqual(['weight', 'bias']);
    const nb = new Conv2d(3, 4, [1, 3], { bias: false });
    expect([...nb.stateDict().keys()]).toEqual(['weight']);
    expect(nb.weight.shape).toEqual([4, 1, 3, 3]);
    expect(nb.numParameters()).toBe(36);
  });

  it('ConvTranspose2d: [inC, kH, kW, outC] weight, fan-in from outC·k·k as in PyTorch', () => {
    manualSeed(2);
    // inC ≠ outC tells the rules apart: 1/√(outC·k²) = 0.125, 1/√(inC·k²) ≈ 0.0295
    const t = new ConvTranspose2d(288, 16, 2, { stride: 2 });
    expect(t.weight.shape).toEqual([288, 2, 2, 16]);
    expectUniform(t.weight, 1 / Math.sqrt(16 * 4), 'weight');
    expectUniform(t.bias!, 1 / Math.sqrt(16 * 4), 'bias');
    const y = noGrad(() => t.forward(Tensor.zeros([1, 3, 5, 288])));
    expect(y.shape).toEqual([1, 6, 10, 16]);
  });

  it('BatchNorm2d: weight 1, bias 0, running_mean 0, running_var 1; no num_batches_tracked', () => {
    const b = new BatchNorm2d(3);
    const sd = b.stateDict();
    expect([...sd.keys()]).toEqual(['weight', 'bias', 'running_mean', 'running_var']);
    expect([...sd.get('weight')!.dataSync()]).toEqual([1, 1, 1]);
    expect([...sd.get('bias')!.dataSync()]).toEqual([0, 0, 0]);
    expect([...sd.get('running_mean')!.dataSync()]).toEqual([0, 0, 0]);
    expect([...sd.get('running_var')!.dataSync()]).toEqual([1, 1, 1]);
    expect(b.numParameters()).toBe(6);
    expect(isTorchOnlyKey('encode1.bn1.num_batches_tracked')).toBe(true);
    expect(isTorchOnlyKey('encode1.bn1.running_var')).toBe(false);
  });

  it('PReLU: one slope 0.25 (or one per channel)', () => {
    expect([...new PReLU().weight.dataSync()]).toEqual([0.25]);
    expect([...new PReLU(3, 0.1).weight.dataSync()]).toEqual([0.1, 0.1, 0.1].map(Math.fround));
  });
});

describe('behaviour', () => {
  it('BatchNorm2d: train mode uses batch statistics and updates the running ones; eval uses the running ones', () => {
    const b = new BatchNorm2d(2, { momentum: 0.5 });
    const x = Tensor.fromArray([1, 10, 3, 20, 5, 30, 7, 40], [1, 2, 2, 2]);
    const y = noGrad(() => b.forward(x)).dataSync();
    // channel 0: 1,3,5,7 -> mean 4, biased var 5
    expectClose([y[0]!, y[2]!, y[4]!, y[6]!], [-3, -1, 1, 3].map((v) => v / Math.sqrt(5 + 1e-5)), 1e-5, 1e-6, 'train y');
    // running = 0.5·init + 0.5·batch, unbiased variance 20/3
    expectClose(b.stateDict().get('running_mean')!.dataSync(), [2, 12.5], 1e-6, 1e-6, 'running_mean');
    expectClose(b.stateDict().get('running_var')!.dataSync(), [0.5 + 0.5 * (20 / 3), 0.5 + 0.5 * (500 / 3)], 1e-5, 1e-5, 'running_var');
    b.eval();
    const e = noGrad(() => b.forward(x)).dataSync();
    expectClose([e[0]!], [(1 - 2) / Math.sqrt(0.5 + 0.5 * (20 / 3) + 1e-5)], 1e-5, 1e-6, 'eval y');
  });

  it('Dropout2d: identity in eval, drops whole channels in training', () => {
    manualSeed(3);
    const d = new Dropout2d(0.5);
    const x = Tensor.ones([2, 4, 4, 8]);
    const y = noGrad(() => d.forward(x)).dataSync();
    for (let n = 0; n < 2; n++) {
      for (let c = 0; c < 8; c++) {
        const vals = new Set<number>();
        for (let p = 0; p < 16; p++) vals.add(y[(n * 16 + p) * 8 + c]!);
        expect(vals.size).toBe(1);
        expect([0, 2]).toContain([...vals][0]);
      }
    }
    d.eval();
    expect([...noGrad(() => d.forward(x)).dataSync()]).toEqual([...x.dataSync()]);
  });

  it('MaxPool2d keeps int32 indices that MaxUnpool2d scatters back', () => {
    // positive values: re-pooling the unpooled map must find them again (not the zeros around)
    const x = Tensor.fromArray(randn([1, 4, 6, 3], 5).map((v) => Math.abs(v) + 0.1), [1, 4, 6, 3]);
    const { y, indices } = new MaxPool2d().forward(x);
    expect(y.shape).toEqual([1, 2, 3, 3]);
    expect(indices.dtype).toBe('int32');
    const u = new MaxUnpool2d().forward(y, indices, [4, 6]);
    expect(u.shape).toEqual([1, 4, 6, 3]);
    const back = new MaxPool2d(2, 2).forward(u).y;
    expect([...back.dataSync()]).toEqual([...y.dataSync()]);
  });

  it('Sequential names children by position and runs them in order; train/eval reach every child', () => {
    manualSeed(4);
    const s = new Sequential(new Conv2d(1, 2, 3, { padding: 1 }), new BatchNorm2d(2), new ReLU(), new PReLU());
    expect([...s.stateDict().keys()]).toEqual(['0.weight', '0.bias', '3.weight', '1.weight', '1.bias', '1.running_mean', '1.running_var'].sort((a, b) => order(a) - order(b)));
    s.eval();
    expect(s.at(1)!.training).toBe(false);
    const y = noGrad(() => s.forward(Tensor.ones([1, 4, 4, 1])));
    expect(y.shape).toEqual([1, 4, 4, 2]);
    expect(s.length).toBe(4);
  });

  it('bad arguments name the layer', () => {
    expect(() => new Conv2d(0, 3, 3)).toThrow(/Conv2d: argument 'inChannels' must be a positive integer, got 0/);
    expect(() => new ConvTranspose2d(3, 3, [2, 2, 2] as never)).toThrow(/ConvTranspose2d: argument 'kernel' must be a number or \[kH, kW\]/);
    expect(() => new BatchNorm2d(2, { momentum: 2 })).toThrow(/BatchNorm2d: argument 'momentum' must be in \[0, 1\], got 2/);
    expect(() => new Dropout2d(1.5)).toThrow(/Dropout2d: argument 'p' must be in \[0, 1\], got 1.5/);
    expect(() => new Sequential({} as never)).toThrow(/Sequential: argument 'layers\[0\]' must be a Module/);
  });
});

// stateDict lists parameters (in module order) before buffers
function order(k: string): number {
  return ['0.weight', '0.bias', '1.weight', '1.bias', '3.weight', '1.running_mean', '1.running_var'].indexOf(k);
}
