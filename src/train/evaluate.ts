// Evaluation on a slice set: loss, prediction by slices in batches, per-volume restacking and
// per-structure 3-D Dice; mean ± std over volumes of each volume's mean foreground Dice (the
// paper's Table 1 number).
import { noGrad } from '../autograd/tape.js';
import { restack, type SliceSet } from '../data/slices.js';
import type { Module } from '../nn/module.js';
import { combinedLoss } from '../ops/dice.js';
import { Tensor } from '../tensor.js';
import { mean, std } from './stats.js';
import { argmaxLast, dicePerClass, meanDice } from './dice.js';

export interface VolumeDice {
  id: string;
  /** per class; null where the structure is absent from both truth and prediction */
  dice: (number | null)[];
  meanDice: number;
}

export interface SetEvaluation {
  loss: number;
  volumes: VolumeDice[];
  mean: number;
  std: number;
  /** predicted labels of every slice of the set, in slice order (count*H*W) */
  predictions: Int32Array;
}

/** Runs the model over every slice (eval mode, no grad) and scores it per volume. */
export function evaluateSet(model: Module, set: SliceSet, opts: { batchSize: number; classes: number; includeBackground?: boolean }): SetEvaluation {
  const { H, W, count } = set;
  const K = opts.classes;
  const wasTraining = model.training;
  model.eval();
  const predictions = new Int32Array(count * H * W);
  const device = model.device;
  let lossSum = 0;
  try {
    noGrad(() => {
      for (let s = 0; s < count; s += opts.batchSize) {
        const n = Math.min(opts.batchSize, count - s);
        const x = Tensor.fromArray(set.images.subarray(s * H * W, (s + n) * H * W), [n, H, W, 1], { device });
        const y = Tensor.fromArray(set.labels.subarray(s * H * W, (s + n) * H * W), [n, H, W], { device });
        const w = set.weights ? Tensor.fromArray(set.weights.subarray(s * H * W, (s + n) * H * W), [n, H, W], { device }) : null;
        const logits = model.forward(x);
        const parts = combinedLoss(logits, y, w, { includeBackground: opts.includeBackground ?? false });
        lossSum += parts.loss.item() * n;
        predictions.set(argmaxLast(logits.dataSync() as Float32Array, K), s * H * W);
        for (const t of [x, y, w, logits, parts.loss, parts.ce, parts.dice]) t?.dispose();
      }
    });
  } finally {
    model.train(wasTraining);
  }
  const volumes = scoreVolumes(set, predictions, K, opts.includeBackground ?? false);
  const means = volumes.map((v) => v.meanDice).filter((d) => Number.isFinite(d));
  return { loss: lossSum / Math.max(1, count), volumes, mean: mean(means), std: means.length > 1 ? std(means) : 0, predictions };
}

/** Per-subject 3-D Dice: the set's predictions and labels restacked into each subject's volume. */
export function scoreVolumes(set: SliceSet, predictions: Int32Array, K: number, includeBackground = false): VolumeDice[] {
  const { H, W } = set;
  const out: VolumeDice[] = [];
  set.subjects.forEach((subj, si) => {
    const idx: number[] = [];
    for (let i = 0; i < set.count; i++) if (set.subject[i] === si) idx.push(i);
    if (!idx.length) return;
    idx.sort((a, b) => set.position[a]! - set.position[b]!);
    const gather = (src: Int32Array) => {
      const o = new Int32Array(idx.length * H * W);
      idx.forEach((i, k) => o.set(src.subarray(i * H * W, (i + 1) * H * W), k * H * W));
      return o;
    };
    // restack both, so the padding added for the network never counts
    const pred = restack(gather(predictions), set, si);
    const truth = restack(gather(set.labels), set, si);
    const dice = dicePerClass(pred, truth, K);
    out.push({ id: subj.id, dice, meanDice: meanDice(dice, includeBackground) });
  });
  return out;
}
