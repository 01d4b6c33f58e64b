// Dispatch-level GPU-vs-CPU parity: every public op of src/ops run on CPU tensors and on their
// copies on the GPU (tensor.to('cuda')), through the same TypeScript code, the native entry
// points' device routing and the CUDA twins (native/cuda/dispatch_*.cc). Forward outputs and
// the gradients of every input are compared: bit for bit where the launchers promise it
// (cuda/ops.h), else within a tolerance relative to the output's largest value (1e-5; cuDNN
// convolutions and batch norm 1e-4; SE parameter gradients 1e-4: float atomics in se.cu).
//
// Runs on a machine with a GPU (`npm run test:gpu`, test/gpu/README.md); skipped with the reason
// elsewhere. SCSE_GPU_SELFCHECK=1 runs the GPU halves on the CPU (test plumbing only).
import { afterEach, describe, expect, it } from 'vitest';

import { keep as scopeKeep, tidy } from '../../src/autograd/scope.js';
import { native } from '../../src/native.js';
import { ChannelSE, ChannelSpatialSE, SpatialSE } from '../../src/nn/se.js';
import * as ops from '../../src/ops/index.js';
import { Adam } from '../../src/optim/adam.js';
import { SGD } from '../../src/optim/sgd.js';
import { manualSeed, Rng } from '../../src/random.js';
import { Tensor } from '../../src/tensor.js';
import { expectClose, randn } from '../helpers.js';
import { announceSkip, DEV, gpuOk, mirror, SELF } from './common.js';

announceSkip('dispatch');

const live: Tensor[] = [];
afterEach(() => {
  for (const t of live.splice(0)) t.dispose();
});
/** Disposed after the test, and kept by the tidy() scope parity() runs f in. */
const keep = <T extends Tensor>(t: T): T => (live.push(scopeKeep(t)), t);

/** A float32 CPU leaf tensor of normal samples (requiring grad unless told otherwise). */
function rt(shape: number[], seed: number, grad = true, scale = 1): Tensor {
  return keep(Tensor.fromArray(randn(shape, seed, scale), shape, { requiresGrad: grad }));
}
function labels(shape: number[], K: number, seed: number): Tensor {
  const r = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return keep(Tensor.fromArray(Int32Array.from({ length: n }, () => r.int(K)), shape));
}
function positive(shape: number[], seed: number, grad = false): Tensor {
  return keep(Tensor.fromArray(randn(shape, seed).map((v) => Math.abs(v) + 0.5), shape, { requiresGrad: grad }));
}

function same(got: Tensor, want: Tensor, what: string, tol: number | 'exact'): void {
  expect(got.shape, `${what}: shape`).toEqual(want.shape);
  expect(got.dtype, `${what}: dtype`).toBe(want.dtype);
  const g = got.dataSync();
  const w = want.dataSync();
  if (tol === 'exact') {
    for (let i = 0; i < w.length; i++) {
      if (!Object.is(g[i], w[i])) throw new Error(`${what}: element ${i} is ${g[i]} on ${DEV}, ${w[i]} on the CPU`);
    }
  } else expectClose(g, w, tol, 1e-7, what);
}

/**
 * Runs f on CPU inputs and on their mirrors on DEV (`gpu` tells f which half it runs): compares
 * the output and, when it is differentiable, the gradients of every input that requires grad
 * (seeded with the same dy). Intermediates of f are disposed (tidy); autograd keeps its own.
 */
function parity(
  name: string,
  inputs: Tensor[],
  f: (xs: Tensor[], gpu: boolean) => Tensor,
  tol: number | 'exact' = 1e-5,
  gradTol: number | 'exact' = tol,
): void {
  for (const t of inputs) {
    t.grad?.dispose(); // inputs reused by several cases start without a gradient
    t.grad = null;
  }
  const gpu = inputs.map((t) => keep(mirror(t)));
  const yc = keep(tidy(() => f(inputs, false)));
  const yg = keep(tidy(() => f(gpu, true)));
  expect(yg.device, `${name}: output device`).toBe(DEV);
  same(yg, yc, `${name} forward`, tol);
  if (!yc.requiresGrad) return;
  const dy = keep(Tensor.fromArray(randn(yc.shape as number[], 999), yc.shape));
  yc.backward(dy);
  yg.backward(keep(mirror(dy)));
  inputs.forEach((t, i) => {
    if (!t.requiresGrad) return;
    const gg = gpu[i]!.grad!;
    expect(gg.device, `${name}: grad ${i} device`).toBe(DEV);
    same(gg, t.grad!, `${name} d(input ${i})`, gradTol);
  });
}

