// GPU-vs-CPU parity of every CUDA op launcher (native/cuda/ops.h, cudnn_ops.h) and of the fused
// SE kernels (se_kernels.h): the same random inputs through the CPU op and, via
// cudaTestHooks.runOp, through the CUDA launcher; forward and backward. Bit for bit where the
// launchers promise it (ops.h: binary ops, relu, affine, pooling indices and gradients, unpooling,
// concat/split, Philox fills, dropout masks, SGD), else within 1e-5 of the output's largest value.
//
// Runs on a machine with a GPU, the CUDA build and cuDNN 9 (test/gpu/README.md); skipped with
// the reason elsewhere. SCSE_GPU_SELFCHECK=1 runs the CPU halves against themselves instead of the
// GPU, which checks the tests' own plumbing (arguments, shapes, comparisons) without a GPU.
import { afterEach, describe, expect, it } from 'vitest';

import { cudaStatus } from '../../src/device.js';
import { native, type NativeTensor } from '../../src/native.js';
import '../../src/ops/index.js';
import '../../src/optim/index.js';
import { Rng } from '../../src/random.js';
import { hooks, type OpInputs, type OpOutputs, type OpParams } from '../cuda/hooks.js';
import { expectClose, randn } from '../helpers.js';

const status = cudaStatus();
const SELF = process.env.SCSE_GPU_SELFCHECK === '1';
const runtimeOk = SELF || (status.runtimeUsable && hooks !== undefined);
const cudnnOk = SELF || (status.usable && hooks !== undefined);
if (!cudnnOk) console.log(`test/gpu/ops: GPU parity tests skipped: ${status.reason || 'the CUDA test hooks are not compiled in'}`);
else console.log(`test/gpu/ops: running on ${SELF ? 'cpu (self-check)' : `${status.backend ?? 'cuda'}: ${status.devices[0]?.name}`}`);
// On the CPU emulator (SCSE_CUDA=EMU) kernels run one fiber per CUDA thread: the SE shapes are
// scaled down there, keeping what makes the kernels branch (pixel tails, C not a multiple of 32,
// several warps per row block, C = 768: exactly the 48 KiB of shared memory per block).
const EMU = !SELF && status.backend === 'cuda-emu';

type Arr = Float32Array | Int32Array;
const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

const live: NativeTensor[] = [];
afterEach(() => {
  for (const t of live.splice(0)) if (!t.disposed) t.dispose();
});

function tensor(data: Arr, shape: readonly number[]): NativeTensor {
  const t = native.empty(shape, data instanceof Int32Array ? 'int32' : 'float32');
  t.write(data);
  live.push(t);
  return t;
}
function f32(t: NativeTensor): Float32Array {
  const r = t.read() as Float32Array;
  t.dispose();
  return r;
}
function i32(t: NativeTensor): Int32Array {
  const r = t.read() as Int32Array;
  t.dispose();
  return r;
}

/** The launcher's outputs; in self-check mode the CPU's (`cpu`, same names) stand in for them. */
function gpu(name: string, inputs: OpInputs, params: OpParams, cpu: Record<string, Arr | number[]>): OpOutputs {
  return SELF ? (cpu as OpOutputs) : hooks!.runOp(name, inputs, params);
}
function out(o: OpOutputs, k: string): Arr {
  const v = o[k];
  if (!(v instanceof Float32Array) && !(v instanceof Int32Array)) throw new Error(`runOp returned no output '${k}'`);
  return v;
}
/** Equal element for element (Object.is: every NaN equals every NaN, +0 and -0 differ). */
function exact(o: OpOutputs, k: string, want: ArrayLike<number>, what = k): void {
  const got = out(o, k);
  expect(got.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    if (!Object.is(got[i], want[i])) throw new Error(`${what}: element ${i} is ${got[i]} on the GPU, ${want[i]} on the CPU`);
  }
}
function near(o: OpOutputs, k: string, want: ArrayLike<number>, what = k, rtol = 1e-5, atol = 1e-7): void {
  expectClose(out(o, k), want, rtol, atol, what);
}

function labels(n: number, K: number, seed: number): Int32Array {
  const r = new Rng(seed);
  return Int32Array.from({ length: n }, () => r.int(K));
}
/** Values on a coarse grid (many ties and zeros, both signs of zero) plus a NaN. */
function coarse(shape: readonly number[], seed: number): Float32Array {
  const x = randn(shape, seed).map((v) => Math.round(v * 2) / 2);
  x[Math.min(7, x.length - 1)] = NaN;
  return x;
}

