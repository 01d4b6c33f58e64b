import { expect } from 'vitest';

import { Rng } from '../src/random.js';
import { Tensor } from '../src/tensor.js';

/** Deterministic random data for tests (own generator: independent of the library's seed). */
export function randn(shape: readonly number[], seed: number, scale = 1): Float32Array {
  const r = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = r.normal() * scale;
  return out;
}

export function randt(shape: readonly number[], seed: number, requiresGrad = true, scale = 1): Tensor {
  return Tensor.fromArray(randn(shape, seed, scale), shape, { requiresGrad });
}

/** max |a-b| <= atol + rtol*max|b|, reported with the worst index. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-4, atol = 1e-5, what = ''): void {
  expect(actual.length, `${what} length`).toBe(expected.length);
  let maxAbs = 0;
  for (let i = 0; i < expected.length; i++) maxAbs = Math.max(maxAbs, Math.abs(expected[i]!));
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.abs(actual[i]! - expected[i]!);
    if (!(e <= worstErr)) {
      worstErr = e;
      worst = i;
    }
  }
  const tol = atol + rtol * maxAbs;
  if (!(worstErr <= tol)) {
    throw new Error(`${what}: max error ${worstErr} at ${worst} (got ${actual[worst]}, want ${expected[worst]}) exceeds ${tol}`);
  }
}

/** Expects `fn` to throw an error whose message contains every one of `parts` (op, argument, shapes...). */
/** The message fn throws, or '(nothing thrown)'. */
export function thrown(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  return '(nothing thrown)';
}

export function expectError(fn: () => unknown, ...parts: string[]): void {
  const msg = thrown(fn);
  expect(msg, 'expected an error').not.toBe('(nothing thrown)');
  for (const p of parts) expect(msg).toContain(p);
}

/** Central finite differences in float64 of a scalar function of a flat parameter vector. */
export function finiteDiff(f: (x: Float64Array) => number, x: Float64Array, h = 1e-5): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const old = x[i]!;
    x[i] = old + h;
    const fp = f(x);
    x[i] = old - h;
    const fm = f(x);
    x[i] = old;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}