describe.skipIf(!gpuOk)('elementwise, broadcasting, reductions and shape ops on CUDA vs CPU', () => {
  const shape = [2, 5, 7, 6];

  it('relu, sigmoid, scale, neg, prelu', () => {
    const x = keep(Tensor.fromArray(randn(shape, 1).map((v) => Math.round(v * 4) / 4), shape, { requiresGrad: true })); // zeros and ties
    parity('relu', [x], ([a]) => ops.relu(a!), 'exact');
    parity('sigmoid', [rt(shape, 2)], ([a]) => ops.sigmoid(a!));
    parity('scale', [rt(shape, 3)], ([a]) => ops.scale(a!, 1.37, -0.21), 'exact');
    parity('neg', [rt(shape, 4)], ([a]) => ops.neg(a!), 'exact');
    parity('prelu per channel', [rt(shape, 5), rt([6], 6, true, 0.3)], ([a, s]) => ops.prelu(a!, s!), 'exact', 1e-5);
    parity('prelu shared', [rt(shape, 7), rt([1], 8, true, 0.3)], ([a, s]) => ops.prelu(a!, s!), 'exact', 1e-5);
  });

  const pairs: [number[], number[]][] = [
    [[2, 3, 4, 5], [5]],
    [[2, 3, 4, 5], [2, 1, 1, 5]],
    [[2, 3, 4, 1], [1, 3, 1, 5]],
    [[4, 5], [4, 5]],
  ];
  for (const [as, bs] of pairs) {
    it(`add, sub, mul, div, maximum, minimum on ${JSON.stringify(as)} and ${JSON.stringify(bs)} (gradients reduced to the broadcast shapes)`, () => {
      const fs: [string, (a: Tensor, b: Tensor) => Tensor][] = [
        ['add', ops.add],
        ['sub', ops.sub],
        ['mul', ops.mul],
        ['div', ops.div],
        ['maximum', ops.maximum],
        ['minimum', ops.minimum],
      ];
      for (const [name, f] of fs) parity(name, [rt(as, 10), positive(bs, 11, true)], ([a, b]) => f(a!, b!), 'exact', 1e-5);
    });
  }

  it('sum and mean over axes, reshape, concat, split, softmax', () => {
    parity('sum all', [rt(shape, 20)], ([a]) => ops.sum(a!));
    parity('sum axes', [rt(shape, 21)], ([a]) => ops.sum(a!, [1, 2], true));
    parity('mean axis', [rt(shape, 22)], ([a]) => ops.mean(a!, 3));
    parity('reshape', [rt(shape, 23)], ([a]) => ops.reshape(a!, [10, -1]), 'exact');
    parity('concat', [rt([2, 3, 4, 1], 24), rt([2, 3, 4, 5], 25)], ([a, b]) => ops.concat([a!, b!]), 'exact');
    parity('split', [rt(shape, 26)], ([a]) => {
      const [p, q] = ops.split(a!, [2, 4]);
      return ops.concat([q!, ops.scale(p!, 2)]);
    }, 'exact');
    parity('softmax', [rt(shape, 28, true, 3)], ([a]) => ops.softmax(a!));
  });
});