describe.skipIf(!runtimeOk)('CUDA elementwise ops vs CPU', () => {
  const shape = [3, 17, 9, 6];
  const x = randn(shape, 1);
  const dy = randn(shape, 2);
  const n = prod(shape);

  it('relu, reluBackward, affine, fill: bit for bit; sigmoid within rounding', () => {
    const cpu = {
      y: f32(native.relu(tensor(x, shape))),
      dx: f32(native.reluBackward(tensor(x, shape), tensor(dy, shape))),
    };
    exact(gpu('relu', { x }, {}, cpu), 'y', cpu.y, 'relu');
    exact(gpu('reluBackward', { x, dy }, {}, cpu), 'dx', cpu.dx, 'reluBackward');
    const aff = { y: f32(native.affine(tensor(x, shape), 1.37, -0.21)) };
    exact(gpu('affine', { x }, { a: 1.37, b: -0.21 }, aff), 'y', aff.y, 'affine');
    const sig = { y: f32(native.sigmoid(tensor(x, shape))) };
    near(gpu('sigmoid', { x }, {}, sig), 'y', sig.y, 'sigmoid');
    const sigB = { dx: f32(native.sigmoidBackward(tensor(sig.y, shape), tensor(dy, shape))) };
    exact(gpu('sigmoidBackward', { y: sig.y, dy }, {}, sigB), 'dx', sigB.dx, 'sigmoidBackward (from the same y)');
    const t = tensor(new Float32Array(n), shape);
    native.fill(t, -2.5);
    const fill = { y: f32(t) };
    exact(gpu('fill', {}, { n, value: -2.5 }, fill), 'y', fill.y, 'fill');
  });

  for (const slopes of [6, 1]) {
    it(`prelu with ${slopes === 1 ? 'a shared slope' : 'one slope per channel'}: forward and dx exact, dslope within rounding`, () => {
      const slope = randn([slopes], 3, 0.3);
      const cpuY = f32(native.prelu(tensor(x, shape), tensor(slope, [slopes])));
      exact(gpu('prelu', { x, slope }, { C: 6 }, { y: cpuY }), 'y', cpuY, 'prelu');
      const [dxT, dsT] = native.preluBackward(tensor(x, shape), tensor(slope, [slopes]), tensor(dy, shape));
      const cpu = { dx: f32(dxT), dslope: f32(dsT) };
      const g = gpu('preluBackward', { x, slope, dy }, { C: 6 }, cpu);
      exact(g, 'dx', cpu.dx, 'preluBackward dx');
      near(g, 'dslope', cpu.dslope, 'preluBackward dslope');
    });
  }
});

describe.skipIf(!runtimeOk)('CUDA broadcasting, reductions and last-axis ops vs CPU', () => {
  const kinds = ['add', 'sub', 'mul', 'div', 'max', 'min', 'maxShare'];
  const cases: [number[], number[]][] = [
    [[2, 3, 4, 5], [5]],
    [[2, 3, 4, 5], [2, 1, 1, 5]],
    [[2, 3, 4, 1], [1, 3, 1, 5]],
    [[7], [3, 1]],
    [[4, 5], [4, 5]],
    [[1], [2, 3, 4, 5]],
  ];
  for (const [as, bs] of cases) {
    it(`binary ops on ${JSON.stringify(as)} and ${JSON.stringify(bs)}: bit for bit (ties, zeros, NaN)`, () => {
      const a = coarse(as, 10);
      const b = coarse(bs, 11);
      kinds.forEach((kind, k) => {
        const cpu = { y: f32(native.binary(kind, tensor(a, as), tensor(b, bs))) };
        exact(gpu('binary', { a, b }, { kind: k, aShape: as, bShape: bs }, cpu), 'y', cpu.y, kind);
      });
    });
  }

  const sums: [number[], number[]][] = [
    [[4, 8, 8, 6], [6]],
    [[4, 8, 8, 6], [4, 1, 1, 6]],
    [[4, 8, 8, 6], [1, 8, 8, 1]],
    [[4, 8, 8, 6], [4, 8, 8, 1]],
    [[3, 5], [1]],
    [[1000, 7], [7]],
    [[2, 3], [2, 3]],
    [[16, 128, 128, 4], [4]], // three reduction stages
  ];
  for (const [xs, ys] of sums) {
    it(`sumTo ${JSON.stringify(xs)} -> ${JSON.stringify(ys)}`, () => {
      const x = randn(xs, 12);
      const cpu = { y: f32(native.sumTo(tensor(x, xs), ys)) };
      near(gpu('sumTo', { x }, { xShape: xs, yShape: ys }, cpu), 'y', cpu.y, 'sumTo');
    });
  }

  it('concat and split along the last axis: bit for bit', () => {
    const widths = [1, 4, 2];
    const parts = widths.map((w, k) => randn([2, 5, 3, w], 20 + k));
    const cpu = { y: f32(native.concat(parts.map((p, k) => tensor(p, [2, 5, 3, widths[k]!])))) };
    const inputs: OpInputs = {};
    parts.forEach((p, k) => (inputs[`x${k}`] = p));
    exact(gpu('concat', inputs, { rows: 30, widths }, cpu), 'y', cpu.y, 'concat');
    const split = native.split(tensor(cpu.y, [2, 5, 3, 7]), widths).map(f32);
    const g = gpu('split', { x: cpu.y }, { rows: 30, widths }, { y0: split[0]!, y1: split[1]!, y2: split[2]! });
    split.forEach((s, k) => exact(g, `y${k}`, s, `split part ${k}`));
  });

  it('softmax over the last axis and its backward', () => {
    const shape = [2, 5, 3, 7];
    const x = randn(shape, 30, 3);
    const dy = randn(shape, 31);
    const cpu = { y: f32(native.softmax(tensor(x, shape))) };
    near(gpu('softmax', { x }, { K: 7 }, cpu), 'y', cpu.y, 'softmax');
    const back = { dx: f32(native.softmaxBackward(tensor(cpu.y, shape), tensor(dy, shape))) };
    near(gpu('softmaxBackward', { y: cpu.y, dy }, { K: 7 }, back), 'dx', back.dx, 'softmaxBackward');
  });
});

