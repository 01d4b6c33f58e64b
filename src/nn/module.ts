// Module: a tree of layers with PyTorch-style dotted names for parameters and buffers,
// train()/eval(), and state dicts with shape checks.
import type { DeviceSpec } from '../device.js';
import { OpArgumentError, shapeStr } from '../errors.js';
import { Tensor, type Device } from '../tensor.js';
import { keep } from '../autograd/scope.js';

export type StateDict = Map<string, Tensor>;

export abstract class Module {
  training = true;
  private readonly params = new Map<string, Tensor | null>();
  private readonly buffers = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  abstract forward(...inputs: Tensor[]): Tensor;

  /** Registers (or replaces) a parameter; it becomes a leaf that requires grad. null = absent (e.g. no bias). */
  protected param(name: string, t: Tensor | null): Tensor | null {
    if (t) keep(t).requireGrad(true);
    const old = this.params.get(name);
    if (old && old !== t) old.dispose();
    this.params.set(name, t);
    return t;
  }

  protected buffer(name: string, t: Tensor): Tensor {
    keep(t);
    const old = this.buffers.get(name);
    if (old && old !== t) old.dispose();
    this.buffers.set(name, t);
    return t;
  }

  protected module<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /** Parameter by its local name (throws when absent). */
  protected p(name: string): Tensor {
    const t = this.params.get(name);
    if (!t) throw new Error(`${this.constructor.name}: no parameter '${name}'`);
    return t;
  }

  protected maybeP(name: string): Tensor | null {
    return this.params.get(name) ?? null;
  }

  protected b(name: string): Tensor {
    const t = this.buffers.get(name);
    if (!t) throw new Error(`${this.constructor.name}: no buffer '${name}'`);
    return t;
  }

  namedChildren(): [string, Module][] {
    return [...this.children];
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.params) if (t) out.push([prefix + n, t]);
    for (const [n, m] of this.children) out.push(...m.namedParameters(`${prefix}${n}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.buffers) out.push([prefix + n, t]);
    for (const [n, m] of this.children) out.push(...m.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  /** Number of parameter elements. */
  numParameters(): number {
    return this.parameters().reduce((a, t) => a + t.size, 0);
  }

  train(on = true): this {
    this.training = on;
    for (const m of this.children.values()) m.train(on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * Moves every parameter (with its gradient) and buffer to `device` ('cpu' | 'cuda' | 'cuda:N' |
   * 'auto') in place: the tensors keep their identity, so an optimizer made before the move keeps
   * working (its state follows each parameter at the next step). Returns this.
   */
  to(device: DeviceSpec | string): this {
    for (const [, t] of this.namedParameters()) t.moveTo_(device);
    for (const [, t] of this.namedBuffers()) t.moveTo_(device);
    return this;
  }

  /** The device of the module's tensors ('cpu' for a module without any). */
  get device(): Device {
    for (const t of this.params.values()) if (t) return t.device;
    for (const t of this.buffers.values()) return t.device;
    for (const m of this.children.values()) {
      if (m.namedParameters().length || m.namedBuffers().length) return m.device;
    }
    return 'cpu';
  }

  /** Parameters and buffers by dotted name (the module's own tensors, not copies). */
  stateDict(): StateDict {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /** Copies values in; every name must exist with the same shape (strict: no extra or missing names). */
  loadStateDict(state: StateDict | Record<string, Tensor>, strict = true): void {
    const src = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    if (strict) {
      const missing = [...own.keys()].filter((k) => !src.has(k));
      const extra = [...src.keys()].filter((k) => !own.has(k));
      if (missing.length || extra.length) {
        throw new OpArgumentError('loadStateDict', `missing keys [${missing.join(', ')}], unexpected keys [${extra.join(', ')}]`);
      }
    }
    for (const [k, t] of src) {
      const dst = own.get(k);
      if (!dst) continue;
      if (t.shape.join() !== dst.shape.join() || t.dtype !== dst.dtype) {
        throw new OpArgumentError('loadStateDict', `'${k}' expected ${dst.dtype} ${shapeStr(dst.shape)}, got ${t.dtype} ${shapeStr(t.shape)}`);
      }
    }
    for (const [k, t] of src) own.get(k)?.handle.write(t.dataSync());
  }

  /** Disposes every parameter, gradient and buffer. */
  dispose(): void {
    for (const t of this.params.values()) t?.dispose();
    for (const t of this.buffers.values()) t.dispose();
    for (const m of this.children.values()) m.dispose();
  }
}