describe.skipIf(!gpuOk)('convolutions, linear and batch norm on CUDA (cuDNN) vs CPU (oneDNN)', () => {
  it('conv2d: 3x3 pad 1 + bias, stride 2, dilation 2, 1x1', () => {
    parity('conv 3x3', [rt([2, 9, 11, 5], 30), rt([8, 3, 3, 5], 31, true, 0.3), rt([8], 32)], ([x, w, b]) => ops.conv2d(x!, w!, b!, { padding: 1 }), 1e-4);
    parity('conv stride 2', [rt([2, 10, 9, 4], 33), rt([6, 3, 3, 4], 34, true, 0.3)], ([x, w]) => ops.conv2d(x!, w!, null, { stride: 2, padding: 1 }), 1e-4);
    parity('conv dilation 2', [rt([1, 12, 12, 3], 35), rt([5, 3, 3, 3], 36, true, 0.3)], ([x, w]) => ops.conv2d(x!, w!, null, { padding: 2, dilation: 2 }), 1e-4);
    parity('conv 1x1', [rt([3, 7, 7, 16], 37), rt([4, 1, 1, 16], 38, true, 0.3), rt([4], 39)], ([x, w, b]) => ops.conv2d(x!, w!, b!), 1e-4);
  });

  it('convTranspose2d: 2x2 stride 2 + bias (U-Net up-sampling), 3x3 stride 2 outputPadding 1', () => {
    parity('up 2x2', [rt([2, 5, 6, 8], 40), rt([8, 2, 2, 4], 41, true, 0.3), rt([4], 42)], ([x, w, b]) => ops.convTranspose2d(x!, w!, b!, { stride: 2 }), 1e-4);
    parity('3x3 op 1', [rt([2, 5, 4, 3], 43), rt([3, 3, 3, 6], 44, true, 0.3)], ([x, w]) =>
      ops.convTranspose2d(x!, w!, null, { stride: 2, padding: 1, outputPadding: 1 }), 1e-4);
  });

  it('linear with and without bias (a 1x1 convolution on the GPU)', () => {
    parity('linear + bias', [rt([6, 10], 45), rt([4, 10], 46, true, 0.3), rt([4], 47)], ([x, w, b]) => ops.linear(x!, w!, b!), 1e-4);
    parity('linear', [rt([3, 7], 48), rt([5, 7], 49, true, 0.3)], ([x, w]) => ops.linear(x!, w!), 1e-4);
  });

  it('batch norm: training (outputs, gradients, running statistics) and inference', () => {
    const shape = [4, 6, 5, 7];
    const x = keep(Tensor.fromArray(randn(shape, 50).map((v) => v * 3 + 5), shape, { requiresGrad: true }));
    const rm = rt([7], 51, false);
    const rv = positive([7], 52);
    const rmG = keep(mirror(rm));
    const rvG = keep(mirror(rv));
    parity('batchNorm train', [x, rt([7], 53), rt([7], 54)], ([a, g, b], gpu) =>
      ops.batchNorm(a!, g!, b!, { training: true, runningMean: gpu ? rmG : rm, runningVar: gpu ? rvG : rv, momentum: 0.1, eps: 1e-5 }), 1e-4);
    same(rmG, rm, 'running mean', 1e-5);
    same(rvG, rv, 'running var', 1e-5);
    parity('batchNorm eval', [x, rt([7], 55), rt([7], 56)], ([a, g, b], gpu) =>
      ops.batchNorm(a!, g!, b!, { training: false, runningMean: gpu ? rmG : rm, runningVar: gpu ? rvG : rv }), 1e-4);
  });

  it('batchNormAct: the CPU fused kernel vs the CUDA composition (concat, cuDNN batch norm, PReLU)', () => {
    const parts = [keep(Tensor.fromArray(randn([4, 6, 5, 3], 57).map((v) => v * 2 + 1), [4, 6, 5, 3], { requiresGrad: true })), rt([4, 6, 5, 4], 58)];
    const rm = rt([7], 59, false);
    const rv = positive([7], 60);
    const rmG = keep(mirror(rm));
    const rvG = keep(mirror(rv));
    const opts = (gpu: boolean, training: boolean) => ({ training, runningMean: gpu ? rmG : rm, runningVar: gpu ? rvG : rv, activation: 'prelu' as const });
    parity('batchNormAct train', [...parts, rt([7], 61), rt([7], 62), rt([1], 63)], ([a, b, g, be, s], gpu) =>
      ops.batchNormAct([a!, b!], g!, be!, { ...opts(gpu, true), slope: s! }), 1e-4);
    same(rmG, rm, 'running mean', 1e-5);
    same(rvG, rv, 'running var', 1e-5);
    parity('batchNormAct eval', [...parts, rt([7], 64), rt([7], 65), rt([7], 66)], ([a, b, g, be, s], gpu) =>
      ops.batchNormAct([a!, b!], g!, be!, { ...opts(gpu, false), slope: s! }), 1e-4);
  });

  it('batchNormActSe: the CPU fused kernel (BN + ReLU + scSE) vs the CUDA composition (cuDNN batch norm, ReLU, fused SE)', () => {
    const shape = [3, 6, 5, 8];
    const x = keep(Tensor.fromArray(randn(shape, 67).map((v) => v * 2 + 1), shape, { requiresGrad: true }));
    const rm = rt([8], 68, false);
    const rv = positive([8], 69);
    const rmG = keep(mirror(rm));
    const rvG = keep(mirror(rv));
    const se = [rt([4, 8], 70, true, 0.3), rt([4], 71), rt([8, 4], 72, true, 0.3), rt([8], 73), rt([1, 1, 1, 8], 74, true, 0.3), rt([1], 75)];
    parity('batchNormActSe train', [x, rt([8], 76), rt([8], 77), ...se], ([a, g, b, w1, b1, w2, b2, wsq, bsq], gpu) =>
      ops.batchNormActSe(a!, g!, b!, { training: true, runningMean: gpu ? rmG : rm, runningVar: gpu ? rvG : rv, activation: 'relu' }, {
        kind: 'scse',
        params: { fc1Weight: w1!, fc1Bias: b1!, fc2Weight: w2!, fc2Bias: b2!, convWeight: wsq!, convBias: bsq! },
      }), 1e-4);
    same(rmG, rm, 'running mean', 1e-5);
    same(rvG, rv, 'running var', 1e-5);
  });
});

