// Shared base of the optimizers: the parameter list, a settable learning rate, per-parameter
// state (a Map keyed by the parameter, so state dicts and schedulers can walk it), zeroGrad and
// dispose. Subclasses implement update() for one parameter with a gradient.
import { noGrad } from '../autograd/tape.js';
import { untracked } from '../autograd/scope.js';
import { OpArgumentError, shapeStr } from '../errors.js';
import { Tensor } from '../tensor.js';

export abstract class Optimizer<S extends object> {
  readonly params: readonly Tensor[];
  /** Per-parameter state, created at the parameter's first step. */
  protected readonly state = new Map<Tensor, S>();
  private lrValue = 0;

  constructor(
    protected readonly name: string,
    params: readonly Tensor[],
    lr: number,
  ) {
    if (!Array.isArray(params)) throw new OpArgumentError(name, "argument 'params' must be an array of tensors");
    params.forEach((p, i) => {
      if (!(p instanceof Tensor) || p.dtype !== 'float32') throw new OpArgumentError(name, `argument 'params[${i}]' must be a float32 Tensor`);
    });
    if (new Set(params).size !== params.length) throw new OpArgumentError(name, "argument 'params' lists a tensor twice");
    this.params = [...params];
    this.lr = lr;
  }

  get lr(): number {
    return this.lrValue;
  }

  set lr(v: number) {
    nonNegative(this.name, 'lr', v);
    this.lrValue = v;
  }

  /** Updates every parameter that has a gradient, in place. */
  step(): void {
    noGrad(() =>
      untracked(() => {
        // state buffers outlive any tidy() the caller wraps around step()
        this.params.forEach((p, i) => {
          if (!p.grad) return;
          if (p.disposed) throw new OpArgumentError(this.name, `parameter ${i} has been disposed`);
          if (p.grad.shape.join() !== p.shape.join()) {
            throw new OpArgumentError(this.name, `gradient of parameter ${i} has shape ${shapeStr(p.grad.shape)}, parameter ${shapeStr(p.shape)}`);
          }
          let s = this.state.get(p);
          if (!s) {
            s = this.initState(p);
            this.state.set(p, s);
          }
          this.update(p, p.grad, s);
        });
      }),
    );
  }

  /** Disposes the parameters' gradients. */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Frees the state buffers (the parameters stay). */
  dispose(): void {
    for (const s of this.state.values()) {
      for (const v of Object.values(s)) if (v instanceof Tensor) v.dispose();
    }
    this.state.clear();
  }

  protected abstract initState(p: Tensor): S;
  protected abstract update(p: Tensor, g: Tensor, s: S): void;
}

export function nonNegative(op: string, arg: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new OpArgumentError(op, `argument '${arg}' must be a finite number >= 0, got ${String(v)}`);
  return v;
}
