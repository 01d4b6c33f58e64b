// Devices as seen from a machine without a usable GPU (CI): asking for CUDA fails with the status
// reason (never a crash, never a leaked tensor), CPU tensors and modules report and keep their
// device, and every op checks in TypeScript that its tensors share one device before the native
// call. A tensor that merely *claims* to be on cuda:0 (its `device` overridden; its memory is on
// the CPU) stands in for a real one: the checks under test must fire before anything reads it.
// The same paths with real CUDA tensors are in test/gpu/dispatch.test.ts.
import { describe, expect, it } from 'vitest';

import { cudaStatus, DeviceUnavailableError, resolveDevice } from '../src/device.js';
import { memory } from '../src/memory.js';
import { createModel } from '../src/models/index.js';
import { native } from '../src/native.js';
import { ChannelSpatialSE } from '../src/nn/se.js';
import * as ops from '../src/ops/index.js';
import * as check from '../src/ops/check.js';
import { SGD } from '../src/optim/sgd.js';
import { Tensor } from '../src/tensor.js';
import { expectClose, randn, randt, thrown } from './helpers.js';

const status = cudaStatus();

/** Makes t claim to live on another device (its data stay on the CPU). */
function claim<T extends Tensor>(t: T, device = 'cuda:0'): T {
  Object.defineProperty(t, 'device', { value: device, configurable: true });
  return t;
}

describe.runIf(!status.usable)('CUDA asked for where it cannot run', () => {
  // what resolveDevice says for this machine (no driver, no device, no cuDNN, ...)
  const why = thrown(() => resolveDevice('cuda'));

  it('tensor.to("cuda") throws DeviceUnavailableError with the status reason; the tensor is untouched', () => {
    const t = Tensor.fromArray([1, 2, 3], [3]);
    const before = memory().tensors;
    expect(() => t.to('cuda')).toThrow(DeviceUnavailableError);
    expect(thrown(() => t.to('cuda'))).toBe(why);
    if (status.devices.length === 0) expect(why).toBe(`cuda: not usable: ${status.reason}`);
    expect(thrown(() => t.to('cuda:1'))).toMatch(/^cuda:1: not usable: /);
    expect(memory().tensors).toBe(before);
    expect(t.device).toBe('cpu');
    expect(Array.from(t.dataSync())).toEqual([1, 2, 3]);
    t.dispose();
  });

  it('creating tensors on CUDA and moving modules fails the same way', () => {
    const before = memory().tensors;
    expect(thrown(() => Tensor.zeros([2], 'float32', 'cuda'))).toBe(why);
    expect(thrown(() => Tensor.fromArray([1, 2], [2], { device: 'cuda' }))).toBe(why);
    expect(thrown(() => ops.uniform([4], 0, 1, 'cuda'))).toBe(why);
    expect(memory().tensors).toBe(before);
    const m = new ChannelSpatialSE(4);
    expect(thrown(() => m.to('cuda'))).toBe(why);
    expect(m.device).toBe('cpu');
    const x = randt([1, 2, 2, 4], 1, false);
    const y = m.forward(x); // still usable on the CPU
    expect(y.device).toBe('cpu');
    for (const t of [x, y]) t.dispose();
    m.dispose();
  });

  it('the native calls behind them throw the reason too (no crash, no live handle)', () => {
    const t = native.empty([3], 'float32');
    const before = native.memory().tensors;
    const msg = thrown(() => native.toDevice(t, 'cuda:0'));
    if (status.compiled) expect(msg).toMatch(/^cuda:0: not usable: /);
    else expect(msg).toBe(`toDevice: argument 'device' is cuda:0, but ${status.reason}`);
    expect(thrown(() => native.empty([2], 'float32', 'cuda'))).toMatch(status.compiled ? /^cuda:0: not usable: / : /^empty: argument 'device' is cuda:0, but this build has no CUDA backend/);
    expect(thrown(() => native.dropoutMask([4], 0.5, 1, 2, 'cuda:0'))).toMatch(/cuda:0/);
    expect(native.memory().tensors).toBe(before);
    t.dispose();
  });
});

