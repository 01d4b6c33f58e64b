// The three F-CNNs: parameter counts against the paper's reference numbers and hand-written
// closed forms, names, SE placement, shapes, train/eval behaviour, state dicts and input errors.
import { describe, expect, it } from 'vitest';

import { tidy } from '../../src/autograd/scope.js';
import { noGrad } from '../../src/autograd/tape.js';
import { createModel, DenseNet, SDNet, UNet, type ModelName } from '../../src/models/index.js';
import { memory } from '../../src/memory.js';
import type { SeKind } from '../../src/nn/se.js';
import { softmaxCrossEntropy } from '../../src/ops/loss.js';
import { Adam } from '../../src/optim/index.js';
import { manualSeed } from '../../src/random.js';
import { Tensor } from '../../src/tensor.js';
import { expectClose, randt } from '../helpers.js';

const names: ModelName[] = ['unet', 'sdnet', 'densenet'];
const seKinds: SeKind[] = ['none', 'cse', 'sse', 'scse'];

// closed forms, independent of the model code
const conv = (k: number, cin: number, cout: number, bias = true): number => k * k * cin * cout + (bias ? cout : 0);
const bn = (c: number): number => 2 * c;
const dense = (c: number): number => bn(c) + conv(5, c, 64) + bn(c + 64) + conv(5, c + 64, 64) + bn(c + 128) + conv(1, c + 128, 64) + 1;
const classifier = conv(1, 64, 28);
const closedForm: Record<ModelName, number> = {
  unet:
    conv(5, 1, 64) + bn(64) + conv(5, 64, 64) + bn(64) + // encode1
    3 * 2 * (conv(5, 64, 64) + bn(64)) + // encode2..4
    2 * (conv(5, 64, 64) + bn(64)) + // bottleneck
    4 * (conv(2, 64, 64) + conv(5, 128, 64) + bn(64) + conv(5, 64, 64) + bn(64)) + // decode1..4
    classifier,
  sdnet: conv(7, 1, 64) + bn(64) + 3 * (conv(7, 64, 64) + bn(64)) + (conv(7, 64, 64) + bn(64)) + 4 * (conv(7, 128, 64) + bn(64)) + classifier,
  densenet: dense(1) + 3 * dense(64) + dense(64) + 4 * dense(128) + classifier,
};
// per-block SE parameters at C = 64 (PAPER-NOTES): cSE C² + 1.5C with biases, C² without; sSE C + 1
const seBlock = (kind: SeKind, bias: boolean): number => {
  const cse = 64 * 64 + (bias ? 1.5 * 64 : 0);
  return { none: 0, cse, sse: 65, scse: cse + 65 }[kind];
};

describe('parameter counts (1 channel in, 28 classes, 64 filters)', () => {
  it('closed forms match the reference numbers', () => {
    expect(closedForm.unet).toBe(2_223_068);
    expect(closedForm.unet - 4 * conv(2, 64, 64)).toBe(2_157_276); // max-unpool instead of transposed convs
    expect(closedForm.densenet).toBe(3_516_971);
    expect(closedForm.sdnet).toBe(2_415_132);
    expect(seBlock('scse', true)).toBe(4257);
    expect(seBlock('scse', false)).toBe(4161);
  });

  for (const name of names) {
    it(`${name}: no SE, and 8 SE blocks of each kind, with and without cSE biases`, () => {
      for (const se of seKinds) {
        for (const bias of se === 'none' || se === 'sse' ? [true] : [true, false]) {
          const m = createModel(name, { numClasses: 28, se, seOptions: { bias } });
          expect(m.numParameters(), `${name} ${se} bias=${bias}`).toBe(closedForm[name] + 8 * seBlock(se, bias));
          m.dispose();
        }
      }
    });
  }

  it('U-Net: 8 bias-free scSE blocks add 33,288 parameters (the paper\'s 3.3e4, ~1.5%)', () => {
    const m = createModel('unet', { numClasses: 28, se: 'scse', seOptions: { bias: false } });
    expect(m.numParameters() - 2_223_068).toBe(33_288);
    m.dispose();
  });
});

