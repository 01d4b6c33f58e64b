// Pooling over NHWC activations with gradients: max pooling (returning PyTorch-style indices),
// max unpooling to an explicit output size (SegNet-style decoders), global average pooling.
import { attach, needsGrad } from '../autograd/tape.js';
import { OpArgumentError, shapeStr } from '../errors.js';
import { native, type NativeTensor } from '../native.js';
import { Tensor } from '../tensor.js';
import * as check from './check.js';

declare module '../native.js' {
  interface NativeAddon {
    maxPool2d(x: NativeTensor, kernel: number, stride: number): [NativeTensor, NativeTensor];
    /** kernel and stride: the forward's (optional on the CPU, required on CUDA). */
    maxPool2dBackward(dy: NativeTensor, indices: NativeTensor, xShape: readonly number[], kernel?: number, stride?: number): NativeTensor;
    maxUnpool2d(x: NativeTensor, indices: NativeTensor, h: number, w: number): NativeTensor;
    maxUnpool2dBackward(dy: NativeTensor, indices: NativeTensor): NativeTensor;
    globalAvgPool(x: NativeTensor): NativeTensor;
    globalAvgPoolBackward(dy: NativeTensor, xShape: readonly number[]): NativeTensor;
  }
}

const wrap = Tensor.fromHandle;

export interface MaxPoolOptions {
  /** window size k (k x k); default 2 */
  kernel?: number;
  /** step between windows; default 2 */
  stride?: number;
}

/**
 * Max pooling over k x k windows with no padding; the output size is floor((H - k) / s) + 1, so
 * odd sizes drop the last row/column (PyTorch's default). `indices` (int32, shape of y) hold
 * h * W + w of each maximum within its (n, c) plane, as PyTorch does; among equal values the first
 * in window scan order (row by row) wins, so a constant window always picks its top-left pixel.
 * The gradient flows to x only (indices are not differentiable).
 */
export function maxPool2d(x: Tensor, opts: MaxPoolOptions = {}): { y: Tensor; indices: Tensor } {
  const op = 'maxPool2d';
  check.tensor(op, 'x', x);
  check.rank(op, 'x', x, 4);
  const k = check.positiveInt(op, 'kernel', opts.kernel ?? 2);
  const s = check.positiveInt(op, 'stride', opts.stride ?? 2);
  const [, H, W] = x.shape as [number, number, number, number];
  if (H < k || W < k) throw new OpArgumentError(op, `argument 'x' ${shapeStr(x.shape)} is smaller than the ${k}x${k} kernel`);
  const [yh, ih] = native.maxPool2d(x.handle, k, s);
  const y = wrap(yh);
  const indices = wrap(ih);
  if (needsGrad(x)) {
    const is = ih.share();
    const xShape = [...x.shape];
    attach(op, [x], [y], [is], ([g]) => [wrap(native.maxPool2dBackward(g!.handle, is, xShape, k, s))]);
  }
  return { y, indices };
}

/**
 * Inverse of maxPool2d: y = zeros [N, H, W, C] with y[n, indices, c] = x. The output size is
 * explicit (take it from the skip tensor) so odd sizes come back exactly. Every index must lie in
 * [0, H*W) (checked natively). The gradient w.r.t. x gathers dy at the indices.
 */
export function maxUnpool2d(x: Tensor, indices: Tensor, outputSize: readonly [number, number]): Tensor {
  const op = 'maxUnpool2d';
  check.tensor(op, 'x', x);
  check.tensor(op, 'indices', indices, 'int32');
  check.rank(op, 'x', x, 4);
  check.shape(op, 'indices', indices, x.shape, `the shape of x`);
  if (!Array.isArray(outputSize) || outputSize.length !== 2) {
    throw new OpArgumentError(op, `argument 'outputSize' must be [H, W], got ${JSON.stringify(outputSize)}`);
  }
  const H = check.positiveInt(op, 'outputSize[0]', outputSize[0]);
  const W = check.positiveInt(op, 'outputSize[1]', outputSize[1]);
  check.sameDevice(op, { x, indices });
  const y = wrap(native.maxUnpool2d(x.handle, indices.handle, H, W));
  if (needsGrad(x)) {
    const is = indices.handle.share();
    attach(op, [x], [y], [is], ([g]) => [wrap(native.maxUnpool2dBackward(g!.handle, is))]);
  }
  return y;
}

/** Mean over H and W: [N, H, W, C] -> [N, 1, 1, C]. */
export function globalAvgPool(x: Tensor): Tensor {
  const op = 'globalAvgPool';
  check.tensor(op, 'x', x);
  check.rank(op, 'x', x, 4);
  if (x.shape[1] === 0 || x.shape[2] === 0) throw new OpArgumentError(op, `argument 'x' ${shapeStr(x.shape)} has empty planes`);
  const y = wrap(native.globalAvgPool(x.handle));
  if (needsGrad(x)) {
    const xShape = [...x.shape];
    attach(op, [x], [y], [], ([g]) => [wrap(native.globalAvgPoolBackward(g!.handle, xShape))]);
  }
  return y;
}