describe('device names', () => {
  it('bad device strings are refused with the op and argument named', () => {
    const t = native.empty([2], 'float32');
    expect(thrown(() => native.toDevice(t, 'gpu'))).toBe("toDevice: argument 'device' must be 'cpu', 'cuda' or 'cuda:N', got 'gpu'");
    expect(thrown(() => native.toDevice(t, 'cuda:x'))).toBe("toDevice: argument 'device' must be 'cpu', 'cuda' or 'cuda:N', got 'cuda:x'");
    expect(thrown(() => (native.toDevice as (x: unknown) => unknown)(t))).toBe("toDevice: argument 'device' must be a string");
    expect(thrown(() => native.empty([2], 'float32', 'tpu'))).toMatch(/^empty: argument 'device' must be 'cpu', 'cuda' or 'cuda:N', got 'tpu'/);
    const x = Tensor.fromArray([1], [1]);
    expect(() => x.to('gpu')).toThrow(/device: expected 'auto', 'cpu', 'cuda' or 'cuda:N'.*got 'gpu'/);
    t.dispose();
    x.dispose();
  });
});

describe('CPU tensors and modules know their device', () => {
  it('tensor.device and handle.device; to("cpu") is the tensor itself; toDevice copies', () => {
    const t = Tensor.fromArray([1, 2, 3], [3]);
    expect(t.device).toBe('cpu');
    expect(t.handle.device).toBe('cpu');
    expect(t.to('cpu')).toBe(t);
    if (!status.usable) expect(t.to('auto')).toBe(t);
    const c = native.toDevice(t.handle, 'cpu');
    c.write(new Float32Array([9, 9, 9]));
    expect(Array.from(t.dataSync())).toEqual([1, 2, 3]);
    expect(Array.from(c.read())).toEqual([9, 9, 9]);
    c.dispose();
    expect(c.device).toBe(null);
    t.dispose();
  });

  it('data() and readAsync() give the data of both dtypes; a disposed handle refuses', async () => {
    const f = Tensor.fromArray([1.5, -2], [2]);
    const i = Tensor.fromArray(new Int32Array([7, -8]), [2]);
    expect(Array.from(await f.data())).toEqual([1.5, -2]);
    const ri = await i.handle.readAsync();
    expect(ri).toBeInstanceOf(Int32Array);
    expect(Array.from(ri)).toEqual([7, -8]);
    const h = f.handle;
    f.dispose();
    expect(() => h.readAsync()).toThrow(/readAsync: tensor has been disposed/);
    i.dispose();
  });

  it('tensors are created on the device asked for', () => {
    const z = Tensor.zeros([2, 2], 'int32', 'cpu');
    expect(z.device).toBe('cpu');
    expect(Array.from(z.dataSync())).toEqual([0, 0, 0, 0]);
    const u = ops.uniform([5], 0, 1, 'cpu');
    expect(u.device).toBe('cpu');
    for (const t of [z, u]) t.dispose();
  });

  it('Module.to("cpu") keeps every tensor; model.device; an optimizer made before the move keeps working', () => {
    const m = createModel('unet', { numClasses: 2, filters: 4, se: 'scse' });
    expect(m.device).toBe('cpu');
    const params = m.parameters();
    expect(m.to('cpu')).toBe(m);
    expect(m.parameters()).toEqual(params);
    expect(m.namedBuffers().every(([, t]) => t.device === 'cpu')).toBe(true);
    const opt = new SGD(m.parameters(), { lr: 0.01, momentum: 0.9 });
    const x = Tensor.fromArray(randn([2, 16, 16, 1], 3), [2, 16, 16, 1]);
    const y = m.forward(x);
    ops.mean(y).backward();
    opt.step();
    opt.zeroGrad();
    for (const t of [x, y]) t.dispose();
    opt.dispose();
    m.dispose();
  });

  it('tensor.to() on the same device records nothing; backward through it works', () => {
    const x = randt([3], 4);
    const y = ops.scale(x.to('cpu'), 2);
    ops.sum(y).backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([2, 2, 2]);
    for (const t of [x, y]) t.dispose();
  });

  it('maxPool2dBackward: the forward kernel/stride are optional on the CPU and checked against the shapes', () => {
    const x = Tensor.fromArray(randn([1, 5, 5, 2], 5), [1, 5, 5, 2]);
    const [y, idx] = native.maxPool2d(x.handle, 3, 2);
    const dy = native.empty(y.shape, 'float32');
    native.fill(dy, 1);
    const a = native.maxPool2dBackward(dy, idx, [1, 5, 5, 2]);
    const b = native.maxPool2dBackward(dy, idx, [1, 5, 5, 2], 3, 2);
    expect(Array.from(b.read())).toEqual(Array.from(a.read()));
    expect(thrown(() => native.maxPool2dBackward(dy, idx, [1, 5, 5, 2], 2, 1))).toBe(
      "maxPool2dBackward: argument 'dy' [1, 2, 2, 2] is not the output of a 2x2 stride 1 pooling of 'xShape' [1, 5, 5, 2]",
    );
    expect(thrown(() => native.maxPool2dBackward(dy, idx, [1, 5, 5, 2], 0, 2))).toMatch(/must be >= 1/);
    for (const h of [y, idx, dy, a, b]) h.dispose();
    x.dispose();
  });
});

