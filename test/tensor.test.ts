import ndarray from 'ndarray';
import { describe, expect, it } from 'vitest';

import { memory, ops, OpArgumentError, Tensor, tidy, noGrad, keep } from '../src/index.js';
import { native } from '../src/native.js';

describe('Tensor', () => {
  it('round-trips data, shape and dtype', () => {
    const t = Tensor.fromArray([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('float32');
    expect(t.device).toBe('cpu');
    expect(Array.from(t.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    const i = Tensor.fromArray(new Int32Array([7, -8]), [2]);
    expect(i.dtype).toBe('int32');
    expect(i.dataSync()).toBeInstanceOf(Int32Array);
    t.dispose();
    i.dispose();
  });

  it('data() resolves to the same values as dataSync()', async () => {
    const t = Tensor.fromArray([1.5, -2.5], [2]);
    expect(Array.from(await t.data())).toEqual([1.5, -2.5]);
    t.dispose();
  });

  it('converts to and from ndarray, including non-contiguous views', () => {
    const nd = ndarray(new Float32Array([0, 1, 2, 3, 4, 5]), [2, 3]);
    const tr = nd.transpose(1, 0); // 3x2 view with strides [1, 3]
    const t = Tensor.fromNdarray(tr);
    expect(t.shape).toEqual([3, 2]);
    expect(Array.from(t.dataSync())).toEqual([0, 3, 1, 4, 2, 5]);
    const back = t.toNdarray();
    expect(back.get(2, 1)).toBe(5);
    expect(back.shape).toEqual([3, 2]);
    t.dispose();
  });

  it('rejects bad construction with errors naming the argument', () => {
    expect(() => Tensor.fromArray([1, 2, 3], [2, 2])).toThrow(/fromArray: argument 'data' has 3 elements, shape \[2, 2\] needs 4/);
    expect(() => Tensor.fromArray(new Float32Array(2), [2], { dtype: 'int32' })).toThrow(/Float32Array but dtype is 'int32'/);
    expect(() => Tensor.fromArray([1.5], [1], { dtype: 'int32' })).toThrow(/must hold integers/);
    expect(() => Tensor.fromArray([1], [-1])).toThrow(OpArgumentError);
    expect(() => Tensor.fromArray([1], [1], { dtype: 'float64' as never })).toThrow(/'dtype' must be 'float32' or 'int32'/);
  });

  it('refuses use after dispose, in TypeScript and in C++', () => {
    const t = Tensor.fromArray([1, 2], [2]);
    const h = t.handle;
    t.dispose();
    t.dispose(); // idempotent
    expect(t.disposed).toBe(true);
    expect(() => t.dataSync()).toThrow(/has been disposed/);
    expect(() => ops.relu(t)).toThrow(/relu: argument 'x' \[2\] has been disposed/);
    expect(() => native.relu(h)).toThrow(/relu: argument 'x' has been disposed/);
  });

  it('rejects the wrong dtype in TypeScript and in C++', () => {
    const i = Tensor.fromArray(new Int32Array([1, 2]), [2]);
    expect(() => ops.relu(i)).toThrow(/relu: argument 'x' must be float32, got int32/);
    expect(() => native.relu(i.handle)).toThrow(/relu: argument 'x' must be float32, got int32/);
    expect(() => native.binary('add', i.handle, i.handle)).toThrow(/add: argument 'a' must be float32/);
    expect(() => native.sumTo({} as never, [1])).toThrow(/sumTo: argument 'x' must be a native tensor/);
    expect(() => new (native as unknown as { NativeTensor: new () => unknown }).NativeTensor()).toThrow(/use the addon's tensor factories/);
    i.dispose();
  });

  it('reports shape mismatches with both shapes', () => {
    const a = Tensor.zeros([2, 4, 4, 3]);
    const b = Tensor.zeros([2, 4, 4, 5]);
    expect(() => ops.add(a, b)).toThrow(/add: arguments 'a' \[2, 4, 4, 3\] and 'b' \[2, 4, 4, 5\] cannot be broadcast together/);
    expect(() => native.binary('add', a.handle, b.handle)).toThrow(/add: arguments 'a' \[2, 4, 4, 3\] and 'b' \[2, 4, 4, 5\] cannot be broadcast/);
    expect(() => ops.concat([a, Tensor.zeros([2, 4, 5, 3])])).toThrow(/concat: argument 'xs\[1\]' \[2, 4, 5, 3\] must match 'xs\[0\]' \[2, 4, 4, 3\]/);
    expect(() => ops.split(a, [1, 1])).toThrow(/split: argument 'sizes' \[1, 1\] must be non-negative integers summing to 3/);
    expect(() => native.split(a.handle, [1, 1])).toThrow(/split: argument 'sizes' sums to 2 but 'x' \[2, 4, 4, 3\] has 3 channels/);
    a.dispose();
    b.dispose();
  });
});

describe('memory management', () => {
  it('tidy disposes intermediates but keeps what it returns and what keep() marks', () => {
    const before = memory().tensors;
    let kept!: Tensor;
    const out = tidy(() => {
      const a = Tensor.ones([8, 8]);
      const b = ops.scale(a, 2);
      kept = keep(ops.add(a, b));
      return { result: ops.relu(b), list: [ops.sigmoid(b)] };
    });
    expect(memory().tensors).toBe(before + 3);
    expect(out.result.disposed).toBe(false);
    expect(out.list[0]!.disposed).toBe(false);
    expect(kept.dataSync()[0]).toBe(3);
    out.result.dispose();
    out.list[0]!.dispose();
    kept.dispose();
    expect(memory().tensors).toBe(before);
  });

  it('backward frees what the graph saved and intermediates can be disposed early', () => {
    const x = Tensor.fromArray([1, -2, 3], [3], { requiresGrad: true });
    const before = memory().tensors;
    const loss = tidy(() => ops.sum(ops.mul(ops.relu(x), ops.sigmoid(x))));
    // the graph holds its saved handles even though tidy disposed the intermediates
    expect(memory().tensors).toBeGreaterThan(before + 1);
    loss.backward();
    loss.dispose();
    expect(memory().tensors).toBe(before + 1); // x.grad
    const s = (v: number) => 1 / (1 + Math.exp(-v));
    const want = [1, -2, 3].map((v) => (v > 0 ? s(v) + v * s(v) * (1 - s(v)) : 0));
    Array.from(x.grad!.dataSync()).forEach((g, i) => expect(g).toBeCloseTo(want[i]!, 6));
    x.dispose();
  });

  it('noGrad records nothing', () => {
    const x = Tensor.fromArray([1, 2], [2], { requiresGrad: true });
    const y = noGrad(() => ops.relu(x));
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    expect(() => y.backward()).toThrow(/does not require grad/);
    x.dispose();
    y.dispose();
  });

  it('gradients accumulate over uses and across backward calls', () => {
    const x = Tensor.fromArray([2], [1], { requiresGrad: true });
    ops.sum(ops.mul(x, x)).backward(); // 2x = 4
    ops.sum(ops.add(x, x)).backward(); // + 2
    expect(x.grad!.item()).toBe(6);
    x.dispose();
  });
});