describe('structure and names', () => {
  it('PyTorch-style names; SE after each encoder and decoder block only, never shared', () => {
    const m = createModel('unet', { numClasses: 4, filters: 8, se: 'scse' });
    const keys = [...m.stateDict().keys()];
    for (const k of [
      'encode1.conv1.weight',
      'encode1.bn1.weight',
      'encode1.bn1.bias',
      'encode1.bn1.running_mean',
      'encode1.bn1.running_var',
      'encode1.se.cSE.fc1.weight',
      'encode1.se.cSE.fc2.bias',
      'encode1.se.sSE.conv.weight',
      'bottleneck.conv2.weight',
      'decode1.up.weight',
      'decode1.up.bias',
      'decode4.conv1.weight',
      'classifier.weight',
      'classifier.bias',
    ]) {
      expect(keys, k).toContain(k);
    }
    const seOwners = new Set(keys.filter((k) => k.includes('.se.')).map((k) => k.split('.se.')[0]));
    expect([...seOwners].sort()).toEqual(['decode1', 'decode2', 'decode3', 'decode4', 'encode1', 'encode2', 'encode3', 'encode4']);
    const tensors = m.parameters();
    expect(new Set(tensors).size).toBe(tensors.length);
    expect(keys.some((k) => k.includes('num_batches_tracked'))).toBe(false);
    expect(m.stateDict().get('decode1.conv1.weight')!.shape).toEqual([8, 5, 5, 16]); // 2F -> F, OHWI
    expect(m.stateDict().get('decode1.up.weight')!.shape).toEqual([8, 2, 2, 8]); // [in, kH, kW, out]
    m.dispose();
  });

  it('SD-Net uses 7×7 kernels by default; DenseNet has one PReLU slope per block', () => {
    const s = new SDNet({ numClasses: 3, filters: 4 });
    expect(s.stateDict().get('encode1.conv1.weight')!.shape).toEqual([4, 7, 7, 1]);
    expect(s.config.kernel).toBe(7);
    s.dispose();
    const d = new DenseNet({ numClasses: 3, filters: 4, inChannels: 2 });
    const sd = d.stateDict();
    expect(sd.get('encode1.prelu.weight')!.shape).toEqual([1]);
    expect([...sd.get('encode1.prelu.weight')!.dataSync()]).toEqual([0.25]);
    expect(sd.get('encode1.conv1.weight')!.shape).toEqual([4, 5, 5, 2]);
    expect(sd.get('encode1.conv3.weight')!.shape).toEqual([4, 1, 1, 2 + 8]);
    expect(sd.get('decode1.bn3.weight')!.shape).toEqual([16]);
    expect([...sd.keys()].filter((k) => k.endsWith('prelu.weight'))).toHaveLength(9);
    d.dispose();
  });

  it('forward gives logits [N, H, W, numClasses] for every network and SE kind', () => {
    manualSeed(1);
    for (const name of names) {
      for (const se of seKinds) {
        const m = createModel(name, { numClasses: 5, filters: 4, inChannels: 2, se });
        const y = tidy(() => m.forward(randt([2, 32, 48, 2], 3, false)));
        expect(y.shape, `${name} ${se}`).toEqual([2, 32, 48, 5]);
        expect([...y.dataSync()].every(Number.isFinite)).toBe(true);
        y.dispose();
        m.dispose();
      }
    }
  });
});

