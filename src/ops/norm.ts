// Batch normalization over NHWC activations (statistics per channel over N, H, W) with its
// gradients w.r.t. x, gamma and beta, in training mode (batch statistics, running averages updated
// in place, PyTorch semantics) and in inference mode (running statistics as constants).
import { attach, needsGrad } from '../autograd/tape.js';
import { OpArgumentError, shapeStr } from '../errors.js';
import { native, type NativeTensor } from '../native.js';
import { Tensor } from '../tensor.js';
import * as check from './check.js';

declare module '../native.js' {
  interface NativeAddon {
    batchNormTrain(
      x: NativeTensor,
      gamma: NativeTensor,
      beta: NativeTensor,
      runningMean: NativeTensor | null,
      runningVar: NativeTensor | null,
      momentum: number,
      eps: number,
    ): [NativeTensor, NativeTensor, NativeTensor];
    batchNormInfer(x: NativeTensor, gamma: NativeTensor, beta: NativeTensor, mean: NativeTensor, variance: NativeTensor, eps: number): NativeTensor;
    batchNormBackward(
      x: NativeTensor,
      mean: NativeTensor,
      variance: NativeTensor,
      gamma: NativeTensor,
      dy: NativeTensor,
      eps: number,
      globalStats: boolean,
    ): [NativeTensor, NativeTensor, NativeTensor];
  }
}

export interface BatchNormOptions {
  /** true: normalize with the batch statistics (and update the running ones); false: with the running ones. */
  training: boolean;
  /** [C]; updated in place in training mode, required in inference mode. */
  runningMean?: Tensor;
  /** [C]; updated in place (with the unbiased batch variance) in training mode, required in inference mode. */
  runningVar?: Tensor;
  /** running = (1 - momentum) * running + momentum * batch; default 0.1. */
  momentum?: number;
  /** added to the variance; default 1e-5. */
  eps?: number;
}

const wrap = Tensor.fromHandle;
const OP = 'batchNorm';

/**
 * y = gamma * (x - mean) / sqrt(var + eps) + beta per channel, x NHWC [N,H,W,C], gamma/beta [C].
 * Training mode needs N*H*W > 1 (like PyTorch). Running statistics are never differentiated.
 */
export function batchNorm(x: Tensor, gamma: Tensor, beta: Tensor, opts: BatchNormOptions): Tensor {
  check.tensor(OP, 'x', x);
  check.tensor(OP, 'gamma', gamma);
  check.tensor(OP, 'beta', beta);
  check.rank(OP, 'x', x, 4);
  if (typeof opts !== 'object' || opts === null || typeof opts.training !== 'boolean') {
    throw new OpArgumentError(OP, "argument 'opts.training' must be a boolean");
  }
  const { rm, rv, momentum, eps } = statsOptions(OP, x.shape, opts, { x, gamma, beta });
  return opts.training ? train(x, gamma, beta, rm, rv, momentum, eps) : infer(x, gamma, beta, rm, rv, eps);
}

/**
 * The checks batchNorm and batchNormAct share: gamma/beta (and running statistics) of shape [C]
 * for the channels of `shape`, one device, eps > 0, momentum in [0, 1], no empty input.
 */
export function statsOptions(
  op: string,
  shape: readonly number[],
  opts: BatchNormOptions,
  tensors: { gamma: Tensor; beta: Tensor } & Record<string, Tensor | undefined>,
): { rm: Tensor | undefined; rv: Tensor | undefined; momentum: number; eps: number } {
  const C = shape[3]!;
  const why = `the channels of ${op === OP ? 'x' : 'concat(xs)'} ${shapeStr(shape)}`;
  check.shape(op, 'gamma', tensors.gamma, [C], why);
  check.shape(op, 'beta', tensors.beta, [C], why);
  const { runningMean: rm, runningVar: rv } = opts;
  for (const [name, t] of [
    ['runningMean', rm],
    ['runningVar', rv],
  ] as const) {
    if (t === undefined) continue;
    check.tensor(op, name, t);
    check.shape(op, name, t, [C], why);
  }
  if ((rm === undefined) !== (rv === undefined)) throw new OpArgumentError(op, "arguments 'runningMean' and 'runningVar' must be given together");
  check.sameDevice(op, { ...tensors, runningMean: rm, runningVar: rv });
  const eps = check.finiteNumber(op, 'eps', opts.eps ?? 1e-5);
  if (eps <= 0) throw new OpArgumentError(op, `argument 'eps' must be > 0, got ${eps}`);
  const momentum = check.finiteNumber(op, 'momentum', opts.momentum ?? 0.1);
  if (momentum < 0 || momentum > 1) throw new OpArgumentError(op, `argument 'momentum' must be in [0, 1], got ${momentum}`);
  if (shape.some((d) => d === 0)) throw new OpArgumentError(op, `argument '${op === OP ? 'x' : 'xs'}' must not be empty, got shape ${shapeStr(shape)}`);
  if (opts.training) {
    if (shape[0]! * shape[1]! * shape[2]! < 2) {
      throw new OpArgumentError(op, `training needs more than one value per channel (N*H*W > 1), got ${op === OP ? 'x' : 'concat(xs)'} of shape ${shapeStr(shape)}`);
    }
  } else if (!rm || !rv) {
    throw new OpArgumentError(op, "inference mode (training: false) needs 'runningMean' and 'runningVar'");
  }
  return { rm, rv, momentum, eps };
}

function train(x: Tensor, gamma: Tensor, beta: Tensor, rm: Tensor | undefined, rv: Tensor | undefined, momentum: number, eps: number): Tensor {
  const [yh, mean, variance] = native.batchNormTrain(x.handle, gamma.handle, beta.handle, rm?.handle ?? null, rv?.handle ?? null, momentum, eps);
  const y = wrap(yh);
  if (!needsGrad(x, gamma, beta)) {
    mean.dispose();
    variance.dispose();
    return y;
  }
  const xs = x.handle.share();
  const gs = gamma.handle.share();
  attach(OP, [x, gamma, beta], [y], [xs, gs, mean, variance], ([g]) =>
    native.batchNormBackward(xs, mean, variance, gs, g!.handle, eps, false).map(wrap),
  );
  return y;
}

function infer(x: Tensor, gamma: Tensor, beta: Tensor, rm: Tensor | undefined, rv: Tensor | undefined, eps: number): Tensor {
  const y = wrap(native.batchNormInfer(x.handle, gamma.handle, beta.handle, rm!.handle, rv!.handle, eps));
  if (!needsGrad(x, gamma, beta)) return y;
  // copies: a later training step updates the running statistics in place
  const ms = native.clone(rm!.handle);
  const vs = native.clone(rv!.handle);
  const xs = x.handle.share();
  const gs = gamma.handle.share();
  attach(OP, [x, gamma, beta], [y], [xs, gs, ms, vs], ([g]) => native.batchNormBackward(xs, ms, vs, gs, g!.handle, eps, true).map(wrap));
  return y;
}
