import { describe, expect, it } from 'vitest';

import { tidy } from '../../src/autograd/scope.js';
import { memory } from '../../src/memory.js';
import * as ops from '../../src/ops/index.js';
import { Adam, type OptimizerStateDict, SGD, StepLR } from '../../src/optim/index.js';
import { Rng } from '../../src/random.js';
import { Tensor } from '../../src/tensor.js';
import { expectClose, randn } from '../helpers.js';

// A tiny "model": logits = w + b (per-class bias), trained with CE + Dice on fixed labels, so the
// gradients depend on the parameters and the optimizer state matters.
const SHAPE = [2, 3, 4, 5];
const LABELS = (() => {
  const r = new Rng(77);
  return Int32Array.from({ length: 24 }, () => r.int(5));
})();
const W0 = randn(SHAPE, 78);
const B0 = randn([5], 79);

type Make = (ps: Tensor[]) => SGD | Adam;

function trainSteps(params: Tensor[], opt: SGD | Adam, sched: StepLR, steps: number): void {
  const labels = Tensor.fromArray(LABELS, SHAPE.slice(0, 3));
  for (let s = 0; s < steps; s++) {
    tidy(() => {
      const { loss } = ops.combinedLoss(ops.add(params[0]!, params[1]!), labels);
      opt.zeroGrad();
      loss.backward();
      opt.step();
    });
    sched.step();
  }
  labels.dispose();
  opt.zeroGrad();
}

const bytes = (t: Tensor): Buffer => Buffer.from((t.dataSync() as Float32Array).buffer);

function roundTrip(make: Make): void {
  const before = memory().tensors;
  // uninterrupted run of 8 steps
  const pa = [Tensor.fromArray(W0, SHAPE, { requiresGrad: true }), Tensor.fromArray(B0, [5], { requiresGrad: true })];
  const oa = make(pa);
  const sa = new StepLR(oa, { stepSize: 3, gamma: 0.5 });
  trainSteps(pa, oa, sa, 8);

  // 4 steps, checkpoint as a file would hold it (JSON + flat Float32Arrays), then drop everything
  const pb = [Tensor.fromArray(W0, SHAPE, { requiresGrad: true }), Tensor.fromArray(B0, [5], { requiresGrad: true })];
  const ob = make(pb);
  const sb = new StepLR(ob, { stepSize: 3, gamma: 0.5 });
  trainSteps(pb, ob, sb, 4);
  const sd = ob.stateDict();
  const meta = JSON.parse(JSON.stringify(sd.meta)) as OptimizerStateDict['meta'];
  const buffers = new Map([...sd.tensors].map(([k, t]) => [k, t.dataSync() as Float32Array]));
  const paramData = pb.map((p) => p.dataSync() as Float32Array);
  const schedState = JSON.parse(JSON.stringify(sb.stateDict()));
  for (const t of sd.tensors.values()) t.dispose();
  ob.dispose();
  pb.forEach((p) => p.dispose());

  // resume into fresh parameters and a fresh optimizer built with the initial lr
  const pc = paramData.map((d, i) => Tensor.fromArray(d, i === 0 ? SHAPE : [5], { requiresGrad: true }));
  const oc = make(pc);
  const sc = new StepLR(oc, { stepSize: 3, gamma: 0.5 });
  oc.loadStateDict({ meta, tensors: buffers });
  sc.loadStateDict(schedState);
  expect(oc.lr).toBe(meta.lr);
  trainSteps(pc, oc, sc, 4);

  expect(oc.lr).toBe(oa.lr);
  pa.forEach((p, i) => expect(bytes(pc[i]!).equals(bytes(p)), `parameter ${i} bit-identical`).toBe(true));
  // and the resumed state equals the uninterrupted state, buffer by buffer
  const sdA = oa.stateDict();
  const sdC = oc.stateDict();
  expect(sdC.meta).toEqual(sdA.meta);
  expect([...sdC.tensors.keys()]).toEqual([...sdA.tensors.keys()]);
  for (const [k, t] of sdA.tensors) expect(bytes(sdC.tensors.get(k)!).equals(bytes(t)), k).toBe(true);
  for (const t of [...sdA.tensors.values(), ...sdC.tensors.values()]) t.dispose();
  oa.dispose();
  oc.dispose();
  [...pa, ...pc].forEach((p) => p.dispose());
  expect(memory().tensors).toBe(before);
}

describe('optimizer state dicts: save, restore into fresh optimizer + params, continue = uninterrupted run (bit-identical)', () => {
  it('SGD, momentum 0.95, weight decay 1e-4 (the paper)', () => roundTrip((ps) => new SGD(ps, { lr: 0.01, momentum: 0.95, weightDecay: 1e-4 })));
  it('SGD, Nesterov', () => roundTrip((ps) => new SGD(ps, { lr: 0.05, momentum: 0.9, nesterov: true })));
  it('SGD without momentum (no buffers)', () => roundTrip((ps) => new SGD(ps, { lr: 0.1 })));
  it('Adam', () => roundTrip((ps) => new Adam(ps, { lr: 0.01, weightDecay: 1e-3 })));
  it('AdamW', () => roundTrip((ps) => new Adam(ps, { lr: 0.01, weightDecay: 1e-2, decoupled: true })));
});