describe.skipIf(!runtimeOk)('CUDA pooling vs CPU', () => {
  const cases = [
    { shape: [2, 9, 7, 5], k: 2, s: 2 },
    { shape: [2, 9, 7, 5], k: 3, s: 1 }, // overlapping windows: shared maxima, repeated indices
    { shape: [1, 8, 8, 3], k: 3, s: 2 },
  ];
  for (const { shape, k, s } of cases) {
    it(`max pool ${k}x${k} stride ${s} on ${JSON.stringify(shape)}, its backward, unpool and its backward: bit for bit`, () => {
      const [N, H, W, C] = shape as [number, number, number, number];
      const x = coarse(shape, 40);
      const [yT, idxT] = native.maxPool2d(tensor(x, shape), k, s);
      const oShape = yT.shape;
      const [OH, OW] = [oShape[1]!, oShape[2]!];
      const cpu = { y: f32(yT), indices: i32(idxT) };
      const geo = { N, H, W, C, k, s };
      const g = gpu('maxPool2d', { x }, geo, cpu);
      exact(g, 'y', cpu.y, 'maxPool2d y');
      exact(g, 'indices', cpu.indices, 'maxPool2d indices');

      const dy = randn(oShape, 41);
      const back = { dx: f32(native.maxPool2dBackward(tensor(dy, oShape), tensor(cpu.indices, oShape), shape)), bad: [-1, -1] };
      const gb = gpu('maxPool2dBackward', { dy, indices: cpu.indices }, geo, back);
      exact(gb, 'dx', back.dx, 'maxPool2dBackward');
      expect(gb.bad).toEqual([-1, -1]);

      const u = randn(oShape, 42);
      const unpool = { y: f32(native.maxUnpool2d(tensor(u, oShape), tensor(cpu.indices, oShape), H, W)), bad: [-1] };
      const ugeo = { N, h: OH, w: OW, C, H, W };
      const gu = gpu('maxUnpool2d', { x: u, indices: cpu.indices }, ugeo, unpool);
      exact(gu, 'y', unpool.y, 'maxUnpool2d');
      expect(gu.bad).toEqual([-1]);

      const du = randn(shape, 43);
      const unback = { dx: f32(native.maxUnpool2dBackward(tensor(du, shape), tensor(cpu.indices, oShape))), bad: [-1] };
      exact(gpu('maxUnpool2dBackward', { dy: du, indices: cpu.indices }, ugeo, unback), 'dx', unback.dx, 'maxUnpool2dBackward');
    });
  }

  it('index checks: out-of-range indices flagged at the largest bad position (the CPU names the same one)', () => {
    const [N, H, W, C, OH, OW] = [2, 4, 6, 3, 2, 3];
    const oShape = [N, OH, OW, C];
    const idx = new Int32Array(prod(oShape)); // all 0: in range
    idx[5] = -1;
    idx[17] = H * W;
    const x = randn(oShape, 44);
    expect(() => native.maxUnpool2d(tensor(x, oShape), tensor(idx, oShape), H, W)).toThrow(/maxUnpool2d: argument 'indices' holds 24 at \[0, 1, 2, 2\]/);
    const ugeo = { N, h: OH, w: OW, C, H, W };
    expect(gpu('maxUnpool2d', { x, indices: idx }, ugeo, { bad: [17] }).bad).toEqual([17]);
    expect(gpu('maxUnpool2dBackward', { dy: randn([N, H, W, C], 45), indices: idx }, ugeo, { bad: [17] }).bad).toEqual([17]);
    // slot 1: index 0 (pixel (0, 0)) lies outside every window but the first; the last such position is 35
    expect(gpu('maxPool2dBackward', { dy: x, indices: idx }, { N, H, W, C, k: 2, s: 2 }, { bad: [17, 35] }).bad).toEqual([17, 35]);
    // in range but outside its own window: the gather cannot see it (slot 1)
    const idx2 = new Int32Array(prod(oShape));
    for (let i = 0; i < idx2.length; i++) {
      const ow = Math.floor(i / C) % OW;
      const oh = Math.floor(i / (C * OW)) % OH;
      idx2[i] = oh * 2 * W + ow * 2; // each window's top-left pixel: valid
    }
    idx2[4] = (H - 1) * W + (W - 1); // position 4 is window (0, 1): the bottom-right pixel is not in it
    expect(gpu('maxPool2dBackward', { dy: x, indices: idx2 }, { N, H, W, C, k: 2, s: 2 }, { bad: [-1, 4] }).bad).toEqual([-1, 4]);
  });

  for (const shape of [
    [3, 7, 5, 6],
    [4, 64, 64, 32],
  ]) {
    it(`global average pooling on ${JSON.stringify(shape)}`, () => {
      const [N, H, W, C] = shape as [number, number, number, number];
      const x = randn(shape, 46);
      const cpu = { y: f32(native.globalAvgPool(tensor(x, shape))) };
      near(gpu('globalAvgPool', { x }, { N, P: H * W, C }, cpu), 'y', cpu.y, 'globalAvgPool');
      const dy = randn([N, 1, 1, C], 47);
      const back = { dx: f32(native.globalAvgPoolBackward(tensor(dy, [N, 1, 1, C]), shape)) };
      exact(gpu('globalAvgPoolBackward', { dy }, { N, P: H * W, C }, back), 'dx', back.dx, 'globalAvgPoolBackward');
    });
  }
});