describe('train and eval', () => {
  it('eval forward is deterministic and uses the running statistics', () => {
    manualSeed(2);
    const m = createModel('densenet', { numClasses: 3, filters: 4, se: 'scse', dropout: 0.2 });
    const x = randt([2, 16, 16, 1], 4, false);
    const train1 = noGrad(() => m.forward(x)).dataSync();
    const train2 = noGrad(() => m.forward(x)).dataSync();
    expect(train1).not.toEqual(train2); // dropout masks differ between calls
    m.eval();
    const e1 = noGrad(() => m.forward(x)).dataSync();
    const e2 = noGrad(() => m.forward(x)).dataSync();
    expect(e1).toEqual(e2);
    m.train();
    const noDrop = createModel('unet', { numClasses: 3, filters: 4, se: 'cse' });
    const t = noGrad(() => noDrop.forward(x)).dataSync();
    noDrop.eval();
    const e = noGrad(() => noDrop.forward(x)).dataSync();
    let maxDiff = 0;
    for (let i = 0; i < t.length; i++) maxDiff = Math.max(maxDiff, Math.abs(t[i]! - e[i]!));
    expect(maxDiff).toBeGreaterThan(1e-3);
    // the two train-mode forwards moved the running mean away from 0
    expect([...noDrop.stateDict().get('encode1.bn1.running_mean')!.dataSync()].some((v) => v !== 0)).toBe(true);
    m.dispose();
    noDrop.dispose();
    x.dispose();
  });

  it('state dicts round-trip into a model built with another seed', () => {
    for (const name of names) {
      manualSeed(10);
      const a = createModel(name, { numClasses: 3, filters: 4, se: 'scse', seOptions: { aggregation: 'max' } });
      const x = randt([2, 16, 16, 1], 5, false);
      noGrad(() => a.forward(x)).dispose(); // running statistics away from their initial values
      a.eval();
      const saved = new Map([...a.stateDict()].map(([k, t]) => [k, t.clone()]));
      const ya = noGrad(() => a.forward(x)).dataSync();
      manualSeed(11);
      const b = createModel(name, { numClasses: 3, filters: 4, se: 'scse', seOptions: { aggregation: 'max' } }).eval();
      expect(noGrad(() => b.forward(x)).dataSync()).not.toEqual(ya);
      b.loadStateDict(saved);
      expect(noGrad(() => b.forward(x)).dataSync(), name).toEqual(ya);
      for (const t of saved.values()) t.dispose();
      a.dispose();
      b.dispose();
      x.dispose();
    }
  });

  it("seOptions.impl 'composed' gives the fused network's logits", () => {
    manualSeed(12);
    const fused = createModel('unet', { numClasses: 3, filters: 4, se: 'scse', seOptions: { aggregation: 'mul' } });
    const composed = createModel('unet', { numClasses: 3, filters: 4, se: 'scse', seOptions: { aggregation: 'mul', impl: 'composed' } });
    composed.loadStateDict(fused.stateDict());
    const x = randt([2, 16, 16, 1], 8, false);
    const a = noGrad(() => fused.forward(x)).dataSync();
    const b = noGrad(() => composed.forward(x)).dataSync();
    expectClose(a, b, 1e-5, 1e-6, 'logits');
    fused.dispose();
    composed.dispose();
    x.dispose();
  });

  it('loadStateDict names a wrong shape or a missing key', () => {
    const m = new UNet({ numClasses: 3, filters: 4, se: 'sse' });
    const state = new Map(m.stateDict());
    const bad = new Map(state);
    bad.set('decode2.conv1.weight', Tensor.zeros([4, 5, 5, 4]));
    expect(() => m.loadStateDict(bad)).toThrow(/'decode2\.conv1\.weight' expected float32 \[4, 5, 5, 8\], got float32 \[4, 5, 5, 4\]/);
    const missing = new Map(state);
    missing.delete('encode3.se.conv.bias');
    expect(() => m.loadStateDict(missing)).toThrow(/missing keys \[encode3\.se\.conv\.bias\]/);
    const extra = new Map(state);
    extra.set('encode1.bn1.num_batches_tracked', Tensor.zeros([1]));
    expect(() => m.loadStateDict(extra)).toThrow(/unexpected keys \[encode1\.bn1\.num_batches_tracked\]/);
    m.dispose();
  });
});