describe.skipIf(!gpuOk)('pooling, losses, dropout and random fills on CUDA vs CPU', () => {
  it('max pooling (values and indices bit for bit), its backward, unpooling to the skip size, global average pooling', () => {
    for (const [shape, k, s] of [
      [[2, 9, 7, 5], 2, 2],
      [[2, 9, 7, 5], 3, 1],
    ] as [number[], number, number][]) {
      const x = keep(Tensor.fromArray(randn(shape, 60).map((v) => Math.round(v * 2) / 2), shape, { requiresGrad: true }));
      const idx: Tensor[] = [];
      parity(`maxPool2d ${k}x${k}/${s}`, [x], ([a]) => {
        const { y, indices } = ops.maxPool2d(a!, { kernel: k, stride: s });
        idx.push(keep(indices));
        return y;
      }, 'exact');
      same(idx[1]!, idx[0]!, `maxPool2d ${k}x${k}/${s} indices`, 'exact');
      parity(`maxPool2d ${k}x${k}/${s} + unpool`, [x], ([a]) => {
        const { y, indices } = ops.maxPool2d(a!, { kernel: k, stride: s });
        return ops.maxUnpool2d(y, indices, [shape[1]!, shape[2]!]);
      }, 'exact');
    }
    parity('globalAvgPool', [rt([3, 7, 5, 6], 61)], ([a]) => ops.globalAvgPool(a!));
  });

  it('softmax cross-entropy with and without weights, Dice, the combined loss', () => {
    const shape = [2, 33, 35, 4]; // 2310 pixels: more than one 2048-pixel chunk
    const pix = [2, 33, 35];
    const y = labels(pix, 4, 70);
    const w = positive(pix, 71);
    parity('cross-entropy', [rt(shape, 72, true, 2), y], ([a, l]) => ops.softmaxCrossEntropy(a!, l!));
    parity('weighted cross-entropy', [rt(shape, 73, true, 2), y, w], ([a, l, ww]) => ops.softmaxCrossEntropy(a!, l!, ww!));
    parity('Dice', [rt(shape, 74, true, 2), y], ([a, l]) => ops.diceLoss(a!, l!));
    parity('Dice with background', [rt(shape, 75, true, 2), y], ([a, l]) => ops.diceLoss(a!, l!, { includeBackground: true }));
    parity('combined', [rt(shape, 76, true, 2), y, w], ([a, l, ww]) => ops.combinedLoss(a!, l!, ww!).loss);
  });

  it('dropout2d masks and uniform fills are the same tensors on both devices; normal fills within rounding', () => {
    parity('dropout2d', [rt([3, 4, 4, 8], 80)], ([a]) => {
      manualSeed(5);
      return ops.dropout2d(a!, 0.3, true);
    }, 'exact');
    manualSeed(9);
    const uc = keep(ops.uniform([4099], -0.3, 0.7));
    manualSeed(9);
    const ug = keep(ops.uniform([4099], -0.3, 0.7, DEV));
    same(ug, uc, 'uniform', 'exact');
    manualSeed(10);
    const nc = keep(ops.normal([4099], 0.5, 2));
    manualSeed(10);
    const ng = keep(ops.normal([4099], 0.5, 2, DEV));
    same(ng, nc, 'normal', 1e-5);
  });

  it('content errors read back from the device give the CPU message', () => {
    const shape = [1, 4, 4, 3];
    const x = rt(shape, 90, false);
    const bad = keep(Tensor.fromArray(Int32Array.from({ length: 16 }, (_, i) => (i === 9 ? 7 : 0)), [1, 4, 4]));
    const msg = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        return (e as Error).message;
      }
      return '(nothing thrown)';
    };
    const cpu = msg(() => ops.softmaxCrossEntropy(x, bad));
    expect(cpu).toMatch(/softmaxCrossEntropy: argument 'labels' has 7 at \[0, 2, 1\]/);
    expect(msg(() => ops.softmaxCrossEntropy(keep(mirror(x)), keep(mirror(bad))))).toBe(cpu);
    expect(msg(() => ops.diceLoss(keep(mirror(x)), keep(mirror(bad))))).toBe(msg(() => ops.diceLoss(x, bad)));
    const idx = keep(Tensor.fromArray(Int32Array.from({ length: 48 }, (_, i) => (i === 17 ? 99 : 0)), shape));
    const cpuU = msg(() => ops.maxUnpool2d(x, idx, [8, 8]));
    expect(cpuU).toMatch(/maxUnpool2d: argument 'indices' holds 99 at \[0, 1, 1, 2\], outside \[0, 64\)/);
    expect(msg(() => ops.maxUnpool2d(keep(mirror(x)), keep(mirror(idx)), [8, 8]))).toBe(cpuU);
    // the fused SE forward flags the first image with a NaN/Inf squeeze, as on the CPU
    const xs = Float32Array.from({ length: 2 * 4 * 4 * 8 }, (_, i) => (i === 4 * 4 * 8 + 21 ? Number.NaN : Math.sin(i)));
    const p = { convWeight: rt([1, 1, 1, 8], 91, false, 0.3), convBias: rt([1], 92, false, 0.1), fc1Weight: rt([4, 8], 93, false, 0.3), fc2Weight: rt([8, 4], 94, false, 0.3) };
    const xc = keep(Tensor.fromArray(xs, [2, 4, 4, 8]));
    for (const kind of ['cse', 'sse', 'scse'] as const) {
      const cpuSe = msg(() => ops.squeezeExcite(xc, kind, p));
      expect(cpuSe).toMatch(/contains NaN or Inf in image 1/);
      const pg = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, keep(mirror(v))]));
      expect(msg(() => ops.squeezeExcite(keep(mirror(xc)), kind, pg))).toBe(cpuSe);
    }
  });
});

