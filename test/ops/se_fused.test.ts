import { describe, expect, it } from 'vitest';

import { squeezeExcite, type SeAggregation, type SeBlockKind, type SeParams } from '../../src/ops/se.js';
import { Tensor } from '../../src/tensor.js';
import { expectClose, randn, randt } from '../helpers.js';
import { tfSe } from '../reference/se_tf.js';
import { tf, tfFrom } from '../reference/tf.js';

function makeParams(C: number, Cr: number, bias: boolean, seed: number): SeParams {
  return {
    fc1Weight: randt([Cr, C], seed, true, 0.5),
    fc1Bias: bias ? randt([Cr], seed + 1, true, 0.5) : null,
    fc2Weight: randt([C, Cr], seed + 2, true, 0.5),
    fc2Bias: bias ? randt([C], seed + 3, true, 0.5) : null,
    convWeight: randt([1, 1, 1, C], seed + 4, true, 0.5),
    convBias: randt([1], seed + 5, true, 0.5),
  };
}

const names = ['fc1Weight', 'fc1Bias', 'fc2Weight', 'fc2Bias', 'convWeight', 'convBias'] as const;

function compareWithTf(kind: SeBlockKind, agg: SeAggregation, shape: [number, number, number, number], bias: boolean, seed: number): void {
  const C = shape[3];
  const Cr = Math.max(1, Math.floor(C / 2));
  const x = randt(shape, seed);
  const p = makeParams(C, Cr, bias, seed + 10);
  const y = squeezeExcite(x, kind, p, agg);
  const dy = randn(shape, seed + 99);
  y.backward(Tensor.fromArray(dy, shape));
  const used = names.filter((k) => p[k] && (kind !== 'sse' || k.startsWith('conv')) && (kind !== 'cse' || !k.startsWith('conv')));
  const tfX = tfFrom(x.dataSync() as Float32Array, shape);
  const tfP = Object.fromEntries(used.map((k) => [k, tfFrom(p[k]!.dataSync() as Float32Array, p[k]!.shape)]));
  const f = (xx: import('@tensorflow/tfjs').Tensor, ...ps: import('@tensorflow/tfjs').Tensor[]) =>
    tfSe(xx, kind, Object.fromEntries(used.map((k, i) => [k, ps[i]!])), agg);
  const ref = tf.tidy(() => {
    const yy = f(tfX, ...used.map((k) => tfP[k]!));
    const g = tf.grads(f)([tfX, ...used.map((k) => tfP[k]!)], tfFrom(dy, shape));
    return { y: yy.dataSync(), g: g.map((t) => t.dataSync()) };
  });
  expectClose(y.dataSync(), ref.y, 1e-4, 1e-5, 'forward');
  expectClose(x.grad!.dataSync(), ref.g[0]!, 1e-4, 1e-5, 'grad x');
  used.forEach((k, i) => expectClose(p[k]!.grad!.dataSync(), ref.g[i + 1]!, 2e-4, 1e-4, `grad ${k}`));
  for (const k of names) if (kind === 'sse' && !k.startsWith('conv')) expect(p[k]?.grad ?? null).toBeNull();
  x.dispose();
  y.dispose();
  for (const k of names) p[k]?.dispose();
}

describe('fused SE kernels against tfjs', () => {
  it('cSE', () => compareWithTf('cse', 'add', [2, 5, 7, 8], true, 1));
  it('cSE without bias', () => compareWithTf('cse', 'add', [3, 4, 3, 6], false, 2));
  it('sSE', () => compareWithTf('sse', 'add', [2, 5, 7, 8], true, 3));
  for (const agg of ['add', 'max', 'mul'] as const) {
    it(`scSE ${agg}`, () => compareWithTf('scse', agg, [2, 9, 11, 16], true, 4));
    it(`scSE ${agg} without bias, C = 3`, () => compareWithTf('scse', agg, [1, 6, 5, 3], false, 5));
  }
  it('scSE at a large image (parallel path, many pixels)', () => compareWithTf('scse', 'add', [2, 64, 48, 32], true, 6));
  // images are visited in a thread-interleaved order (se.cc): every one of 5 must still be computed
  it('scSE over 5 images (batch not a multiple of the thread count)', () => compareWithTf('scse', 'max', [5, 3, 4, 8], true, 7));
});

describe('fused SE errors', () => {
  it('names the op, argument and shapes', () => {
    const x = randt([1, 4, 4, 8], 1);
    const p = makeParams(8, 4, true, 2);
    expect(() => squeezeExcite(x, 'cse', { ...p, fc1Weight: randt([4, 6], 3) })).toThrow(
      /squeezeExcite\(cse\): argument 'fc1.weight' expected shape \[\*, 8\] \(\[C\/r, C\] with C = 8 channels of x\), got \[4, 6\]/,
    );
    expect(() => squeezeExcite(x, 'sse', { ...p, convWeight: randt([1, 1, 1, 4], 3) })).toThrow(/'conv.weight' expected shape \[1, 1, 1, 8\]/);
    expect(() => squeezeExcite(randt([4, 8], 4), 'sse', p)).toThrow(/argument 'x' expected rank 4 \(NHWC\), got shape \[4, 8\]/);
    expect(() => squeezeExcite(x, 'scse', p, 'min' as never)).toThrow(/'aggregation' must be add\|max\|mul/);
    expect(() => squeezeExcite(x, 'xse' as never, p)).toThrow(/squeezeExcite\(xse\): argument 'kind' must be 'cse', 'sse' or 'scse', got 'xse'/);
    expect(() => squeezeExcite(x, 'cse', undefined as never)).toThrow(/squeezeExcite\(cse\): argument 'params' must be an object/);
  });
  it('rejects NaN and Inf input', () => {
    const d = randn([1, 4, 4, 8], 5);
    d[17] = Number.NaN;
    const x = Tensor.fromArray(d, [1, 4, 4, 8]);
    const p = makeParams(8, 4, true, 6);
    expect(() => squeezeExcite(x, 'scse', p)).toThrow(/seForward scSE\(add\): argument 'x' \(or a parameter\) contains NaN or Inf in image 0/);
    d[17] = Number.POSITIVE_INFINITY;
    expect(() => squeezeExcite(Tensor.fromArray(d, [1, 4, 4, 8]), 'cse', p)).toThrow(/contains NaN or Inf/);
  });
  it('names the first image holding a NaN, though images run last to first', () => {
    const d = randn([4, 4, 4, 8], 7);
    d[1 * 128 + 5] = Number.NaN;
    d[3 * 128 + 9] = Number.NaN;
    const p = makeParams(8, 4, true, 8);
    expect(() => squeezeExcite(Tensor.fromArray(d, [4, 4, 4, 8]), 'scse', p)).toThrow(/contains NaN or Inf in image 1/);
  });
});
