import { spawnSync } from 'node:child_process';

import { beforeAll, describe, expect, it } from 'vitest';

import { tidy } from '../../src/autograd/scope.js';
import { memory } from '../../src/memory.js';
import { native } from '../../src/native.js';
import * as ops from '../../src/ops/index.js';
import { Adam, type AdamOptions, SGD, type SGDOptions } from '../../src/optim/index.js';
import { Tensor } from '../../src/tensor.js';
import { expectClose, randn } from '../helpers.js';

const SIZE = 10_007; // several parallel chunks and a ragged tail
const STEPS = 6;

const gradsFor = (seed: number, n = SIZE, steps = STEPS): Float32Array[] => Array.from({ length: steps }, (_, t) => randn([n], seed + 1 + t));

/** Runs `steps` optimizer steps with the given gradients; returns the parameter after each. */
function runOurs(make: (ps: Tensor[]) => SGD | Adam, p0: Float32Array, grads: Float32Array[], lrAt?: (t: number) => number): Float32Array[] {
  const p = Tensor.fromArray(p0, [p0.length], { requiresGrad: true });
  const opt = make([p]);
  const out: Float32Array[] = [];
  grads.forEach((g, t) => {
    if (lrAt) opt.lr = lrAt(t);
    opt.zeroGrad();
    p.grad = Tensor.fromArray(g, [g.length]);
    opt.step();
    out.push(p.dataSync() as Float32Array);
  });
  opt.zeroGrad();
  opt.dispose();
  p.dispose();
  return out;
}

// torch.optim.SGD as documented, in float64
function sgdRef(p0: ArrayLike<number>, grads: Float32Array[], o: Required<SGDOptions>, lrAt?: (t: number) => number): Float64Array[] {
  const p = Float64Array.from(p0);
  const buf = new Float64Array(p.length);
  return grads.map((gr, t) => {
    const lr = lrAt ? lrAt(t) : o.lr;
    for (let i = 0; i < p.length; i++) {
      let g = gr[i]! + o.weightDecay * p[i]!;
      if (o.momentum !== 0) {
        buf[i] = t === 0 ? g : o.momentum * buf[i]! + (1 - o.dampening) * g;
        g = o.nesterov ? g + o.momentum * buf[i]! : buf[i]!;
      }
      p[i] -= lr * g;
    }
    return p.slice();
  });
}

// torch.optim.Adam / AdamW as documented, in float64
function adamRef(p0: ArrayLike<number>, grads: Float32Array[], o: Required<AdamOptions>): Float64Array[] {
  const p = Float64Array.from(p0);
  const m = new Float64Array(p.length);
  const v = new Float64Array(p.length);
  const [b1, b2] = o.betas;
  return grads.map((gr, k) => {
    const t = k + 1;
    for (let i = 0; i < p.length; i++) {
      let g = gr[i]!;
      if (o.decoupled) p[i] *= 1 - o.lr * o.weightDecay;
      else g += o.weightDecay * p[i]!;
      m[i] = b1 * m[i]! + (1 - b1) * g;
      v[i] = b2 * v[i]! + (1 - b2) * g * g;
      const mhat = m[i]! / (1 - b1 ** t);
      const vhat = v[i]! / (1 - b2 ** t);
      p[i] -= (o.lr * mhat) / (Math.sqrt(vhat) + o.eps);
    }
    return p.slice();
  });
}

const sgdDefaults = { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false };
const adamDefaults = { lr: 1e-3, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0, decoupled: false };

describe('SGD against the closed form (float64)', () => {
  const cases: [string, SGDOptions][] = [
    ['plain', { lr: 0.1 }],
    ['momentum', { lr: 0.05, momentum: 0.9 }],
    ['momentum with dampening', { lr: 0.05, momentum: 0.9, dampening: 0.3 }],
    ['Nesterov', { lr: 0.05, momentum: 0.9, nesterov: true }],
    ['weight decay', { lr: 0.1, weightDecay: 0.01 }],
    ['momentum, dampening and weight decay', { lr: 0.02, momentum: 0.5, dampening: 0.5, weightDecay: 0.05 }],
    ['Nesterov with weight decay', { lr: 0.01, momentum: 0.95, nesterov: true, weightDecay: 1e-4 }],
  ];
  cases.forEach(([name, o], k) => {
    it(name, () => {
      const p0 = randn([SIZE], 1000 + 10 * k);
      const grads = gradsFor(1000 + 10 * k);
      const ours = runOurs((ps) => new SGD(ps, o), p0, grads);
      const ref = sgdRef(p0, grads, { ...sgdDefaults, ...o } as Required<SGDOptions>);
      ours.forEach((p, t) => expectClose(p, ref[t]!, 1e-5, 1e-6, `${name}, step ${t + 1}`));
    });
  });
  it('the momentum buffer starts as the first gradient (not dampened)', () => {
    const p = Tensor.fromArray([1, -2], [2], { requiresGrad: true });
    const opt = new SGD([p], { lr: 0.5, momentum: 0.9, dampening: 0.5 });
    p.grad = Tensor.fromArray([0.2, 0.4], [2]);
    opt.step();
    expectClose(p.dataSync(), [1 - 0.5 * 0.2, -2 - 0.5 * 0.4], 1e-7, 0, 'step 1');
    opt.step(); // buf = 0.9*g + 0.5*g = 1.4 g
    expectClose(p.dataSync(), [0.9 - 0.5 * 1.4 * 0.2, -2.2 - 0.5 * 1.4 * 0.4], 1e-6, 0, 'step 2');
    opt.dispose();
  });
  it('lr is settable between steps', () => {
    const p0 = randn([100], 7);
    const grads = gradsFor(7, 100);
    const lrAt = (t: number): number => 0.1 / (t + 1);
    const o = { lr: 0.1, momentum: 0.9 };
    const ours = runOurs((ps) => new SGD(ps, o), p0, grads, lrAt);
    const ref = sgdRef(p0, grads, { ...sgdDefaults, ...o }, lrAt);
    ours.forEach((p, t) => expectClose(p, ref[t]!, 1e-5, 1e-6, `step ${t + 1}`));
  });
});

