// SE numerics at the edges against the authors' PyTorch layers (bench/peers/torch_models.py, run in
// float64 autograd by Debian's /usr/bin/python3): scSE-max where the branches tie exactly (torch.max
// gives each branch half the gradient) and a NaN in fc1.weight (torch.relu keeps it, so the output
// is NaN). Skipped, with the reason printed, when torch cannot be imported.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { ChannelSE, ChannelSpatialSE, type SeImpl } from '../../src/nn/se.js';
import { batchNormActSe } from '../../src/ops/norm_act_se.js';
import { Rng } from '../../src/random.js';
import { Tensor } from '../../src/tensor.js';
import { expectClose, randn } from '../helpers.js';

const PY = '/usr/bin/python3';
const PEERS = join(dirname(fileURLToPath(import.meta.url)), '../../bench/peers');
const torchCheck = spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' });
const hasTorch = torchCheck.status === 0;
if (!hasTorch) console.log(`se_edges.test: torch cases skipped: ${PY} cannot import torch (${(torchCheck.stderr || String(torchCheck.error)).trim().split('\n').pop()})`);

// Reads {kind, aggregation, shape (NHWC), x, dy, params {name: flat}} and prints y, dx and the
// parameter gradients (NHWC / flat), in float64; plus torch.max's own gradients at a tie.
const SCRIPT = String.raw`
import json, math, sys
sys.path.insert(0, sys.argv[1])
import torch
from torch_models import ChannelSE, ChannelSpatialSE
a = torch.zeros(3, dtype=torch.float64, requires_grad=True)
b = torch.zeros(3, dtype=torch.float64, requires_grad=True)
torch.max(a, b).sum().backward()
req = json.load(sys.stdin)
N, H, W, C = req["shape"]
m = ChannelSE(C) if req["kind"] == "cse" else ChannelSpatialSE(C, aggregation=req["aggregation"])
m = m.double()
with torch.no_grad():
    for name, p in m.named_parameters():
        p.copy_(torch.tensor([math.nan if v is None else v for v in req["params"][name]], dtype=torch.float64).reshape(p.shape))
nhwc = lambda v: torch.tensor(v, dtype=torch.float64).reshape(N, H, W, C).permute(0, 3, 1, 2)
x = nhwc(req["x"]).clone().requires_grad_(True)
y = m(x)
y.backward(nhwc(req["dy"]))
nulls = lambda t: [None if math.isnan(v) else v for v in t.detach().reshape(-1).tolist()]  # JSON has no NaN
flat = lambda t: nulls(t.permute(0, 2, 3, 1))
print(json.dumps({"tie": [a.grad.tolist(), b.grad.tolist()], "y": flat(y), "dx": flat(x.grad),
                  "grads": {n: nulls(p.grad) for n, p in m.named_parameters()}}))
`;

interface TorchOut {
  tie: [number[], number[]];
  y: (number | null)[];
  dx: (number | null)[];
  grads: Record<string, (number | null)[]>;
}