describe.skipIf(!gpuOk)('fused and composed SE blocks on CUDA vs CPU', () => {
  const shape = [2, 9, 11, 16];
  for (const [kind, agg] of [
    ['cse', 'add'],
    ['sse', 'add'],
    ['scse', 'add'],
    ['scse', 'max'],
    ['scse', 'mul'],
  ] as const) {
    it(`squeezeExcite ${kind}${kind === 'scse' ? ` ${agg}` : ''}: output, dx and every parameter gradient`, () => {
      const C = 16;
      const Cr = 8;
      const ch = kind !== 'sse';
      const sp = kind !== 'cse';
      const inputs = [
        rt(shape, 100),
        rt([Cr, C], 101, ch, 0.25),
        rt([Cr], 102, ch, 0.1),
        rt([C, Cr], 103, ch, 0.35),
        rt([C], 104, ch, 0.1),
        rt([1, 1, 1, C], 105, sp, 0.25),
        rt([1], 106, sp, 0.1),
      ];
      parity(`SE ${kind} ${agg}`, inputs, ([x, w1, b1, w2, b2, wsq, bsq]) =>
        ops.squeezeExcite(x!, kind, ch ? { fc1Weight: w1, fc1Bias: b1, fc2Weight: w2, fc2Bias: b2, ...(sp ? { convWeight: wsq, convBias: bsq } : {}) } : { convWeight: wsq, convBias: bsq }, agg),
        1e-5, 1e-4);
    });
  }

  it('composed blocks (pool, linear, relu, 1x1 conv, sigmoid, mul/add/max) through Module.to', () => {
    for (const make of [() => new ChannelSE(16, { impl: 'composed' }), () => new SpatialSE(16, { impl: 'composed' }), () => new ChannelSpatialSE(16, { impl: 'composed', aggregation: 'max' })]) {
      manualSeed(3);
      const mc = make();
      manualSeed(3);
      const mg = make().to(DEV);
      parity(`composed ${mc.constructor.name}`, [rt(shape, 110)], ([x], gpu) => (gpu ? mg : mc).forward(x!), 1e-4);
      for (const [[n, pc], [, pg]] of mc.namedParameters().map((e, i) => [e, mg.namedParameters()[i]!] as const)) {
        same(pg.grad!, pc.grad!, `composed ${mc.constructor.name} grad ${n}`, 1e-4);
      }
      mc.dispose();
      mg.dispose();
    }
  });
});