describe('optimizer state dict contents and errors', () => {
  it('PyTorch-style names and JSON scalars; parameters not stepped yet have no entry', () => {
    const p = [Tensor.fromArray([1, 2, 3], [3], { requiresGrad: true }), Tensor.fromArray([4, 5], [2], { requiresGrad: true })];
    const adam = new Adam(p, { lr: 0.1 });
    expect(adam.stateDict().meta.state).toEqual({});
    p[1]!.grad = Tensor.fromArray([1, -1], [2]);
    adam.step();
    const sd = adam.stateDict();
    expect(sd.meta).toEqual({ type: 'Adam', lr: 0.1, hyper: { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, decoupled: false }, numParams: 2, state: { '1': { step: 1 } } });
    expect([...sd.tensors.keys()]).toEqual(['state.1.exp_avg', 'state.1.exp_avg_sq']);
    // exp_avg = (1 - β1) g after one step
    expectClose(sd.tensors.get('state.1.exp_avg')!.dataSync(), [0.1, -0.1], 1e-6, 0, 'exp_avg');
    const sgd = new SGD(p, { lr: 0.1, momentum: 0.9 });
    sgd.step();
    expect([...sgd.stateDict().tensors.keys()]).toEqual(['state.1.momentum_buffer']);
    // the saved tensors are copies: later steps do not change them
    const saved = sd.tensors.get('state.1.exp_avg')!.dataSync();
    adam.step();
    expect(sd.tensors.get('state.1.exp_avg')!.dataSync()).toEqual(saved);
  });
  it('rejects mismatched type, parameter count, hyperparameters and buffers, leaving the optimizer unchanged', () => {
    const p = [Tensor.fromArray([1, 2, 3], [3], { requiresGrad: true })];
    const a = new Adam(p, { lr: 0.1 });
    p[0]!.grad = Tensor.fromArray([1, 1, 1], [3]);
    a.step();
    const sd = a.stateDict();
    const fresh = (): Adam => new Adam([Tensor.fromArray([0, 0, 0], [3], { requiresGrad: true })], { lr: 0.1 });
    expect(() => new SGD(p, { lr: 0.1 }).loadStateDict(sd)).toThrow(/SGD: loadStateDict: the state dict is for "Adam", not SGD/);
    expect(() => new Adam(p, { lr: 0.1, decoupled: true }).loadStateDict(sd)).toThrow(/AdamW: loadStateDict: the state dict is for "Adam"/);
    expect(() => new Adam([...p, Tensor.zeros([1])], { lr: 0.1 }).loadStateDict(sd)).toThrow(/has 1 parameters, this optimizer 2/);
    expect(() => new Adam(p, { lr: 0.1, betas: [0.8, 0.999] }).loadStateDict(sd)).toThrow(/loadStateDict: saved betas \[0.9,0.999\] differs from this optimizer's \[0.8,0.999\]/);
    expect(() => fresh().loadStateDict({ meta: sd.meta, tensors: new Map([['state.0.exp_avg', new Float32Array(3)]]) })).toThrow(
      /Adam: loadStateDict: missing buffer 'state.0.exp_avg_sq'/,
    );
    expect(() => fresh().loadStateDict({ meta: sd.meta, tensors: new Map<string, Tensor | Float32Array>([...sd.tensors, ['state.0.extra', new Float32Array(3)]]) })).toThrow(/unknown buffer 'state.0.extra'/);
    expect(() => fresh().loadStateDict({ meta: sd.meta, tensors: new Map<string, Tensor | Float32Array>([...sd.tensors, ['state.3.exp_avg', new Float32Array(3)]]) })).toThrow(
      /tensor 'state.3.exp_avg' belongs to no parameter state/,
    );
    expect(() => fresh().loadStateDict({ meta: sd.meta, tensors: new Map<string, Tensor | Float32Array>([...sd.tensors, ['state.0.exp_avg', new Float32Array(4)]]) })).toThrow(
      /buffer 'state.0.exp_avg' has 4 elements, its parameter \[3\] 3/,
    );
    expect(() => fresh().loadStateDict({ meta: { ...sd.meta, state: { '0': {} } }, tensors: sd.tensors })).toThrow(/lacks the number 'step'/);
    const sgd = new SGD(p, { lr: 0.1, momentum: 0.9 });
    sgd.step();
    const ssd = sgd.stateDict();
    expect(() => new SGD(p, { lr: 0.1, momentum: 0.9 }).loadStateDict({ meta: ssd.meta, tensors: new Map() })).toThrow(/SGD: loadStateDict: missing buffer 'state.0.momentum_buffer'/);
    ssd.tensors.forEach((t) => t.dispose());
    sgd.dispose();
    // a failed load keeps the previous state and leaks nothing
    const before = memory().tensors;
    const keys = [...a.stateDict().tensors.entries()];
    keys.forEach(([, t]) => t.dispose());
    expect(() => a.loadStateDict({ meta: sd.meta, tensors: new Map([['state.0.exp_avg', new Float32Array(3)]]) })).toThrow(/missing buffer/);
    expect(memory().tensors).toBe(before);
    expect(a.stateDict().meta.state).toEqual({ '0': { step: 1 } });
  });
});