describe('memory', () => {
  it('training steps and eval forwards leak no tensors', () => {
    for (const name of names) {
      manualSeed(6);
      const m = createModel(name, { numClasses: 3, filters: 4, se: 'scse', dropout: 0.1 });
      const opt = new Adam(m.parameters(), { lr: 1e-3 });
      const x = randt([2, 16, 16, 1], 7, false);
      const labels = Tensor.zeros([2, 16, 16], 'int32');
      const step = (): void =>
        tidy(() => {
          softmaxCrossEntropy(m.forward(x), labels).backward();
          opt.step();
          opt.zeroGrad();
        });
      step(); // creates the optimizer state
      const before = memory();
      step();
      step();
      m.eval();
      noGrad(() => tidy(() => m.forward(x).dataSync()));
      const after = memory();
      expect(after.tensors, name).toBe(before.tensors);
      expect(after.bytesInUse, name).toBe(before.bytesInUse);
      opt.dispose();
      m.dispose();
      x.dispose();
      labels.dispose();
    }
  });
});

describe('errors', () => {
  const m = createModel('sdnet', { numClasses: 2, filters: 2 });
  it('H or W not divisible by 16', () => {
    expect(() => m.forward(Tensor.zeros([1, 30, 32, 1]))).toThrow(/sdnet: input \[1, 30, 32, 1\] has H = 30, W = 32: both must be positive multiples of 16/);
    expect(() => m.forward(Tensor.zeros([1, 32, 8, 1]))).toThrow(/sdnet: input \[1, 32, 8, 1\] .* multiples of 16/);
  });
  it('a 16×16 batch of one in training mode (one value per channel at the bottleneck)', () => {
    expect(() => m.forward(Tensor.zeros([1, 16, 16, 1]))).toThrow(/sdnet: input \[1, 16, 16, 1\] in training mode: the bottleneck's BatchNorm needs N·\(H\/16\)·\(W\/16\) >= 2/);
    m.eval();
    expect(noGrad(() => m.forward(Tensor.zeros([1, 16, 16, 1]))).shape).toEqual([1, 16, 16, 2]);
    m.train();
  });
  it('wrong channels, rank or dtype', () => {
    expect(() => m.forward(Tensor.zeros([1, 32, 32, 3]))).toThrow(/sdnet: input \[1, 32, 32, 3\] has 3 channels, the model was built with inChannels = 1/);
    expect(() => m.forward(Tensor.zeros([32, 32, 1]))).toThrow(/sdnet: input expected rank 4 \[N, H, W, 1\] \(NHWC, H and W divisible by 16\), got shape \[32, 32, 1\]/);
    expect(() => m.forward(Tensor.zeros([1, 32, 32, 1], 'int32'))).toThrow(/sdnet: input must be float32, got int32/);
  });
  it('bad options', () => {
    expect(() => createModel('unet', {} as never)).toThrow(/unet: option 'numClasses' is required/);
    expect(() => createModel('unet', { numClasses: 3, kernel: 4 })).toThrow(/unet: option 'kernel' must be odd/);
    expect(() => createModel('densenet', { numClasses: 3, se: 'bse' as never })).toThrow(/densenet: option 'se' must be none\|cse\|sse\|scse, got 'bse'/);
    expect(() => createModel('sdnet', { numClasses: 0 })).toThrow(/sdnet: option 'numClasses' must be an integer >= 1, got 0/);
    expect(() => createModel('unet', { numClasses: 3, dropout: 1 })).toThrow(/unet: option 'dropout' must be in \[0, 1\)/);
    expect(() => createModel('vnet' as never, { numClasses: 3 })).toThrow(/createModel: argument 'name' must be one of unet\|sdnet\|densenet, got 'vnet'/);
  });
});
