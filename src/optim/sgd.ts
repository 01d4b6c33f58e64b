// Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay, with the
// semantics of torch.optim.SGD (the momentum buffer starts as the first gradient).
import { OpArgumentError } from '../errors.js';
import { native, type NativeTensor } from '../native.js';
import { Tensor } from '../tensor.js';
import { expectSaved, type Hyper, nonNegative, Optimizer, type SavedParamState } from './optimizer.js';

declare module '../native.js' {
  interface NativeAddon {
    sgdStep(
      param: NativeTensor,
      grad: NativeTensor,
      momentumBuf: NativeTensor | null,
      lr: number,
      momentum: number,
      dampening: number,
      weightDecay: number,
      nesterov: boolean,
      firstStep: boolean,
    ): void;
  }
}

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export interface SGDState {
  /** null until the first step with momentum != 0 */
  momentumBuffer: Tensor | null;
}

export class SGD extends Optimizer<SGDState> {
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;

  constructor(params: readonly Tensor[], opts: SGDOptions) {
    super('SGD', params, opts?.lr);
    this.momentum = nonNegative('SGD', 'momentum', opts.momentum ?? 0);
    const d = opts.dampening ?? 0;
    if (typeof d !== 'number' || !Number.isFinite(d)) throw new OpArgumentError('SGD', `argument 'dampening' must be a finite number, got ${String(d)}`);
    this.dampening = d;
    this.weightDecay = nonNegative('SGD', 'weightDecay', opts.weightDecay ?? 0);
    this.nesterov = opts.nesterov ?? false;
    if (this.nesterov && (this.momentum === 0 || this.dampening !== 0)) {
      throw new OpArgumentError('SGD', 'nesterov needs momentum > 0 and dampening = 0');
    }
  }

  protected initState(): SGDState {
    return { momentumBuffer: null };
  }

  protected hyper(): Hyper {
    return { momentum: this.momentum, dampening: this.dampening, weightDecay: this.weightDecay, nesterov: this.nesterov };
  }

  // PyTorch's name; absent until the first step with momentum
  protected saveState(s: SGDState): SavedParamState {
    return { scalars: {}, buffers: { momentum_buffer: s.momentumBuffer } };
  }

  protected loadState(_p: Tensor, i: number, scalars: Record<string, number>, buffers: Record<string, Tensor>): SGDState {
    // with momentum a stepped parameter always has its buffer: a missing one would silently
    // restart the momentum, so it is an error
    expectSaved('SGD', i, scalars, [], buffers, this.momentum !== 0 ? ['momentum_buffer'] : []);
    return { momentumBuffer: buffers.momentum_buffer ?? null };
  }

  protected update(p: Tensor, g: Tensor, s: SGDState): void {
    let first = false;
    if (this.momentum !== 0 && !s.momentumBuffer) {
      s.momentumBuffer = Tensor.zeros(p.shape, 'float32', p.device);
      first = true;
    }
    native.sgdStep(p.handle, g.handle, s.momentumBuffer?.handle ?? null, this.lr, this.momentum, this.dampening, this.weightDecay, this.nesterov, first);
  }
}
