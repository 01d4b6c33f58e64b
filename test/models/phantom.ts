// A fixed batch of small phantom-like images for the model tests: ellipses and rectangles with
// their own labels and intensities on a noisy background (drawn here, independent of src/data).
import { Rng } from '../../src/random.js';
import { Tensor } from '../../src/tensor.js';

export interface Batch {
  x: Tensor;
  labels: Tensor;
  /** labels as a plain array, for accuracy */
  y: Int32Array;
}

/** N images [N, S, S, 1] and int32 labels [N, S, S] in [0, classes). */
export function phantomBatch(N: number, S: number, classes: number, seed: number): Batch {
  const r = new Rng(seed);
  const x = new Float32Array(N * S * S);
  const y = new Int32Array(N * S * S);
  const intensity = [0.1, 0.9, 0.55, 0.3, 0.75, 0.45];
  for (let n = 0; n < N; n++) {
    const o = n * S * S;
    // shapes in label order; later shapes overwrite earlier ones
    for (let c = 1; c < classes; c++) {
      const cx = S * (0.25 + 0.5 * r.float());
      const cy = S * (0.25 + 0.5 * r.float());
      const a = S * (0.12 + 0.18 * r.float());
      const b = S * (0.12 + 0.18 * r.float());
      const rect = c % 2 === 0;
      for (let i = 0; i < S; i++) {
        for (let j = 0; j < S; j++) {
          const u = (i + 0.5 - cy) / a;
          const v = (j + 0.5 - cx) / b;
          const inside = rect ? Math.abs(u) <= 1 && Math.abs(v) <= 1 : u * u + v * v <= 1;
          if (inside) y[o + i * S + j] = c;
        }
      }
    }
    for (let p = 0; p < S * S; p++) x[o + p] = intensity[y[o + p]! % intensity.length]! + 0.05 * r.normal();
  }
  return { x: Tensor.fromArray(x, [N, S, S, 1]), labels: Tensor.fromArray(y, [N, S, S]), y };
}

/** Fraction of pixels whose arg-max class equals the label (logits NHWC). */
export function pixelAccuracy(logits: Float32Array, labels: Int32Array, K: number): number {
  let ok = 0;
  for (let p = 0; p < labels.length; p++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (logits[p * K + k]! > logits[p * K + best]!) best = k;
    if (best === labels[p]) ok++;
  }
  return ok / labels.length;
}