describe('Adam and AdamW against the documented update (float64)', () => {
  const cases: [string, AdamOptions][] = [
    ['Adam defaults', {}],
    ['Adam lr 0.01, betas (0.8, 0.99)', { lr: 0.01, betas: [0.8, 0.99] }],
    ['Adam with L2 weight decay', { lr: 0.01, weightDecay: 0.1 }],
    ['AdamW', { lr: 0.01, weightDecay: 0.1, decoupled: true }],
    ['Adam with large eps', { lr: 0.05, eps: 0.1 }],
  ];
  cases.forEach(([name, o], k) => {
    it(name, () => {
      const p0 = randn([SIZE], 2000 + 10 * k);
      const grads = gradsFor(2000 + 10 * k);
      const ours = runOurs((ps) => new Adam(ps, o), p0, grads);
      const ref = adamRef(p0, grads, { ...adamDefaults, ...o });
      ours.forEach((p, t) => expectClose(p, ref[t]!, 1e-5, 2e-6, `${name}, step ${t + 1}`));
    });
  });
});

describe('optimizer bookkeeping', () => {
  it('skips parameters without gradients; zeroGrad disposes gradients; dispose frees state', () => {
    const before = memory().tensors;
    const a = Tensor.fromArray([1, 2], [2], { requiresGrad: true });
    const b = Tensor.fromArray([3, 4], [2], { requiresGrad: true });
    const opt = new Adam([a, b], { lr: 0.1 });
    tidy(() => ops.sum(ops.mul(a, a)).backward());
    const g = a.grad!;
    tidy(() => opt.step()); // state created inside a tidy survives it
    expect(b.dataSync()).toEqual(Float32Array.from([3, 4]));
    expectClose(a.dataSync(), [0.9, 1.9], 1e-6, 0, 'first Adam step moves by lr');
    opt.step();
    opt.zeroGrad();
    expect(g.disposed).toBe(true);
    expect(a.grad).toBeNull();
    expect(memory().tensors).toBe(before + 4); // a, b and Adam's two buffers for a
    opt.dispose();
    expect(memory().tensors).toBe(before + 2);
    a.dispose();
    b.dispose();
  });
  it('SGD without momentum keeps no buffer', () => {
    const before = memory().tensors;
    const p = Tensor.fromArray([1], [1], { requiresGrad: true });
    const opt = new SGD([p], { lr: 1 });
    p.grad = Tensor.fromArray([0.25], [1]);
    opt.step();
    expect(p.item()).toBe(0.75);
    opt.zeroGrad();
    expect(memory().tensors).toBe(before + 1);
    opt.dispose();
    p.dispose();
  });
  it('rejects bad hyperparameters and mismatched tensors', () => {
    const p = Tensor.zeros([3]);
    expect(() => new SGD([p], { lr: -1 })).toThrow(/SGD: argument 'lr' must be a finite number >= 0, got -1/);
    expect(() => new SGD([p], { lr: 0.1, nesterov: true })).toThrow(/SGD: nesterov needs momentum > 0 and dampening = 0/);
    expect(() => new SGD([p, p], { lr: 0.1 })).toThrow(/SGD: argument 'params' lists a tensor twice/);
    expect(() => new Adam([p], { betas: [0.9, 1] })).toThrow(/Adam: argument 'betas\[1\]' must be in \[0, 1\), got 1/);
    expect(() => new Adam([p], { eps: -1, decoupled: true })).toThrow(/AdamW: argument 'eps'/);
    const opt = new SGD([p], { lr: 0.1 });
    expect(() => {
      opt.lr = NaN;
    }).toThrow(/SGD: argument 'lr'/);
    p.grad = Tensor.zeros([4]);
    expect(() => opt.step()).toThrow(/SGD: gradient of parameter 0 has shape \[4\], parameter \[3\]/);
    const g = Tensor.zeros([4]);
    expect(() => native.sgdStep(p.handle, g.handle, null, 0.1, 0, 0, 0, false, false)).toThrow(
      /sgdStep: arguments 'param' \[3\] and 'grad' \[4\] must have the same shape/,
    );
    expect(() => native.sgdStep(p.handle, p.handle, null, 0.1, 0, 0, 0, false, false)).toThrow(/sgdStep: arguments 'param', 'grad'.* must not share storage/);
    const q = Tensor.zeros([3]);
    expect(() => native.sgdStep(p.handle, q.handle, null, 0.1, 0.9, 0, 0, false, true)).toThrow(
      /sgdStep: argument 'momentumBuf' is required when momentum != 0/,
    );
    expect(() => native.adamStep(p.handle, q.handle, Tensor.zeros([3]).handle, Tensor.zeros([3]).handle, 0.1, 0.9, 0.999, 1e-8, 0, 0, false)).toThrow(
      /adamStep: argument 'step' must be >= 1, got 0/,
    );
    expect(() => native.adamStep(p.handle, q.handle, Tensor.zeros([2]).handle, Tensor.zeros([3]).handle, 0.1, 0.9, 0.999, 1e-8, 0, 1, false)).toThrow(
      /adamStep: arguments 'param' \[3\] and 'm' \[2\] must have the same shape/,
    );
  });
});

