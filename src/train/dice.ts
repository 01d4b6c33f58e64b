// Evaluation Dice: per-structure 2|A∩B| / (|A| + |B|) on label volumes (or any label arrays),
// and each volume's mean over foreground structures — the number the paper's Table 1 averages.

/**
 * Dice of every class 0..K-1. A class absent from both truth and prediction has no defined Dice
 * and gives null (it is left out of means); absent from one of them gives 0.
 */
export function dicePerClass(pred: Int32Array, truth: Int32Array, K: number): (number | null)[] {
  if (pred.length !== truth.length) throw new Error(`dicePerClass: prediction has ${pred.length} voxels, truth ${truth.length}`);
  const inter = new Float64Array(K);
  const np = new Float64Array(K);
  const nt = new Float64Array(K);
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i]!;
    const t = truth[i]!;
    if (p >= 0 && p < K) np[p]++;
    if (t >= 0 && t < K) nt[t]++;
    if (p === t && p >= 0 && p < K) inter[p]++;
  }
  const out: (number | null)[] = [];
  for (let c = 0; c < K; c++) out.push(np[c]! + nt[c]! === 0 ? null : (2 * inter[c]!) / (np[c]! + nt[c]!));
  return out;
}

/** Mean of the defined per-class Dice values, background (class 0) excluded unless asked. */
export function meanDice(dice: (number | null)[], includeBackground = false): number {
  const vals = dice.filter((d, c): d is number => d !== null && (includeBackground || c > 0));
  return vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : Number.NaN;
}

/** Argmax over the last axis of NHWC logits: [N,H,W,K] -> Int32Array of N*H*W labels. */
export function argmaxLast(logits: Float32Array, K: number): Int32Array {
  const n = logits.length / K;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bv = logits[i * K]!;
    for (let k = 1; k < K; k++) {
      const v = logits[i * K + k]!;
      if (v > bv) {
        bv = v;
        best = k;
      }
    }
    out[i] = best;
  }
  return out;
}
