// Shared base of the optimizers: the parameter list, a settable learning rate, per-parameter
// state (a Map keyed by the parameter, so state dicts and schedulers can walk it), zeroGrad and
// dispose, and state dicts. Subclasses implement update() for one parameter with a gradient and
// say how their per-parameter state is saved and restored.
import { noGrad } from '../autograd/tape.js';
import { untracked } from '../autograd/scope.js';
import { OpArgumentError, shapeStr } from '../errors.js';
import { Tensor } from '../tensor.js';

/** Hyperparameters as saved in a state dict (JSON values). */
export type Hyper = Record<string, number | boolean | number[]>;

/** One parameter's state split into JSON scalars and buffers (PyTorch's names). */
export interface SavedParamState {
  scalars: Record<string, number>;
  buffers: Record<string, Tensor | null>;
}

/**
 * An optimizer's state in two parts, shaped for a safetensors checkpoint: `meta` is JSON-able
 * (type, current lr, hyperparameters, per-parameter scalars such as Adam's step, keyed by the
 * parameter's index in `params`), `tensors` the state buffers named 'state.<index>.<name>' with
 * PyTorch's names (momentum_buffer, exp_avg, exp_avg_sq). Parameters that have not been stepped
 * yet have no entry, as in PyTorch.
 */
export interface OptimizerStateDict {
  meta: {
    type: string;
    lr: number;
    hyper: Hyper;
    numParams: number;
    state: Record<string, Record<string, number>>;
  };
  tensors: Map<string, Tensor>;
}

/** What loadStateDict accepts: buffers as Tensors or as flat Float32Arrays (e.g. read from a file). */
export interface OptimizerStateDictInput {
  meta: OptimizerStateDict['meta'];
  tensors: ReadonlyMap<string, Tensor | Float32Array>;
}

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
          if (p.grad.device !== p.device) {
            throw new OpArgumentError(this.name, `gradient of parameter ${i} is on ${p.grad.device}, the parameter on ${p.device}`);
          }
          let s = this.state.get(p);
          if (!s) {
            s = this.initState(p);
            this.state.set(p, s);
          } else followDevice(s, p.device);
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
    for (const s of this.state.values()) disposeState(s);
    this.state.clear();
  }

  /**
   * A copy of the optimizer's state (see OptimizerStateDict). The tensors are fresh copies owned
   * by the caller (dispose them after saving; they are not registered with tidy() scopes, which
   * would not see inside the Map anyway).
   */
  stateDict(): OptimizerStateDict {
    const state: Record<string, Record<string, number>> = {};
    const tensors = new Map<string, Tensor>();
    untracked(() =>
      this.params.forEach((p, i) => {
        const s = this.state.get(p);
        if (!s) return;
        const saved = this.saveState(s);
        state[String(i)] = { ...saved.scalars };
        for (const [name, t] of Object.entries(saved.buffers)) if (t) tensors.set(`state.${i}.${name}`, t.clone());
      }),
    );
    return { meta: { type: this.name, lr: this.lr, hyper: this.hyper(), numParams: this.params.length, state }, tensors };
  }

  /**
   * Restores a state dict: the lr (schedulers change it) and every parameter's state (copied, so
   * the caller may dispose its tensors afterwards). The type, the number of parameters and the
   * hyperparameters must match this optimizer's (a mismatch is a configuration error, reported
   * rather than silently adopted), and each buffer must have its parameter's size.
   */
  loadStateDict(sd: OptimizerStateDictInput): void {
    const op = this.name;
    const meta = sd?.meta;
    if (!meta || typeof meta !== 'object' || !(sd.tensors instanceof Map)) {
      throw new OpArgumentError(op, "loadStateDict: argument 'sd' must be { meta, tensors: Map }");
    }
    if (meta.type !== this.name) throw new OpArgumentError(op, `loadStateDict: the state dict is for ${JSON.stringify(meta.type)}, not ${this.name}`);
    if (meta.numParams !== this.params.length) {
      throw new OpArgumentError(op, `loadStateDict: the state dict has ${meta.numParams} parameters, this optimizer ${this.params.length}`);
    }
    const mine = this.hyper();
    for (const k of new Set([...Object.keys(mine), ...Object.keys(meta.hyper ?? {})])) {
      if (JSON.stringify(meta.hyper?.[k]) !== JSON.stringify(mine[k])) {
        throw new OpArgumentError(op, `loadStateDict: saved ${k} ${JSON.stringify(meta.hyper?.[k])} differs from this optimizer's ${JSON.stringify(mine[k])}`);
      }
    }
    nonNegative(op, 'lr', meta.lr);
    const prefixes = new Set(Object.keys(meta.state ?? {}).map((i) => `state.${i}.`));
    for (const key of sd.tensors.keys()) {
      if (![...prefixes].some((pre) => key.startsWith(pre))) throw new OpArgumentError(op, `loadStateDict: tensor '${key}' belongs to no parameter state in 'meta.state'`);
    }
    // build everything first, then swap: a failed load leaves the optimizer as it was
    const next = new Map<Tensor, S>();
    try {
      untracked(() => {
        for (const [key, scalars] of Object.entries(meta.state ?? {})) {
          const i = Number(key);
          if (!Number.isInteger(i) || i < 0 || i >= this.params.length || String(i) !== key) {
            throw new OpArgumentError(op, `loadStateDict: state key '${key}' is not a parameter index in [0, ${this.params.length})`);
          }
          const p = this.params[i]!;
          const buffers: Record<string, Tensor> = {};
          try {
            for (const [name, v] of sd.tensors) {
              if (!name.startsWith(`state.${i}.`)) continue;
              buffers[name.slice(`state.${i}.`.length)] = copyBuffer(op, name, v, p);
            }
            next.set(p, this.loadState(p, i, { ...scalars }, buffers));
          } catch (e) {
            for (const t of Object.values(buffers)) t.dispose();
            throw e;
          }
        }
      });
    } catch (e) {
      for (const s of next.values()) disposeState(s);
      throw e;
    }
    this.dispose();
    for (const [p, s] of next) this.state.set(p, s);
    this.lr = meta.lr;
  }

  protected abstract initState(p: Tensor): S;
  protected abstract update(p: Tensor, g: Tensor, s: S): void;
  /** The hyperparameters a state dict records and loadStateDict compares (lr excluded). */
  protected abstract hyper(): Hyper;
  protected abstract saveState(s: S): SavedParamState;
  /**
   * Rebuilds parameter i's state from saved scalars and buffers (already copied, shapes checked,
   * owned by the new state). Throws OpArgumentError naming what is missing or unknown.
   */
  protected abstract loadState(p: Tensor, i: number, scalars: Record<string, number>, buffers: Record<string, Tensor>): S;
}