describe.skipIf(!runtimeOk)('CUDA losses vs CPU', () => {
  const shape = [2, 33, 35, 4]; // 2310 pixels: two of the 2048-pixel chunks
  const P = 2 * 33 * 35;
  const K = 4;
  const pix = [2, 33, 35];
  const logits = randn(shape, 50, 2);
  const lab = labels(P, K, 51);

  for (const weighted of [false, true]) {
    it(`softmax cross-entropy ${weighted ? 'with' : 'without'} weights: loss, probs and gradient`, () => {
      const w = weighted ? randn(pix, 52).map(Math.abs) : null;
      const [lossT, probsT] = native.softmaxCrossEntropy(tensor(logits, shape), tensor(lab, pix), w ? tensor(w, pix) : null);
      const cpu = { loss: f32(lossT), probs: f32(probsT), bad: [-1, -1, -1] };
      const g = gpu('softmaxCrossEntropy', { logits, labels: lab, weights: w }, { P, K }, cpu);
      near(g, 'loss', cpu.loss, 'loss');
      near(g, 'probs', cpu.probs, 'probs');
      expect(g.bad).toEqual([-1, -1, -1]);
      const dy = new Float32Array([1.7]);
      const back = { dx: f32(native.softmaxCrossEntropyBackward(tensor(cpu.probs, shape), tensor(lab, pix), w ? tensor(w, pix) : null, tensor(dy, []))) };
      near(gpu('softmaxCrossEntropyBackward', { probs: cpu.probs, labels: lab, weights: w, dy }, { P, K }, back), 'dx', back.dx, 'dlogits');
    });
  }

  it('cross-entropy checks: first NaN/Inf logit, first bad label, first bad weight (as the CPU reports them)', () => {
    const x = logits.slice();
    x[300] = Infinity;
    x[50] = NaN;
    const l = lab.slice();
    l[2000] = 99;
    l[7] = -1;
    const w = new Float32Array(P).fill(1);
    w[11] = NaN;
    expect(() => native.softmaxCrossEntropy(tensor(x, shape), tensor(l, pix), tensor(w, pix))).toThrow(/NaN\/Inf at \[0, 0, 12, 2\]/);
    expect(gpu('softmaxCrossEntropy', { logits: x, labels: l, weights: w }, { P, K }, { bad: [50, 7, 11] }).bad).toEqual([50, 7, 11]);
  });

  for (const classes of [
    [1, 2, 3],
    [0, 1, 2, 3],
  ]) {
    it(`Dice loss over classes ${JSON.stringify(classes)}: loss, probs, stats and gradient`, () => {
      const [lossT, probsT, statsT] = native.diceLoss(tensor(logits, shape), tensor(lab, pix), classes, 1e-5, 1e-5);
      const cpu = { loss: f32(lossT), probs: f32(probsT), stats: f32(statsT), bad: [-1, -1] };
      const params = { P, K, classes, eps: 1e-5, smoothNr: 1e-5 };
      const g = gpu('diceLoss', { logits, labels: lab }, params, cpu);
      near(g, 'loss', cpu.loss, 'loss');
      near(g, 'probs', cpu.probs, 'probs');
      near(g, 'stats', cpu.stats, 'stats (I, Sp, G)');
      expect(g.bad).toEqual([-1, -1]);
      const dy = new Float32Array([0.8]);
      const dx = native.diceLossBackward(tensor(cpu.probs, shape), tensor(lab, pix), tensor(cpu.stats, [3, K]), classes, 1e-5, 1e-5, tensor(dy, []));
      const back = { dx: f32(dx), bad: [-1] };
      const gb = gpu('diceLossBackward', { probs: cpu.probs, labels: lab, stats: cpu.stats, dy }, params, back);
      near(gb, 'dx', back.dx, 'dlogits');
      expect(gb.bad).toEqual([-1]);
    });
  }

  it('Dice checks: first bad label in forward and backward', () => {
    const l = lab.slice();
    l[900] = 4;
    l[123] = -3;
    const params = { P, K, classes: [1, 2], eps: 1e-5, smoothNr: 0 };
    expect(gpu('diceLoss', { logits, labels: l }, params, { bad: [-1, 123] }).bad).toEqual([-1, 123]);
    const probs = new Float32Array(P * K).fill(0.25);
    const stats = new Float32Array(3 * K).fill(1);
    expect(gpu('diceLossBackward', { probs, labels: l, stats, dy: new Float32Array([1]) }, params, { bad: [123] }).bad).toEqual([123]);
  });
});