describe.skipIf(!gpuOk)('optimizer steps and device plumbing on CUDA', () => {
  it('SGD (momentum, Nesterov, weight decay) and Adam/AdamW: parameters and state after three steps', () => {
    for (const make of [
      (p: Tensor[]) => new SGD(p, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }),
      (p: Tensor[]) => new Adam(p, { lr: 1e-2, weightDecay: 1e-2 }),
      (p: Tensor[]) => new Adam(p, { lr: 1e-2, weightDecay: 1e-2, decoupled: true }),
    ]) {
      const pc = rt([257], 120);
      const pg = keep(mirror(pc));
      const oc = make([pc]);
      const og = make([pg]);
      for (let s = 0; s < 3; s++) {
        const g = rt([257], 121 + s, false);
        pc.grad = g.clone();
        pg.grad = mirror(g);
        oc.step();
        og.step();
        oc.zeroGrad();
        og.zeroGrad();
      }
      same(pg, pc, `${oc.constructor.name} parameters`, 1e-6);
      const sc = oc.stateDict();
      const sg = og.stateDict();
      for (const [k, t] of sc.tensors) {
        const u = sg.tensors.get(k)!;
        expect(u.device).toBe(DEV);
        same(u, t, `state ${k}`, 1e-6);
      }
      for (const t of [...sc.tensors.values(), ...sg.tensors.values()]) t.dispose();
      oc.dispose();
      og.dispose();
    }
  });

  it('tensor.to() is differentiable both ways; data() and dataSync() agree', async () => {
    const x = rt([2, 3], 130);
    const y = keep(ops.scale(x.to(DEV), 2));
    expect(y.device).toBe(DEV);
    const back = keep(y.to('cpu'));
    keep(ops.sum(ops.mul(back, back))).backward();
    expect(x.grad!.device).toBe('cpu');
    expectClose(x.grad!.dataSync(), Array.from(x.dataSync(), (v) => 8 * v), 1e-6, 0, 'd/dx sum((2x)^2)');
    expect(Array.from(await y.data())).toEqual(Array.from(y.dataSync()));
  });

  it.skipIf(SELF)('a native op given tensors on two devices names the op, the arguments and the devices', () => {
    const a = rt([4], 140, false);
    const b = keep(mirror(a));
    expect(() => native.binary('add', a.handle, b.handle)).toThrow(`add: arguments must be on one device: 'a' is on cpu, 'b' is on ${DEV}`);
    expect(() => native.conv2d(b.handle, a.handle, null, [1, 1], [0, 0], [1, 1])).toThrow(/conv2d: argument 'x' expected rank 4/);
    const x = rt([1, 4, 4, 2], 141, false);
    const w = keep(mirror(rt([3, 1, 1, 2], 142, false)));
    expect(() => native.conv2d(x.handle, w.handle, null, [1, 1], [0, 0], [1, 1])).toThrow(`conv2d: arguments must be on one device: 'x' is on cpu, 'w' is on ${DEV}`);
  });
});