function disposeState(s: object): void {
  for (const v of Object.values(s)) if (v instanceof Tensor) v.dispose();
}

// State follows its parameter: after model.to(device) the buffers (momentum, moments) move to the
// parameter's device at its next step.
function followDevice(s: object, device: string): void {
  for (const v of Object.values(s)) if (v instanceof Tensor && v.device !== device) v.moveTo_(device);
}

/** A copy of a saved buffer as a tensor of the parameter's shape, on the parameter's device. */
function copyBuffer(op: string, name: string, v: Tensor | Float32Array, p: Tensor): Tensor {
  if (v instanceof Float32Array) {
    if (v.length !== p.size) throw new OpArgumentError(op, `loadStateDict: buffer '${name}' has ${v.length} elements, its parameter ${shapeStr(p.shape)} ${p.size}`);
    return Tensor.fromArray(v, p.shape, { device: p.device });
  }
  if (!(v instanceof Tensor) || v.disposed || v.dtype !== 'float32') throw new OpArgumentError(op, `loadStateDict: buffer '${name}' must be a live float32 Tensor or a Float32Array`);
  if (v.size !== p.size) throw new OpArgumentError(op, `loadStateDict: buffer '${name}' has shape ${shapeStr(v.shape)}, its parameter ${shapeStr(p.shape)}`);
  const c = v.device === p.device ? v.clone() : copyTo(v, p.device);
  if (c.shape.join() === p.shape.join()) return c;
  const r = Tensor.fromHandle(c.handle.reshape(p.shape));
  c.dispose();
  return r;
}

/** A copy of v on another device, outside any graph. */
function copyTo(v: Tensor, device: string): Tensor {
  const d = v.detach();
  try {
    return d.to(device);
  } finally {
    d.dispose();
  }
}

/** Throws unless a saved state has exactly the expected buffers and scalars. */
export function expectSaved(op: string, i: number, scalars: Record<string, number>, wantScalars: string[], buffers: Record<string, Tensor>, wantBuffers: string[], optionalBuffers: string[] = []): void {
  for (const k of Object.keys(scalars)) {
    if (!wantScalars.includes(k)) throw new OpArgumentError(op, `loadStateDict: unknown scalar '${k}' in the state of parameter ${i}`);
  }
  for (const k of wantScalars) {
    if (typeof scalars[k] !== 'number' || !Number.isFinite(scalars[k])) throw new OpArgumentError(op, `loadStateDict: the state of parameter ${i} lacks the number '${k}'`);
  }
  for (const k of Object.keys(buffers)) {
    if (!wantBuffers.includes(k) && !optionalBuffers.includes(k)) throw new OpArgumentError(op, `loadStateDict: unknown buffer 'state.${i}.${k}'`);
  }
  for (const k of wantBuffers) {
    if (!buffers[k]) throw new OpArgumentError(op, `loadStateDict: missing buffer 'state.${i}.${k}'`);
  }
}

export function nonNegative(op: string, arg: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new OpArgumentError(op, `argument '${arg}' must be a finite number >= 0, got ${String(v)}`);
  return v;
}