describe.skipIf(!runtimeOk)('CUDA Philox draws vs CPU (same tensors)', () => {
  const n = 4099; // not a multiple of 4: a partial last block
  it('uniform_ and dropout masks bit for bit, normal_ within rounding', () => {
    const t = tensor(new Float32Array(n), [n]);
    native.uniform_(t, -0.3, 0.7, 42, 3);
    const uni = { y: f32(t) };
    exact(gpu('uniform_', {}, { n, lo: -0.3, hi: 0.7, seed: 42, stream: 3 }, uni), 'y', uni.y, 'uniform_');
    const t2 = tensor(new Float32Array(n), [n]);
    native.normal_(t2, 0.5, 2, 7, 1);
    const nor = { y: f32(t2) };
    near(gpu('normal_', {}, { n, mean: 0.5, std: 2, seed: 7, stream: 1 }, nor), 'y', nor.y, 'normal_');
    for (const p of [0, 0.3, 1]) {
      const drop = { y: f32(native.dropoutMask([n], p, 9, 2)) };
      exact(gpu('dropoutMask', {}, { n, p, seed: 9, stream: 2 }, drop), 'y', drop.y, `dropoutMask p=${p}`);
    }
  });
});

describe.skipIf(!runtimeOk)('CUDA optimizer steps vs CPU', () => {
  const n = 1031;
  const sgdCases = [
    { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, firstStep: false },
    { momentum: 0.9, dampening: 0, weightDecay: 1e-4, nesterov: true, firstStep: false },
    { momentum: 0.9, dampening: 0.1, weightDecay: 1e-3, nesterov: false, firstStep: true },
    { momentum: 0.95, dampening: 0.1, weightDecay: 1e-3, nesterov: false, firstStep: false },
  ];
  for (const c of sgdCases) {
    it(`sgdStep ${JSON.stringify(c)}: bit for bit`, () => {
      const [p0, g0, b0] = [randn([n], 60), randn([n], 61), randn([n], 62)];
      const [p, b] = [tensor(p0, [n]), tensor(b0, [n])];
      native.sgdStep(p, tensor(g0, [n]), c.momentum ? b : null, 0.013, c.momentum, c.dampening, c.weightDecay, c.nesterov, c.firstStep);
      const cpu = { param: f32(p), momentumBuf: f32(b) };
      const g = gpu('sgdStep', { param: p0, grad: g0, momentumBuf: c.momentum ? b0 : null }, { lr: 0.013, ...c }, cpu);
      exact(g, 'param', cpu.param, 'param');
      if (c.momentum) exact(g, 'momentumBuf', cpu.momentumBuf, 'momentum buffer');
    });
  }
  for (const c of [
    { weightDecay: 0, decoupled: false },
    { weightDecay: 1e-2, decoupled: false },
    { weightDecay: 1e-2, decoupled: true },
  ]) {
    it(`adamStep ${JSON.stringify(c)}: moments bit for bit, parameters within 1e-6`, () => {
      const [p0, g0, m0] = [randn([n], 63), randn([n], 64), randn([n], 65)];
      const v0 = randn([n], 66).map((x) => x * x);
      const [p, m, v] = [tensor(p0, [n]), tensor(m0, [n]), tensor(v0, [n])];
      const h = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 7, ...c };
      native.adamStep(p, tensor(g0, [n]), m, v, h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, h.step, h.decoupled);
      const cpu = { param: f32(p), m: f32(m), v: f32(v) };
      const g = gpu('adamStep', { param: p0, grad: g0, m: m0, v: v0 }, h, cpu);
      near(g, 'param', cpu.param, 'param', 1e-6);
      exact(g, 'm', cpu.m, 'm');
      exact(g, 'v', cpu.v, 'v');
    });
  }
});

