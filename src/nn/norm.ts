// nn.BatchNorm2d with PyTorch's names: parameters weight (γ = 1) and bias (β = 0), buffers
// running_mean (0) and running_var (1). Training mode normalises with the batch statistics and
// updates the running ones (unbiased variance, momentum 0.1); eval mode uses the running ones.
//
// PyTorch also keeps `num_batches_tracked` (an int64 scalar) in its state dicts. It only matters
// for momentum = None (a cumulative average), which we do not offer, and we have no int64, so we
// omit it: our state dicts have no such key. PyTorch's BatchNorm accepts dicts without it (its
// _load_from_state_dict inserts 0 for unversioned dicts); to load a PyTorch dict here, drop the
// keys for which isTorchOnlyKey() is true.
import { OpArgumentError } from '../errors.js';
import { batchNorm } from '../ops/norm.js';
import { batchNormAct, type NormActivation } from '../ops/norm_act.js';
import { batchNormActSe, type SeSpec } from '../ops/norm_act_se.js';
import { Tensor } from '../tensor.js';
import { Module } from './module.js';

export interface BatchNorm2dOptions {
  /** added to the variance (default 1e-5) */
  eps?: number;
  /** running = (1 - momentum)·running + momentum·batch (default 0.1) */
  momentum?: number;
}

/** State-dict keys PyTorch has and we do not (BatchNorm's num_batches_tracked). */
export function isTorchOnlyKey(name: string): boolean {
  return name === 'num_batches_tracked' || name.endsWith('.num_batches_tracked');
}

export class BatchNorm2d extends Module {
  readonly eps: number;
  readonly momentum: number;

  constructor(
    readonly numFeatures: number,
    opts: BatchNorm2dOptions = {},
  ) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures < 1) {
      throw new OpArgumentError('BatchNorm2d', `argument 'numFeatures' must be a positive integer, got ${String(numFeatures)}`);
    }
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum ?? 0.1;
    if (!(this.eps > 0)) throw new OpArgumentError('BatchNorm2d', `argument 'eps' must be > 0, got ${String(this.eps)}`);
    if (!(this.momentum >= 0 && this.momentum <= 1)) throw new OpArgumentError('BatchNorm2d', `argument 'momentum' must be in [0, 1], got ${String(this.momentum)}`);
    this.param('weight', Tensor.ones([numFeatures]));
    this.param('bias', Tensor.zeros([numFeatures]));
    this.buffer('running_mean', Tensor.zeros([numFeatures]));
    this.buffer('running_var', Tensor.ones([numFeatures]));
  }

  forward(x: Tensor): Tensor {
    return batchNorm(x, this.p('weight'), this.p('bias'), {
      training: this.training,
      runningMean: this.b('running_mean'),
      runningVar: this.b('running_var'),
      momentum: this.momentum,
      eps: this.eps,
    });
  }

  /**
   * activation(this.forward(concat(xs))) in one fused op (ops/norm_act.ts): what the models use
   * for BN → ReLU / PReLU, and for QuickNAT's BN of a concatenation. `slope` is the PReLU's weight.
   */
  forwardAct(xs: Tensor | Tensor[], activation: NormActivation, slope?: Tensor): Tensor {
    return batchNormAct(xs, this.p('weight'), this.p('bias'), this.actOptions(activation, slope));
  }

  /** se(this.forwardAct(x, activation, slope)) in one fused op on the CPU (ops/norm_act_se.ts says when). */
  forwardActSe(x: Tensor, activation: NormActivation, se: SeSpec, slope?: Tensor): Tensor {
    return batchNormActSe(x, this.p('weight'), this.p('bias'), this.actOptions(activation, slope), se);
  }

  private actOptions(activation: NormActivation, slope?: Tensor) {
    return {
      training: this.training,
      runningMean: this.b('running_mean'),
      runningVar: this.b('running_var'),
      momentum: this.momentum,
      eps: this.eps,
      activation,
      ...(slope ? { slope } : {}),
    };
  }
}
