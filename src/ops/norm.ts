// Batch normalization over NHWC activations (statistics per channel over N, H, W) with its
// gradients w.r.t. x, gamma and beta, in training mode (batch statistics, running averages updated
// in place, PyTorch semantics) and in inference mode (running statistics as constants).
import { attach, needsGrad } from '../autograd/tape.js';
import { OpArgumentError } from '../errors.js';
import { native, type NativeTensor } from '../native.js';
import { Tensor } from '../tensor.js';
import * as check from './check.js';
import { statsOptions } from './norm_checks.js';

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