function torchRun(kind: 'cse' | 'scse', aggregation: string, shape: number[], x: Float32Array, dy: Float32Array, params: Map<string, Float32Array>): TorchOut {
  const req = { kind, aggregation, shape, x: Array.from(x), dy: Array.from(dy), params: Object.fromEntries([...params].map(([n, v]) => [n, Array.from(v)])) };
  const r = spawnSync(PY, ['-c', SCRIPT, PEERS], { input: JSON.stringify(req), encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`torch reference failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as TorchOut;
}

type Block = ChannelSE | ChannelSpatialSE;

/** Sets every parameter of m to small random values (the same for every impl). */
function setParams(m: Block, seed: number): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  m.namedParameters().forEach(([n, p], i) => {
    const v = randn(p.shape, seed + i, 0.5);
    p.handle.write(v);
    out.set(n, v);
  });
  return out;
}

const param = (m: Block, name: string): Tensor => m.namedParameters().find(([n]) => n === name)![1];

function run(m: Block, impl: SeImpl, x: Float32Array, shape: number[], dy: Float32Array) {
  m.impl = impl;
  const xt = Tensor.fromArray(x, shape, { requiresGrad: true });
  const y = m.forward(xt);
  y.backward(Tensor.fromArray(dy, shape));
  const out = { y: y.dataSync() as Float32Array, dx: xt.grad!.dataSync() as Float32Array, grads: new Map(m.namedParameters().map(([n, p]) => [n, p.grad!.dataSync() as Float32Array])) };
  for (const p of m.parameters()) {
    p.grad?.dispose();
    p.grad = null;
  }
  xt.dispose();
  y.dispose();
  return out;
}

/** x with about `frac` of its entries exactly 0: there u·s = u·q = 0, a tie of the scSE-max branches. */
function xWithZeros(shape: number[], seed: number, frac: number): { x: Float32Array; zeros: number } {
  const x = randn(shape, seed);
  const r = new Rng(seed + 1);
  let zeros = 0;
  for (let i = 0; i < x.length; i++) if (r.float() < frac) (x[i] = 0), zeros++;
  return { x, zeros };
}

describe('scSE-max at exact ties', () => {
  const shape = [2, 3, 4, 6];

  it.skipIf(!hasTorch)('fused and composed match PyTorch float64 autograd of torch.max(cSE, sSE) (30% zeros in x)', () => {
    const { x, zeros } = xWithZeros(shape, 31, 0.3);
    expect(zeros).toBeGreaterThan(20);
    const dy = randn(shape, 77);
    const m = new ChannelSpatialSE(6, { aggregation: 'max' });
    const params = setParams(m, 300);
    const ref = torchRun('scse', 'max', shape, x, dy, params);
    // the rule this follows, as the installed PyTorch has it: half to each side of a tie
    expect(ref.tie).toEqual([
      [0.5, 0.5, 0.5],
      [0.5, 0.5, 0.5],
    ]);
    for (const impl of ['fused', 'composed'] as const) {
      const ours = run(m, impl, x, shape, dy);
      expectClose(ours.y, ref.y as number[], 1e-5, 1e-6, `${impl} y`);
      expectClose(ours.dx, ref.dx as number[], 1e-4, 1e-5, `${impl} dx`);
      for (const [n, g] of ours.grads) expectClose(g, ref.grads[n]! as number[], 2e-4, 1e-5, `${impl} ${n}`);
    }
    m.dispose();
  });

  it('at a tie dx gets the mean of the branch gates (closed form), fused = composed', () => {
    // x = 0 everywhere, dy = 1: every element ties, so dx = ½(s + q)·dy plus the paths through
    // the squeezes, which zero weights (fc2.weight = 0, conv.weight = 0) remove. The old rule
    // (ties to cSE) gave s·dy.
    const x = new Float32Array(2 * 2 * 2 * 4);
    const m = new ChannelSpatialSE(4, { aggregation: 'max' });
    for (const [, p] of m.namedParameters()) p.handle.write(new Float32Array(p.size));
    // s = σ(fc2.bias), q = σ(conv.bias): distinct gates
    const sb = new Float32Array([0.3, -0.7, 1.1, 0]);
    param(m, 'cSE.fc2.bias').handle.write(sb);
    param(m, 'sSE.conv.bias').handle.write(new Float32Array([0.4]));
    const dy = new Float32Array(x.length).fill(1);
    const fused = run(m, 'fused', x, [2, 2, 2, 4], dy);
    const composed = run(m, 'composed', x, [2, 2, 2, 4], dy);
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const want = Array.from(x, (_, i) => 0.5 * (sig(sb[i % 4]!) + sig(0.4)));
    expectClose(fused.dx, want, 1e-6, 1e-7, 'fused dx');
    expectClose(composed.dx, want, 1e-6, 1e-7, 'composed dx');
    m.dispose();
  });
});

// The fused kernels' hidden ReLU keeps NaN; the composed twin builds the MLP from the generic relu
// op, which maps NaN to 0 like the batch norm + ReLU (its own NaN rule, left as it is), so only the
// fused paths are held to PyTorch here.
describe('a NaN in fc1.weight reaches the fused output (torch.relu keeps NaN)', () => {
  const shape = [1, 3, 3, 4];
  const x = randn(shape, 5);
  const dy = randn(shape, 6);
  const cases: { kind: 'cse' | 'scse'; agg: 'add' | 'max' | 'mul' }[] = [
    { kind: 'cse', agg: 'add' },
    { kind: 'scse', agg: 'add' },
    { kind: 'scse', agg: 'max' },
    { kind: 'scse', agg: 'mul' },
  ];
  for (const { kind, agg } of cases) {
    it(`${kind}${kind === 'scse' ? `-${agg}` : ''}: fused output all NaN, as PyTorch's`, () => {
      const m: Block = kind === 'cse' ? new ChannelSE(4) : new ChannelSpatialSE(4, { aggregation: agg });
      const params = setParams(m, 40);
      const name = kind === 'cse' ? 'fc1.weight' : 'cSE.fc1.weight';
      const w1 = params.get(name)!;
      w1[1] = Number.NaN;
      param(m, name).handle.write(w1);
      const y = run(m, 'fused', x, shape, dy).y;
      expect(Array.from(y).every(Number.isNaN), 'fused y all NaN').toBe(true);
      if (hasTorch) expect(torchRun(kind, agg, shape, x, dy, params).y.every((v) => v === null), 'torch y all NaN').toBe(true);
      m.dispose();
    });
  }

  it('the fused batch norm + ReLU + scSE shows it too', () => {
    const m = new ChannelSpatialSE(4, { aggregation: 'max' });
    const params = setParams(m, 50);
    const w1 = params.get('cSE.fc1.weight')!;
    w1[0] = Number.NaN;
    param(m, 'cSE.fc1.weight').handle.write(w1);
    const g = Tensor.fromArray(new Float32Array(4).fill(1), [4]);
    const b = Tensor.zeros([4]);
    const y = batchNormActSe(Tensor.fromArray(x, shape), g, b, { training: true, activation: 'relu' }, m.fusedSpec()!);
    expect(Array.from(y.dataSync()).every(Number.isNaN)).toBe(true);
    for (const t of [y, g, b]) t.dispose();
    m.dispose();
  });
});
