// Argument checks run before every native call. Messages name the op, the argument, what was
// expected and what was given.
import { OpArgumentError, shapeStr } from '../errors.js';
import type { DType } from '../native.js';
import { Tensor } from '../tensor.js';

/** A live tensor of the given dtype (float32 by default). */
export function tensor(op: string, arg: string, t: unknown, dtype: DType = 'float32'): Tensor {
  if (!(t instanceof Tensor)) throw new OpArgumentError(op, `argument '${arg}' must be a Tensor, got ${t === null ? 'null' : typeof t}`);
  if (t.disposed) throw new OpArgumentError(op, `argument '${arg}' ${shapeStr(t.shape)} has been disposed`);
  if (t.dtype !== dtype) throw new OpArgumentError(op, `argument '${arg}' must be ${dtype}, got ${t.dtype}`);
  return t;
}

export function rank(op: string, arg: string, t: Tensor, r: number, layout = r === 4 ? ' (NHWC)' : ''): void {
  if (t.rank !== r) throw new OpArgumentError(op, `argument '${arg}' expected rank ${r}${layout}, got shape ${shapeStr(t.shape)}`);
}

/** Exact shape match; -1 in `want` matches any size. */
export function shape(op: string, arg: string, t: Tensor, want: readonly number[], why = ''): void {
  const ok = t.rank === want.length && want.every((d, i) => d === -1 || d === t.shape[i]);
  if (!ok) {
    const w = want.map((d) => (d === -1 ? '*' : String(d))).join(', ');
    throw new OpArgumentError(op, `argument '${arg}' expected shape [${w}]${why ? ` (${why})` : ''}, got ${shapeStr(t.shape)}`);
  }
}

export function positiveInt(op: string, arg: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new OpArgumentError(op, `argument '${arg}' must be an integer >= ${min}, got ${String(v)}`);
  }
  return v;
}

export function finiteNumber(op: string, arg: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new OpArgumentError(op, `argument '${arg}' must be a finite number, got ${String(v)}`);
  return v;
}

/** NumPy broadcasting of two shapes (right-aligned, size-1 stretches), rank <= 4. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  if (a.length > 4 || b.length > 4) throw new OpArgumentError(op, `supports rank <= 4, got ${shapeStr(a)} and ${shapeStr(b)}`);
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new OpArgumentError(op, `arguments 'a' ${shapeStr(a)} and 'b' ${shapeStr(b)} cannot be broadcast together (dimension ${i})`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/**
 * The one device all given tensors are on (null/undefined entries, absent optional tensors, are
 * skipped). Throws "<op>: arguments must be on one device: 'x' is on cuda:0, 'w' is on cpu" (the
 * native ops say the same) otherwise: nothing is copied between devices implicitly.
 */
export function sameDevice(op: string, tensors: Record<string, Tensor | null | undefined> | [string, Tensor | null | undefined][]): string {
  const entries = (Array.isArray(tensors) ? tensors : Object.entries(tensors)).filter((e): e is [string, Tensor] => e[1] != null);
  const first = entries[0]?.[1].device ?? 'cpu';
  if (entries.some(([, t]) => t.device !== first)) {
    throw new OpArgumentError(op, `arguments must be on one device: ${entries.map(([n, t]) => `'${n}' is on ${t.device}`).join(', ')}`);
  }
  return first;
}