type Pair = [number, number];
interface ConvCase {
  name: string;
  x: [number, number, number, number];
  OC: number;
  k: Pair;
  stride: Pair;
  pad: Pair;
  dil: Pair;
  outPad?: Pair; // transposed only
  bias: boolean;
}

describe.skipIf(!cudnnOk)('cuDNN convolutions vs CPU (oneDNN)', () => {
  const convs: ConvCase[] = [
    { name: '3x3 stride 1 pad 1 + bias', x: [2, 9, 11, 5], OC: 8, k: [3, 3], stride: [1, 1], pad: [1, 1], dil: [1, 1], bias: true },
    { name: '3x3 stride 2 pad 1', x: [2, 10, 9, 4], OC: 6, k: [3, 3], stride: [2, 2], pad: [1, 1], dil: [1, 1], bias: false },
    { name: '1x1 + bias', x: [3, 7, 7, 16], OC: 4, k: [1, 1], stride: [1, 1], pad: [0, 0], dil: [1, 1], bias: true },
    { name: '3x3 dilation 2', x: [1, 12, 12, 3], OC: 5, k: [3, 3], stride: [1, 1], pad: [2, 2], dil: [2, 2], bias: false },
    { name: '5x3 kernel, stride (2, 1) + bias', x: [2, 11, 8, 3], OC: 4, k: [5, 3], stride: [2, 1], pad: [2, 1], dil: [1, 1], bias: true },
  ];
  const transposed: ConvCase[] = [
    { name: '2x2 stride 2 (U-Net up-sampling) + bias', x: [2, 5, 6, 8], OC: 4, k: [2, 2], stride: [2, 2], pad: [0, 0], dil: [1, 1], outPad: [0, 0], bias: true },
    { name: '3x3 stride 2 pad 1 outputPadding 1', x: [2, 5, 4, 3], OC: 6, k: [3, 3], stride: [2, 2], pad: [1, 1], dil: [1, 1], outPad: [1, 1], bias: false },
    { name: '3x3 stride 1 pad 1 + bias', x: [1, 6, 7, 5], OC: 3, k: [3, 3], stride: [1, 1], pad: [1, 1], dil: [1, 1], outPad: [0, 0], bias: true },
  ];

  function check(c: ConvCase, isT: boolean): void {
    const [N, IH, IW, IC] = c.x;
    const wShape = isT ? [IC, c.k[0], c.k[1], c.OC] : [c.OC, c.k[0], c.k[1], IC];
    const x = randn(c.x, 70);
    const w = randn(wShape, 71, 0.3);
    const bias = c.bias ? randn([c.OC], 72) : null;
    const op = c.outPad ?? ([0, 0] as Pair);
    const yT = isT
      ? native.convTranspose2d(tensor(x, c.x), tensor(w, wShape), bias ? tensor(bias, [c.OC]) : null, c.stride, c.pad, op, c.dil)
      : native.conv2d(tensor(x, c.x), tensor(w, wShape), bias ? tensor(bias, [c.OC]) : null, c.stride, c.pad, c.dil);
    const yShape = yT.shape;
    const params: OpParams = {
      transposed: isT,
      N,
      IC,
      IH,
      IW,
      OC: c.OC,
      KH: c.k[0],
      KW: c.k[1],
      OH: yShape[1]!,
      OW: yShape[2]!,
      stride: c.stride,
      padding: c.pad,
      dilation: c.dil,
      allowTf32: false,
    };
    const fwd = { y: f32(yT) };
    near(gpu('convForward', { x, w, bias }, params, fwd), 'y', fwd.y, 'forward');

    const dy = randn(yShape, 73);
    const dxT = isT
      ? native.convTranspose2dBackwardData(tensor(dy, yShape), tensor(w, wShape), c.x, c.stride, c.pad, op, c.dil)
      : native.conv2dBackwardData(tensor(dy, yShape), tensor(w, wShape), c.x, c.stride, c.pad, c.dil);
    const bd = { dx: f32(dxT) };
    near(gpu('convBackwardData', { dy, w }, params, bd), 'dx', bd.dx, 'backward data');

    const grads = isT
      ? native.convTranspose2dBackwardWeights(tensor(x, c.x), tensor(dy, yShape), wShape, c.bias, c.stride, c.pad, op, c.dil)
      : native.conv2dBackwardWeights(tensor(x, c.x), tensor(dy, yShape), wShape, c.bias, c.stride, c.pad, c.dil);
    const bw = { dw: f32(grads[0]!), db: c.bias ? f32(grads[1]!) : new Float32Array(0) };
    const g = gpu('convBackwardWeights', { x, dy }, { ...params, withBias: c.bias }, bw);
    near(g, 'dw', bw.dw, 'backward weights');
    if (c.bias) near(g, 'db', bw.db, 'bias gradient');
  }

  for (const c of convs) it(`conv2d ${c.name}: forward, backward data, backward weights`, () => check(c, false));
  for (const c of transposed) it(`convTranspose2d ${c.name}: forward, backward data, backward weights`, () => check(c, true));

  it.skipIf(SELF)('descriptors and algorithms are cached per shape', () => {
    const before = hooks!.cudnnCacheStats(0);
    check(convs[0]!, false);
    const after = hooks!.cudnnCacheStats(0);
    expect(after.hits - before.hits).toBeGreaterThanOrEqual(3); // the shape ran in the test above
    expect(after.misses).toBe(before.misses);
  });
});