// PyTorch 1.13 CPU at /usr/bin/python3 (not the python3 on PATH), when it is there
const PY = '/usr/bin/python3';
const torchCheck = spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' });
const hasTorch = torchCheck.status === 0;
if (!hasTorch) console.log(`optim.test: skipping the torch.optim comparison: ${PY} cannot import torch (${(torchCheck.stderr || String(torchCheck.error)).trim().split('\n').pop()})`);

const TORCH_SCRIPT = `
import json, sys, torch
torch.set_num_threads(1)
out = []
for d in json.load(sys.stdin):
    p = torch.tensor(d['p0'], dtype=torch.float32, requires_grad=True)
    o = d['opts']
    if d['kind'] == 'sgd':
        opt = torch.optim.SGD([p], lr=o['lr'], momentum=o['momentum'], nesterov=o['nesterov'], weight_decay=o['weightDecay'])
    else:
        cls = torch.optim.AdamW if o['decoupled'] else torch.optim.Adam
        opt = cls([p], lr=o['lr'], betas=tuple(o['betas']), eps=o['eps'], weight_decay=o['weightDecay'])
    steps = []
    for g in d['grads']:
        p.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
        steps.append(p.detach().tolist())
    out.append(steps)
json.dump(out, sys.stdout)
`;

interface TorchCase {
  name: string;
  kind: 'sgd' | 'adam';
  opts: SGDOptions & AdamOptions;
  seed: number;
}

const torchCases: TorchCase[] = [
  { name: 'SGD(momentum=0.95, nesterov, weight decay 1e-4)', kind: 'sgd', opts: { lr: 0.03, momentum: 0.95, nesterov: true, weightDecay: 1e-4 }, seed: 3001 },
  { name: 'Adam (with L2 weight decay)', kind: 'adam', opts: { lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, decoupled: false }, seed: 3002 },
  { name: 'AdamW', kind: 'adam', opts: { lr: 0.01, betas: [0.85, 0.995], eps: 1e-6, weightDecay: 0.1, decoupled: true }, seed: 3003 },
];

describe.skipIf(!hasTorch)('against torch.optim (PyTorch at /usr/bin/python3)', () => {
  const n = 2000;
  const inputs = torchCases.map((c) => ({ p0: randn([n], c.seed), grads: gradsFor(c.seed, n, 5) }));
  let theirs: number[][][] = [];
  beforeAll(() => {
    // one Python process for all cases (importing torch takes most of a second)
    const input = JSON.stringify(torchCases.map((c, k) => ({ kind: c.kind, opts: c.opts, p0: Array.from(inputs[k]!.p0), grads: inputs[k]!.grads.map((g) => Array.from(g)) })));
    const r = spawnSync(PY, ['-c', TORCH_SCRIPT], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`torch script failed: ${r.stderr}`);
    theirs = JSON.parse(r.stdout) as number[][][];
  });
  torchCases.forEach((c, k) => {
    it(`5 steps of ${c.name}`, () => {
      const { p0, grads } = inputs[k]!;
      const make = (ps: Tensor[]): SGD | Adam => (c.kind === 'sgd' ? new SGD(ps, c.opts as SGDOptions) : new Adam(ps, c.opts));
      const ours = runOurs(make, p0, grads);
      ours.forEach((p, t) => expectClose(p, theirs[k]![t]!, 2e-6, 2e-7, `${c.name} step ${t + 1}`));
    });
  });
});
