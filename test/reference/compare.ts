// Runs one of our ops and the tfjs equivalent on the same random inputs and output gradient, and
// compares the forward value and every input gradient.
import type * as tfTypes from '@tensorflow/tfjs';

import { Tensor } from '../../src/tensor.js';
import { expectClose, randn, randt } from '../helpers.js';
import { tfFrom, tfValueAndGrads } from './tf.js';

export type TfFn = (x: tfTypes.Tensor, ...rest: (tfTypes.Tensor | undefined)[]) => tfTypes.Tensor;

export function checkAgainstTf(
  ours: (x: Tensor, ...rest: Tensor[]) => Tensor,
  theirs: TfFn,
  shapes: number[][],
  seed: number,
  tol = { rtol: 1e-5, atol: 1e-6 },
): void {
  const xs = shapes.map((s, i) => randt(s, seed + i));
  const y = ours(xs[0]!, ...xs.slice(1));
  const dyData = randn(y.shape, seed + 100);
  y.backward(Tensor.fromArray(dyData, y.shape));
  const ref = tfValueAndGrads(
    (...ts) => theirs(ts[0]!, ...ts.slice(1)),
    shapes.map((s, i) => tfFrom(xs[i]!.dataSync() as Float32Array, s)),
    tfFrom(dyData, y.shape),
  );
  expectClose(y.dataSync(), ref.y, tol.rtol, tol.atol, 'forward');
  xs.forEach((x, i) => expectClose(x.grad!.dataSync(), ref.grads[i]!, tol.rtol, tol.atol, `grad of input ${i}`));
  xs.forEach((x) => x.dispose());
  y.dispose();
}