describe.skipIf(!cudnnOk)('cuDNN batch norm vs CPU (oneDNN)', () => {
  const shape = [4, 6, 5, 7];
  const [N, H, W, C] = shape as [number, number, number, number];
  const dims = { N, H, W, C, eps: 1e-5 };
  const x = randn(shape, 80).map((v) => v * 3 + 5);
  const gamma = randn([C], 81);
  const beta = randn([C], 82);
  const dy = randn(shape, 83);

  it('training: y, batch mean and biased variance, running statistics (PyTorch formula)', () => {
    const rm0 = randn([C], 84);
    const rv0 = randn([C], 85).map((v) => v * v + 0.5);
    const [rm, rv] = [tensor(rm0, [C]), tensor(rv0, [C])];
    const [yT, mT, vT] = native.batchNormTrain(tensor(x, shape), tensor(gamma, [C]), tensor(beta, [C]), rm, rv, 0.1, 1e-5);
    const cpu = { y: f32(yT), mean: f32(mT), var: f32(vT), runningMean: f32(rm), runningVar: f32(rv) };
    const invStd = cpu.var.map((v) => 1 / Math.sqrt(v + 1e-5));
    const g = gpu('batchNormTrain', { x, gamma, beta, runningMean: rm0, runningVar: rv0 }, { ...dims, momentum: 0.1 }, { ...cpu, invStd });
    for (const k of ['y', 'mean', 'var', 'runningMean', 'runningVar'] as const) near(g, k, cpu[k], k);
    near(g, 'invStd', invStd, 'saved 1/sqrt(var + eps)');
  });

  it('inference with given statistics', () => {
    const mean = randn([C], 86);
    const variance = randn([C], 87).map((v) => v * v + 0.1);
    const cpu = { y: f32(native.batchNormInfer(tensor(x, shape), tensor(gamma, [C]), tensor(beta, [C]), tensor(mean, [C]), tensor(variance, [C]), 1e-5)) };
    near(gpu('batchNormInfer', { x, gamma, beta, mean, var: variance }, dims, cpu), 'y', cpu.y, 'y');
  });

  for (const globalStats of [false, true]) {
    it(`backward with ${globalStats ? 'fixed (global)' : 'batch'} statistics`, () => {
      let mean: Float32Array;
      let variance: Float32Array;
      if (globalStats) {
        mean = randn([C], 88);
        variance = randn([C], 89).map((v) => v * v + 0.1);
      } else {
        const [yT, mT, vT] = native.batchNormTrain(tensor(x, shape), tensor(gamma, [C]), tensor(beta, [C]), null, null, 0.1, 1e-5);
        yT.dispose();
        [mean, variance] = [f32(mT), f32(vT)];
      }
      const [dxT, dgT, dbT] = native.batchNormBackward(tensor(x, shape), tensor(mean, [C]), tensor(variance, [C]), tensor(gamma, [C]), tensor(dy, shape), 1e-5, globalStats);
      const cpu = { dx: f32(dxT), dgamma: f32(dgT), dbeta: f32(dbT) };
      const g = gpu('batchNormBackward', { x, mean, var: variance, gamma, dy }, { ...dims, globalStats }, cpu);
      for (const k of ['dx', 'dgamma', 'dbeta'] as const) near(g, k, cpu[k], k);
      if (!globalStats) {
        // with the forward's saved inverse std instead of the variance
        const invStd = variance.map((v) => 1 / Math.sqrt(v + 1e-5));
        const g2 = gpu('batchNormBackward', { x, mean, var: variance, invStd, gamma, dy }, { ...dims, globalStats }, cpu);
        for (const k of ['dx', 'dgamma', 'dbeta'] as const) near(g2, k, cpu[k], `${k} (saved invStd)`);
      }
    });
  }
});

