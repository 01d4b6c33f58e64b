// tidy(): every tensor created inside `fn` is disposed when it returns, except the ones it
// returns (anywhere inside arrays or plain objects) and the ones passed to keep().
import type { Tensor } from '../tensor.js';

const scopes: Set<Tensor>[] = [];
let suspended = 0;

/** Called by every new Tensor: registers it with the innermost tidy scope. */
export function track(t: Tensor): void {
  if (suspended === 0 && scopes.length > 0) scopes[scopes.length - 1]!.add(t);
}

/** Exempts a tensor from disposal by the enclosing tidy scopes. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

/** Runs fn with tracking off: tensors it makes belong to the caller (autograd's leaf grads). */
export function untracked<T>(fn: () => T): T {
  suspended++;
  try {
    return fn();
  } finally {
    suspended--;
  }
}

function collect(v: unknown, out: Set<unknown>, depth = 0): void {
  if (v === null || typeof v !== 'object' || depth > 8) return;
  if ((v as { isTensor?: boolean }).isTensor === true) {
    out.add(v);
    return;
  }
  if (Array.isArray(v)) for (const x of v) collect(x, out, depth + 1);
  else if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) collect(x, out, depth + 1);
}

export function tidy<T>(fn: () => T): T {
  if (fn.constructor.name === 'AsyncFunction') throw new Error('tidy: fn must be synchronous (tensors created after an await would escape the scope)');
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  const kept = new Set<unknown>();
  collect(result, kept);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (kept.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}