describe('device agreement is checked in TypeScript before the native call', () => {
  it('check.sameDevice names every argument and its device; absent ones are skipped', () => {
    const a = Tensor.zeros([1]);
    const b = claim(Tensor.zeros([1]));
    expect(check.sameDevice('op', { a, skip: null })).toBe('cpu');
    expect(thrown(() => check.sameDevice('op', { a, b, c: undefined }))).toBe("op: arguments must be on one device: 'a' is on cpu, 'b' is on cuda:0");
    expect(check.sameDevice('op', {})).toBe('cpu');
    for (const t of [a, b]) t.dispose();
  });

  it('every op family refuses tensors on two devices, naming op, arguments and devices', () => {
    const made: Tensor[] = [];
    const cpu = (shape: number[], dtype: 'float32' | 'int32' = 'float32') => (made.push(Tensor.zeros(shape, dtype)), made.at(-1)!);
    const other = (shape: number[], dtype: 'float32' | 'int32' = 'float32') => claim(cpu(shape, dtype));
    const x4 = cpu([1, 4, 4, 3]);
    const args = {
      c3: other([3]),
      x4o: other([1, 4, 4, 3]),
      c2: other([1, 4, 4, 2]),
      w: other([2, 3, 3, 3]),
      wc: cpu([2, 3, 3, 3]),
      b2: other([2]),
      wt: other([3, 2, 2, 2]),
      x2: cpu([2, 3]),
      wl: other([4, 3]),
      ones: cpu([3]),
      five: cpu([5]),
      zeros: cpu([3]),
      idx: other([1, 4, 4, 3], 'int32'),
      lblo: other([1, 4, 4], 'int32'),
      lbl: cpu([1, 4, 4], 'int32'),
      wpix: other([1, 4, 4]),
      wsq: other([1, 1, 1, 3]),
      bsq: cpu([1]),
    };
    const a = args;
    const cases: [string, () => unknown, RegExp][] = [
      ['add', () => ops.add(x4, a.c3), /^add: arguments must be on one device: 'a' is on cpu, 'b' is on cuda:0$/],
      ['maximum', () => ops.maximum(a.x4o, x4), /^max: arguments must be on one device: 'a' is on cuda:0, 'b' is on cpu$/],
      ['prelu', () => ops.prelu(x4, a.c3), /^prelu: .*'x' is on cpu, 'slope' is on cuda:0/],
      ['concat', () => ops.concat([x4, a.c2]), /^concat: .*'xs\[0\]' is on cpu, 'xs\[1\]' is on cuda:0/],
      ['conv2d', () => ops.conv2d(x4, a.w), /^conv2d: .*'x' is on cpu, 'w' is on cuda:0/],
      ['conv2d bias', () => ops.conv2d(x4, a.wc, a.b2), /^conv2d: .*'bias' is on cuda:0/],
      ['convTranspose2d', () => ops.convTranspose2d(x4, a.wt), /^convTranspose2d: .*'w' is on cuda:0/],
      ['linear', () => ops.linear(a.x2, a.wl), /^linear: .*'w' is on cuda:0/],
      ['batchNorm', () => ops.batchNorm(x4, a.ones, a.zeros, { training: true, runningMean: a.c3, runningVar: a.ones }), /^batchNorm: .*'runningMean' is on cuda:0/],
      ['batchNormAct slope', () => ops.batchNormAct(x4, a.ones, a.zeros, { training: true, activation: 'prelu', slope: a.c3 }), /^batchNormAct: .*'slope' is on cuda:0/],
      [
        'batchNormAct parts',
        () => ops.batchNormAct([x4, a.c2], a.five, a.five, { training: true }),
        /^batchNormAct: .*'xs\[0\]' is on cpu, 'xs\[1\]' is on cuda:0/,
      ],
      ['maxUnpool2d', () => ops.maxUnpool2d(x4, a.idx, [8, 8]), /^maxUnpool2d: .*'indices' is on cuda:0/],
      ['softmaxCrossEntropy', () => ops.softmaxCrossEntropy(x4, a.lblo), /^softmaxCrossEntropy: .*'labels' is on cuda:0/],
      ['softmaxCrossEntropy weights', () => ops.softmaxCrossEntropy(x4, a.lbl, a.wpix), /^softmaxCrossEntropy: .*'weights' is on cuda:0/],
      ['diceLoss', () => ops.diceLoss(x4, a.lblo), /^diceLoss: .*'labels' is on cuda:0/],
      [
        'squeezeExcite',
        () => ops.squeezeExcite(x4, 'sse', { convWeight: a.wsq, convBias: a.bsq }),
        /^squeezeExcite\(sse\): .*'x' is on cpu, 'conv.weight' is on cuda:0, 'conv.bias' is on cpu/,
      ],
    ];
    const before = native.memory().tensors;
    for (const [name, f, want] of cases) expect(thrown(f), name).toMatch(want);
    // the checks fired before any native op: the ops allocated nothing
    expect(native.memory().tensors).toBe(before);
    for (const t of made) t.dispose();
  });

  it('optimizers refuse a gradient on another device; models refuse an input on another device', () => {
    const p = randt([3], 12);
    p.grad = claim(Tensor.zeros([3]));
    const opt = new SGD([p], { lr: 0.1 });
    expect(thrown(() => opt.step())).toBe('SGD: gradient of parameter 0 is on cuda:0, the parameter on cpu');
    p.dispose();
    const m = createModel('sdnet', { numClasses: 2, filters: 4 });
    const x = claim(Tensor.zeros([1, 16, 16, 1]));
    expect(thrown(() => m.forward(x))).toBe("sdnet: input is on cuda:0, the model on cpu: move one of them with .to('cpu')");
    x.dispose();
    m.dispose();
  });

  it('backward refuses a seed gradient on another device', () => {
    const x = randt([2], 13);
    const y = ops.scale(x, 3);
    const g = claim(Tensor.ones([2]));
    expect(thrown(() => y.backward(g))).toBe("backward: argument 'grad' is on cuda:0, the tensor on cpu");
    const ok = Tensor.ones([2]);
    y.backward(ok);
    expectClose(x.grad!.dataSync(), [3, 3]);
    for (const t of [x, y, g, ok]) t.dispose();
  });
});
