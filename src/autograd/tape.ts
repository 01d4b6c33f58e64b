// The tape: each differentiable op that sees an input requiring grad attaches a GradNode to its
// outputs. backward() walks the nodes in reverse topological order, accumulates gradients, hands
// leaf gradients to `.grad`, and frees what each node saved as soon as it has been used.
import type { NativeTensor } from '../native.js';
import { native } from '../native.js';
import { Tensor } from '../tensor.js';
import { untracked } from './scope.js';

export type BackwardFn = (grads: Tensor[]) => (Tensor | null)[];

export class GradNode {
  released = false;
  constructor(
    readonly name: string,
    readonly inputs: Tensor[],
    readonly outputs: WeakRef<Tensor>[],
    readonly outputShapes: number[][],
    readonly outputDevices: string[],
    private saved: NativeTensor[],
    private fn: BackwardFn | null,
  ) {}

  run(grads: Tensor[]): (Tensor | null)[] {
    if (this.released || !this.fn) {
      throw new Error(`backward: the graph through '${this.name}' has already been freed (backward was called twice on it)`);
    }
    return this.fn(grads);
  }

  release(): void {
    for (const s of this.saved) s.dispose();
    this.saved = [];
    this.fn = null;
    this.released = true;
  }
}

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording (inference, optimizer updates, metrics). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** True when an op on these inputs must be recorded. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  return gradEnabled && inputs.some((t) => t?.requiresGrad === true);
}

/** Records an op: outputs get requiresGrad and a node that can compute input gradients. */
export function attach(name: string, inputs: Tensor[], outputs: Tensor[], saved: NativeTensor[], fn: BackwardFn): void {
  const node = new GradNode(
    name,
    inputs,
    outputs.map((o) => new WeakRef(o)),
    outputs.map((o) => [...o.shape]),
    outputs.map((o) => o.device),
    saved,
    fn,
  );
  outputs.forEach((o, i) => {
    o.requiresGrad = true;
    o.gradFn = node;
    o.outputIndex = i;
  });
}

function topoOrder(root: GradNode): GradNode[] {
  const order: GradNode[] = [];
  const seen = new Set<GradNode>();
  const stack: [GradNode, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [node, i] = top;
    if (i < node.inputs.length) {
      top[1]++;
      const next = node.inputs[i]!.gradFn;
      if (next && !seen.has(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      order.push(node);
      stack.pop();
    }
  }
  return order.reverse(); // root first
}

function accumulate(map: Map<Tensor, Tensor>, key: Tensor, g: Tensor): void {
  const prev = map.get(key);
  if (!prev) {
    map.set(key, g);
    return;
  }
  const sum = Tensor.fromHandle(rawAdd(prev, g));
  prev.dispose();
  g.dispose();
  map.set(key, sum);
}

// Plain (unrecorded) add used for gradient accumulation.
function rawAdd(a: Tensor, b: Tensor): NativeTensor {
  return native.binary('add', a.handle, b.handle);
}

/**
 * Backpropagates from `root`. `grad` defaults to ones for a single-element root. Leaf tensors with
 * requiresGrad receive (accumulate into) `.grad`. The graph is freed as it is consumed.
 */
export function backward(root: Tensor, grad?: Tensor): void {
  if (!root.requiresGrad) throw new Error('backward: tensor does not require grad (no input of it had requiresGrad)');
  untracked(() =>
    noGrad(() => {
      if (grad && grad.device !== root.device) {
        throw new Error(`backward: argument 'grad' is on ${grad.device}, the tensor on ${root.device}`);
      }
      // The seed shares the caller's storage (backward never writes to gradients, and a 64 MiB
      // copy costs as much as a whole fused SE backward); a leaf root gets its own copy since
      // it keeps the seed as .grad.
      const seed = grad ? (root.gradFn ? Tensor.fromHandle(grad.handle.share()) : grad.clone()) : Tensor.full(root.shape, 1, 'float32', root.device);
      if (grad && grad.shape.join() !== root.shape.join()) {
        seed.dispose();
        throw new Error(`backward: argument 'grad' expected shape [${root.shape.join(', ')}], got [${grad.shape.join(', ')}]`);
      }
      if (!root.gradFn) {
        accumulateLeaf(root, seed);
        return;
      }
      const grads = new Map<Tensor, Tensor>([[root, seed]]);
      for (const node of topoOrder(root.gradFn)) {
        const outs = node.outputs.map((w) => w.deref());
        const gOuts: Tensor[] = [];
        let any = false;
        for (const o of outs) {
          const g = o ? grads.get(o) : undefined;
          if (g) any = true;
          gOuts.push(g as Tensor);
        }
        if (!any) {
          node.release();
          continue;
        }
        // outputs that received no gradient contribute zeros
        node.outputShapes.forEach((shape, i) => {
          if (!gOuts[i]) gOuts[i] = Tensor.full(shape, 0, 'float32', node.outputDevices[i]);
        });
        const gIns = node.run(gOuts);
        node.release();
        for (const g of gOuts) g.dispose();
        outs.forEach((o) => o && grads.delete(o));
        node.inputs.forEach((inp, i) => {
          const g = gIns[i];
          if (!g) return;
          if (!inp.requiresGrad) {
            g.dispose();
            return;
          }
          if (g.shape.join() !== inp.shape.join()) {
            throw new Error(`backward: internal error in '${node.name}': gradient shape [${g.shape}] for input of shape [${inp.shape}]`);
          }
          if (g.device !== inp.device) {
            throw new Error(`backward: internal error in '${node.name}': gradient on ${g.device} for an input on ${inp.device}`);
          }
          if (inp.gradFn) accumulate(grads, inp, g);
          else accumulateLeaf(inp, g);
        });
      }
      for (const g of grads.values()) g.dispose();
    }),
  );
}

function accumulateLeaf(t: Tensor, g: Tensor): void {
  if (!t.grad) {
    t.grad = g;
    return;
  }
  const sum = Tensor.fromHandle(rawAdd(t.grad, g));
  t.grad.dispose();
  g.dispose();
  t.grad = sum;
}