describe.skipIf(!runtimeOk)('fused SE kernels (se.cu) vs CPU at the benchmark shapes', () => {
  const shapes: [number, number, number, number][] = EMU
    ? [
        [2, 64, 64, 64],
        [2, 37, 29, 96],
        [4, 16, 16, 128],
        [3, 8, 8, 256],
        [1, 9, 7, 768],
      ]
    : [
        [4, 256, 256, 64],
        [4, 128, 128, 64],
        [4, 64, 64, 128],
        [16, 32, 32, 256],
      ];
  const modes = ['cse', 'sse', 'scse add', 'scse max', 'scse mul'];
  for (const shape of shapes) {
    it(`${JSON.stringify(shape)}: every block, forward and backward`, () => {
      const [N, H, W, C] = shape;
      const P = H * W;
      const Cr = C / 2; // the default reduction ratio
      const x = randn(shape, 90);
      const dy = randn(shape, 91);
      const p = {
        w1: randn([Cr, C], 92, 1 / Math.sqrt(C)),
        b1: randn([Cr], 93, 0.1),
        w2: randn([C, Cr], 94, 1 / Math.sqrt(Cr)),
        b2: randn([C], 95, 0.1),
        wsq: randn([1, 1, 1, C], 96, 1 / Math.sqrt(C)),
        bsq: randn([1], 97, 0.1),
      };
      modes.forEach((name, mode) => {
        const ch = mode !== 1;
        const sp = mode !== 0;
        const args = [
          ch ? tensor(p.w1, [Cr, C]) : null,
          ch ? tensor(p.b1, [Cr]) : null,
          ch ? tensor(p.w2, [C, Cr]) : null,
          ch ? tensor(p.b2, [C]) : null,
          sp ? tensor(p.wsq, [1, 1, 1, C]) : null,
          sp ? tensor(p.bsq, [1]) : null,
        ];
        const inputs: OpInputs = {
          x,
          w1: ch ? p.w1 : null,
          b1: ch ? p.b1 : null,
          w2: ch ? p.w2 : null,
          b2: ch ? p.b2 : null,
          wsq: sp ? p.wsq : null,
          bsq: sp ? p.bsq : null,
        };
        const params = { mode, N, P, C, Cr: ch ? Cr : 0 };
        const xt = tensor(x, shape);
        const [y, z, hpre, s, q] = native.seForward(mode, xt, ...args).map(f32) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
        const g = gpu('seForward', inputs, params, { y, z, hpre, s, q });
        near(g, 'y', y, `${name} y`);
        if (ch) for (const [k, v] of [['z', z], ['hpre', hpre], ['s', s]] as const) near(g, k, v, `${name} ${k}`);
        if (sp) near(g, 'q', q, `${name} q`);

        const saved = [z, hpre, s, q].map((a, i) => tensor(a, [[N, C], [N, ch ? Cr : 1], [N, C], [N, H, W]][i]!));
        const grads = native.seBackward(mode, xt, ...args, tensor(dy, shape), ...saved);
        const names = ['dx', 'dw1', 'db1', 'dw2', 'db2', 'dwsq', 'dbsq'];
        const cpu: Record<string, Float32Array> = {};
        grads.forEach((t, i) => {
          if (t) cpu[names[i]!] = f32(t);
        });
        const gb = gpu('seBackward', { ...inputs, dy, z, hpre, s, q }, params, cpu);
        near(gb, 'dx', cpu.dx!, `${name} dx`);
        // parameter gradients: the GPU sums images and blocks with float atomics (se.cu)
        for (const k of names.slice(1)) if (cpu[k]) near(gb, k, cpu[k]!, `${name} ${k}`, 1e-4);
      });
    });
  }
});
