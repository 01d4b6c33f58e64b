// Reductions with gradients: sum / mean over all elements or over chosen axes.
import { attach, needsGrad } from '../autograd/tape.js';
import { OpArgumentError } from '../errors.js';
import { native } from '../native.js';
import { Tensor } from '../tensor.js';
import * as check from './check.js';

const wrap = Tensor.fromHandle;

function normAxes(op: string, x: Tensor, axes?: number | readonly number[]): number[] {
  if (axes === undefined) return x.shape.map((_, i) => i);
  const list = typeof axes === 'number' ? [axes] : [...axes];
  return list.map((a) => {
    const r = a < 0 ? a + x.rank : a;
    if (!Number.isInteger(r) || r < 0 || r >= x.rank) throw new OpArgumentError(op, `argument 'axes' has ${a}, out of range for rank ${x.rank}`);
    return r;
  });
}

/** Sum over `axes` (all when omitted). keepDims keeps reduced axes as size 1. */
export function sum(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  return reduce('sum', x, axes, keepDims, 1);
}

/** Mean over `axes` (all when omitted). */
export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  check.tensor('mean', 'x', x);
  const ax = normAxes('mean', x, axes);
  const count = ax.reduce((a, i) => a * x.shape[i]!, 1);
  return reduce('mean', x, ax, keepDims, count === 0 ? 1 : 1 / count);
}

function reduce(op: string, x: Tensor, axes: number | readonly number[] | undefined, keepDims: boolean, factor: number): Tensor {
  check.tensor(op, 'x', x);
  if (x.rank > 4) throw new OpArgumentError(op, `supports rank <= 4, got rank ${x.rank}`);
  const ax = new Set(normAxes(op, x, axes));
  const kept = x.shape.map((d, i) => (ax.has(i) ? 1 : d));
  const outShape = keepDims ? kept : x.shape.filter((_, i) => !ax.has(i));
  const s = native.sumTo(x.handle, kept);
  const scaled = factor === 1 ? s : native.affine(s, factor, 0);
  if (scaled !== s) s.dispose();
  const y = wrap(scaled.reshape(outShape));
  scaled.dispose();
  if (needsGrad(x)) {
    const xShape = [...x.shape];
    const device = x.device;
    attach(op, [x], [y], [], ([g]) => {
      const gk = g!.handle.reshape(kept);
      const zeros = native.empty(xShape, 'float32', device);
      native.fill(zeros, 0);
      // broadcast the (scaled) gradient back over the reduced axes
      const b = native.binary('add', zeros, gk);
      zeros.dispose();
      gk.dispose();
      if (factor === 1) return [wrap(b)];
      const r = native.affine(b, factor, 0);
      b.dispose();
      return [wrap(r)];
    });
  }
  return y;
}
