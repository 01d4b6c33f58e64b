// Adam (torch.optim.Adam: L2 weight decay added to the gradient, bias-corrected moments) and,
// with `decoupled`, AdamW (torch.optim.AdamW: the parameter shrinks by lr*wd before the update).
import { OpArgumentError } from '../errors.js';
import { native, type NativeTensor } from '../native.js';
import { Tensor } from '../tensor.js';
import { expectSaved, type Hyper, nonNegative, Optimizer, type SavedParamState } from './optimizer.js';

declare module '../native.js' {
  interface NativeAddon {
    adamStep(
      param: NativeTensor,
      grad: NativeTensor,
      m: NativeTensor,
      v: NativeTensor,
      lr: number,
      beta1: number,
      beta2: number,
      eps: number,
      weightDecay: number,
      step: number,
      decoupled: boolean,
    ): void;
  }
}

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** AdamW's decoupled weight decay instead of L2 on the gradient */
  decoupled?: boolean;
}

export interface AdamState {
  /** steps taken for this parameter */
  step: number;
  expAvg: Tensor;
  expAvgSq: Tensor;
}

export class Adam extends Optimizer<AdamState> {
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  readonly decoupled: boolean;

  constructor(params: readonly Tensor[], opts: AdamOptions = {}) {
    super(opts.decoupled ? 'AdamW' : 'Adam', params, opts.lr ?? 1e-3);
    const betas = opts.betas ?? [0.9, 0.999];
    betas.forEach((b, i) => {
      if (typeof b !== 'number' || !(b >= 0 && b < 1)) throw new OpArgumentError(this.name, `argument 'betas[${i}]' must be in [0, 1), got ${String(b)}`);
    });
    this.betas = [betas[0], betas[1]];
    this.eps = nonNegative(this.name, 'eps', opts.eps ?? 1e-8);
    this.weightDecay = nonNegative(this.name, 'weightDecay', opts.weightDecay ?? 0);
    this.decoupled = opts.decoupled ?? false;
  }

  protected initState(p: Tensor): AdamState {
    return { step: 0, expAvg: Tensor.zeros(p.shape, 'float32', p.device), expAvgSq: Tensor.zeros(p.shape, 'float32', p.device) };
  }

  protected hyper(): Hyper {
    return { betas: [...this.betas], eps: this.eps, weightDecay: this.weightDecay, decoupled: this.decoupled };
  }

  // PyTorch's names: step, exp_avg, exp_avg_sq
  protected saveState(s: AdamState): SavedParamState {
    return { scalars: { step: s.step }, buffers: { exp_avg: s.expAvg, exp_avg_sq: s.expAvgSq } };
  }

  protected loadState(_p: Tensor, i: number, scalars: Record<string, number>, buffers: Record<string, Tensor>): AdamState {
    expectSaved(this.name, i, scalars, ['step'], buffers, ['exp_avg', 'exp_avg_sq']);
    if (!Number.isInteger(scalars.step) || scalars.step! < 0) throw new OpArgumentError(this.name, `loadStateDict: 'step' of parameter ${i} must be an integer >= 0, got ${scalars.step}`);
    return { step: scalars.step!, expAvg: buffers.exp_avg!, expAvgSq: buffers.exp_avg_sq! };
  }

  protected update(p: Tensor, g: Tensor, s: AdamState): void {
    s.step++;
    const [b1, b2] = this.betas;
    native.adamStep(p.handle, g.handle, s.expAvg.handle, s.expAvgSq.handle, this.lr, b1, b2, this.eps, this.weightDecay, s.step, this.decoupled);
  }
}
