// Soft Dice loss over NHWC logits (fused softmax + batch sums + Dice, one native pass each way),
// and QuickNAT's combined loss: weighted cross-entropy + Dice, 1:1.
import { attach, needsGrad } from '../autograd/tape.js';
import { OpArgumentError, shapeStr } from '../errors.js';
import { native, type NativeTensor } from '../native.js';
import { Tensor } from '../tensor.js';
import * as check from './check.js';
import { add } from './eltwise.js';
import { softmaxCrossEntropy } from './loss.js';

declare module '../native.js' {
  interface NativeAddon {
    diceLoss(logits: NativeTensor, labels: NativeTensor, classes: readonly number[], eps: number, smoothNr: number): [NativeTensor, NativeTensor, NativeTensor];
    diceLossBackward(
      probs: NativeTensor,
      labels: NativeTensor,
      stats: NativeTensor,
      classes: readonly number[],
      eps: number,
      smoothNr: number,
      dy: NativeTensor,
    ): NativeTensor;
  }
}

const wrap = Tensor.fromHandle;
const OP = 'diceLoss';

export interface DiceLossOptions {
  /** Include class 0 (background) in the mean. Default false. Ignored when `classes` is given. */
  includeBackground?: boolean;
  /** Added to the denominator. Default 1e-5 (MONAI's smooth_dr). */
  eps?: number;
  /**
   * Added to the numerator. Default 1e-5 (MONAI's smooth_nr), so that a class absent from both
   * the target and the prediction has Dice (0 + ε)/(0 + ε) = 1, loss 0, as in MONAI's DiceLoss;
   * 0 gives the paper's 2Σpg / (Σp + Σg + ε) exactly (such a class would then count as Dice 0).
   */
  smoothNr?: number;
  /** Explicit list of classes to average over (distinct, in [0, K)). Overrides includeBackground. */
  classes?: readonly number[];
}

/**
 * Soft Dice loss of logits [N,H,W,K] against int32 labels [N,H,W]:
 *   L = 1 − (1/|C|) Σ_{k∈C} (2 Σ_i p_ik g_ik + smoothNr) / (Σ_i p_ik + Σ_i g_ik + eps)
 * with p = softmax(logits) over the last axis, applied once (the reference code applied it twice),
 * g the one-hot labels, and every sum over the whole batch (all N·H·W pixels), per class.
 * C = the foreground classes 1..K−1 by default, 0..K−1 with includeBackground, or `classes`.
 * Classes never present in the batch stay in the mean: their Dice is smoothNr/(Σp + eps), which
 * is ≈ 0 unless the prediction is also empty (then → 1, as MONAI's DiceLoss); never NaN, since
 * eps must be > 0. Returns a scalar (shape []), differentiable w.r.t. logits.
 */
export function diceLoss(logits: Tensor, labels: Tensor, opts: DiceLossOptions = {}): Tensor {
  check.tensor(OP, 'logits', logits);
  check.tensor(OP, 'labels', labels, 'int32');
  if (logits.rank < 2) throw new OpArgumentError(OP, `argument 'logits' expected rank >= 2 ([N, H, W, K] NHWC), got shape ${shapeStr(logits.shape)}`);
  check.shape(OP, 'labels', labels, logits.shape.slice(0, -1), `'logits' ${shapeStr(logits.shape)} without the class axis`);
  if (logits.size === 0) throw new OpArgumentError(OP, `argument 'logits' must have at least one pixel and one class, got shape ${shapeStr(logits.shape)}`);
  check.sameDevice(OP, { logits, labels });
  const K = logits.shape[logits.rank - 1]!;
  const classes = diceClasses(K, opts);
  const eps = nonNegative('eps', opts.eps ?? 1e-5);
  const smoothNr = nonNegative('smoothNr', opts.smoothNr ?? 1e-5);
  if (eps === 0) throw new OpArgumentError(OP, "argument 'eps' must be > 0 (it keeps the Dice of an empty class finite)");
  const [lossH, probs, stats] = native.diceLoss(logits.handle, labels.handle, classes, eps, smoothNr);
  const loss = wrap(lossH);
  if (!needsGrad(logits)) {
    probs.dispose();
    stats.dispose();
    return loss;
  }
  const ls = labels.handle.share();
  attach(OP, [logits], [loss], [probs, ls, stats], ([g]) => [
    wrap(native.diceLossBackward(probs, ls, stats, classes, eps, smoothNr, g!.handle)),
  ]);
  return loss;
}

/** The classes a Dice loss averages over, validated. */
function diceClasses(K: number, opts: DiceLossOptions): number[] {
  if (opts.classes !== undefined) {
    if (!Array.isArray(opts.classes) || opts.classes.length === 0) throw new OpArgumentError(OP, "argument 'classes' must be a non-empty array of class indices");
    const seen = new Set<number>();
    for (const c of opts.classes) {
      if (!Number.isInteger(c) || c < 0 || c >= K) throw new OpArgumentError(OP, `argument 'classes' has ${String(c)}, outside [0, ${K}) (K = last dim of 'logits')`);
      if (seen.has(c)) throw new OpArgumentError(OP, `argument 'classes' lists class ${c} twice`);
      seen.add(c);
    }
    return [...opts.classes];
  }
  const from = opts.includeBackground ? 0 : 1;
  if (K - from < 1) throw new OpArgumentError(OP, `logits have ${K} class(es): no foreground class to average over (set includeBackground or classes)`);
  return Array.from({ length: K - from }, (_, i) => i + from);
}

function nonNegative(arg: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new OpArgumentError(OP, `argument '${arg}' must be a finite number >= 0, got ${String(v)}`);
  return v;
}

export interface CombinedLoss {
  /** ce + dice: the tensor to call backward() on */
  loss: Tensor;
  /** the (weighted) cross-entropy term, for logging */
  ce: Tensor;
  /** the Dice term, for logging */
  dice: Tensor;
}

/**
 * QuickNAT's loss: softmaxCrossEntropy(logits, labels, weights) + diceLoss(logits, labels, opts),
 * weighted 1:1. `weights` are per-pixel [N,H,W] (median-frequency class weight + ω0·boundary,
 * see train/weights.ts) or null. All three are scalars; ce and dice are part of loss's graph.
 */
export function combinedLoss(logits: Tensor, labels: Tensor, weights: Tensor | null = null, opts: DiceLossOptions = {}): CombinedLoss {
  const ce = softmaxCrossEntropy(logits, labels, weights);
  let dice: Tensor;
  try {
    dice = diceLoss(logits, labels, opts);
  } catch (e) {
    ce.dispose();
    throw e;
  }
  return { loss: add(ce, dice), ce, dice };
}
