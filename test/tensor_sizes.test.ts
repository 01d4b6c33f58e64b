// Issue 18.2: element counts and byte sizes are checked arithmetic, in TypeScript (safe-integer
// range) and in C++ (overflow-checked multiplication), and a shape that cannot be allocated fails
// with the op, the shape and the byte count instead of wrapping around to a tiny storage.
import { describe, expect, it } from 'vitest';

import { memory, ops, OpArgumentError, Tensor } from '../src/index.js';
import { native } from '../src/native.js';

const err = (f: () => unknown): Error => {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
};

describe('checked sizes in TypeScript', () => {
  it('refuses the measured overflowing shapes, naming op, shape and the exact count', () => {
    const e = err(() => Tensor.empty([2 ** 32, 2 ** 32]));
    expect(e).toBeInstanceOf(OpArgumentError);
    expect(e.message).toBe('empty: shape [4294967296, 4294967296] has 18446744073709551616 elements, over 2^53 - 1');
    // 2^64 + 1 elements: a plain product wrapped to 1 element (64 bytes) before
    expect(() => Tensor.full([1, 274177, 67280421310721, 1], 7)).toThrow(
      'empty: shape [1, 274177, 67280421310721, 1] has 18446744073709551617 elements, over 2^53 - 1',
    );
    expect(() => Tensor.fromArray([1], [2 ** 30, 2 ** 30, 2 ** 30])).toThrow(/^fromArray: shape \[1073741824, 1073741824, 1073741824\] has 1237940039285380274899124224 elements/);
  });

  it('bounds bytes at 2^53 - 1: 2^51 float32 elements are refused, 2^51 - 1 reach the allocator', () => {
    expect(() => Tensor.empty([2 ** 51])).toThrow('empty: shape [2251799813685248] needs 9007199254740992 bytes (2251799813685248 elements of 4), over 2^53 - 1');
    expect(() => Tensor.empty([2 ** 26, 2 ** 27])).toThrow('empty: shape [67108864, 134217728] has 9007199254740992 elements, over 2^53 - 1');
    // one below passes the TS check; the allocator refuses it at once (it is far beyond RAM)
    expect(() => Tensor.empty([2 ** 51 - 1], 'int32')).toThrow(/^empty: cannot allocate 9007199254740988 bytes for shape \[2251799813685247\] on cpu: more than this machine's \d+ bytes of physical memory$/);
  });

  it('allows a zero dimension beside a huge one, but every dimension must be a safe integer', () => {
    const t = Tensor.empty([0, 2 ** 53 - 1]);
    expect(t.size).toBe(0);
    expect(t.shape).toEqual([0, 2 ** 53 - 1]);
    t.dispose();
    expect(() => Tensor.empty([0, 2 ** 60])).toThrow("empty: argument 'shape' [0, 1152921504606847000]: dimension 1 must be an integer in [0, 2^53 - 1], got 1152921504606847000");
  });

  it('refuses negative, fractional and NaN dimensions naming the index', () => {
    expect(() => Tensor.empty([2, -1])).toThrow("empty: argument 'shape' [2, -1]: dimension 1 must be an integer in [0, 2^53 - 1], got -1");
    expect(() => Tensor.zeros([1.5, 2])).toThrow("empty: argument 'shape' [1.5, 2]: dimension 0 must be an integer in [0, 2^53 - 1], got 1.5");
    expect(() => Tensor.fromArray([], [3, 0, NaN])).toThrow("fromArray: argument 'shape' [3, 0, NaN]: dimension 2 must be an integer in [0, 2^53 - 1], got NaN");
  });

  it('reshape uses the same checked product', () => {
    const x = Tensor.zeros([4]);
    expect(() => ops.reshape(x, [2 ** 32, 2 ** 32])).toThrow('reshape: shape [4294967296, 4294967296] has 18446744073709551616 elements, over 2^53 - 1');
    expect(() => ops.reshape(x, [-1, 2 ** 32, 2 ** 32])).toThrow(/^reshape: shape \[1, 4294967296, 4294967296\] has 18446744073709551616 elements/);
    expect(() => ops.reshape(x, [2, 2.5])).toThrow("reshape: argument 'shape' [2, 2.5]: dimension 1 must be an integer in [0, 2^53 - 1], got 2.5");
    expect(() => ops.reshape(x, [3, -1])).toThrow("reshape: argument 'shape' [3, -1] does not fit x of shape [4] (4 elements)");
    expect(ops.reshape(x, [2, -1]).shape).toEqual([2, 2]);
    x.dispose();
  });
});

describe('checked sizes in C++ (TS checks bypassed)', () => {
  it('native.empty refuses element counts that overflow int64', () => {
    expect(() => native.empty([2 ** 32, 2 ** 32], 'float32')).toThrow(
      'empty: shape [4294967296, 4294967296] has more than 2^63 - 1 elements (the element count overflows int64)',
    );
    expect(() => native.empty([1, 274177, 67280421310721, 1], 'float32')).toThrow(/^empty: shape \[1, 274177, 67280421310721, 1\] has more than 2\^63 - 1 elements/);
  });

  it('native.empty refuses non-safe, negative and out-of-int64 dimensions', () => {
    expect(() => native.empty([2 ** 53], 'float32')).toThrow("empty: argument 'shape' [9007199254740992]: dimension 0 must be an integer in [0, 2^53 - 1], got 9007199254740992");
    expect(() => native.empty([3, -2], 'float32')).toThrow(/^empty: argument 'shape' \[3, -2\]: dimension 1 must be an integer in \[0, 2\^53 - 1\]/);
    expect(() => native.empty([2 ** 64], 'float32')).toThrow(/^empty: argument 'shape' must contain integers within int64/);
  });

  it('a zero dimension short-circuits the product in C++ too', () => {
    const h = native.empty([2 ** 53 - 1, 2 ** 53 - 1, 0], 'float32');
    expect(h.shape).toEqual([2 ** 53 - 1, 2 ** 53 - 1, 0]);
    h.dispose();
  });

  it('the native reshape refuses an overflowing shape with a JS error (the process survives)', () => {
    const x = Tensor.zeros([4]);
    expect(() => x.handle.reshape([2 ** 32, 2 ** 32])).toThrow(/^reshape: shape \[4294967296, 4294967296\] has more than 2\^63 - 1 elements/);
    expect(() => x.handle.reshape([4, -1])).toThrow(/^reshape: argument 'shape' \[4, -1\]: dimension 1/);
    x.dispose();
  });
});

describe('allocations that cannot be satisfied', () => {
  it('a 4 TiB tensor fails at once with a clear message; nothing is allocated and the process goes on', () => {
    const before = memory();
    const want = /^empty: cannot allocate 4398046511104 bytes for shape \[1099511627776\] on cpu: more than this machine's \d+ bytes of physical memory$/;
    expect(() => Tensor.empty([2 ** 40])).toThrow(want);
    expect(() => native.empty([2 ** 40], 'float32')).toThrow(want);
    const after = memory();
    expect(after.bytesReserved).toBe(before.bytesReserved);
    expect(after.tensors).toBe(before.tensors);
    const t = Tensor.full([2], 3);
    expect(Array.from(t.dataSync())).toEqual([3, 3]);
    t.dispose();
  });
});
