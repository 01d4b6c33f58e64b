// Shape ops with gradients: reshape (free, shares storage), concat and split along channels
// (the last axis, NHWC), softmax over channels.
import { attach, needsGrad } from '../autograd/tape.js';
import { OpArgumentError, shapeStr } from '../errors.js';
import { native, type NativeTensor } from '../native.js';
import { Tensor, checkedSize } from '../tensor.js';
import * as check from './check.js';

declare module '../native.js' {
  interface NativeAddon {
    concat(xs: NativeTensor[]): NativeTensor;
    split(x: NativeTensor, sizes: readonly number[]): NativeTensor[];
    softmax(x: NativeTensor): NativeTensor;
    softmaxBackward(y: NativeTensor, dy: NativeTensor): NativeTensor;
  }
}

const wrap = Tensor.fromHandle;

/** Same data, new shape (one dimension may be -1). Shares storage; the gradient is reshaped back. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const xs = x.dtype === 'int32' ? check.tensor('reshape', 'x', x, 'int32') : check.tensor('reshape', 'x', x);
  if (!Array.isArray(shape)) throw new OpArgumentError('reshape', `argument 'shape' must be an array of integers, got ${JSON.stringify(shape)}`);
  const s = [...shape];
  const free = s.indexOf(-1);
  if (free >= 0 && s.lastIndexOf(-1) !== free) throw new OpArgumentError('reshape', `argument 'shape' ${shapeStr(shape)} may have one -1, not several`);
  // The known dimensions go through the same checked product as a new tensor's shape, so an
  // overflowing shape is refused as such instead of rounding to a count that happens to match
  // (the -1 counts as 1 here, keeping the other dimensions' indices in the messages).
  const known = checkedSize('reshape', s.map((d, i) => (i === free ? 1 : d)), xs.dtype);
  if (free >= 0) s[free] = known === 0 ? 0 : xs.size / known;
  if (!Number.isInteger(s[free] ?? 0) || checkedSize('reshape', s, xs.dtype) !== xs.size) {
    throw new OpArgumentError('reshape', `argument 'shape' ${shapeStr(shape)} does not fit x of shape ${shapeStr(x.shape)} (${x.size} elements)`);
  }
  const y = wrap(x.handle.reshape(s));
  if (needsGrad(x)) {
    const from = [...x.shape];
    attach('reshape', [x], [y], [], ([g]) => [wrap(g!.handle.reshape(from))]);
  }
  return y;
}

/** Concatenates along the last axis (channels in NHWC). */
export function concat(xs: Tensor[]): Tensor {
  if (!Array.isArray(xs) || xs.length === 0) throw new OpArgumentError('concat', "argument 'xs' must be a non-empty array of tensors");
  xs.forEach((t, i) => check.tensor('concat', `xs[${i}]`, t));
  const s0 = xs[0]!.shape;
  xs.forEach((t, i) => {
    if (t.rank !== s0.length || t.shape.some((d, k) => k < s0.length - 1 && d !== s0[k])) {
      throw new OpArgumentError('concat', `argument 'xs[${i}]' ${shapeStr(t.shape)} must match 'xs[0]' ${shapeStr(s0)} in every dimension but the last`);
    }
  });
  check.sameDevice(
    'concat',
    xs.map((t, i): [string, Tensor] => [`xs[${i}]`, t]),
  );
  const y = wrap(native.concat(xs.map((t) => t.handle)));
  if (needsGrad(...xs)) {
    const sizes = xs.map((t) => t.shape[t.rank - 1]!);
    attach('concat', xs, [y], [], ([g]) => native.split(g!.handle, sizes).map(wrap));
  }
  return y;
}

/** Splits the last axis into consecutive pieces of the given sizes. */
export function split(x: Tensor, sizes: readonly number[]): Tensor[] {
  check.tensor('split', 'x', x);
  const C = x.shape[x.rank - 1];
  const total = sizes.reduce((a, b) => a + b, 0);
  if (x.rank < 1 || sizes.some((s) => !Number.isInteger(s) || s < 0) || total !== C) {
    throw new OpArgumentError('split', `argument 'sizes' [${sizes.join(', ')}] must be non-negative integers summing to ${C} (last dim of x ${shapeStr(x.shape)})`);
  }
  const ys = native.split(x.handle, sizes).map(wrap);
  if (needsGrad(x)) attach('split', [x], ys, [], (gs) => [wrap(native.concat(gs.map((g) => g.handle)))]);
  return ys;
}

/** Softmax over the last axis (channels in NHWC). */
export function softmax(x: Tensor): Tensor {
  check.tensor('softmax', 'x', x);
  if (x.rank < 1) throw new OpArgumentError('softmax', `argument 'x' must have rank >= 1, got ${shapeStr(x.shape)}`);
  const y = wrap(native.softmax(x.handle));
  if (needsGrad(x)) {
    const ys = y.handle.share();
    attach('softmax', [x], [y], [ys], ([g]) => [wrap(native.softmaxBackward(ys, g!.handle))]);
  }
  return y;
}
