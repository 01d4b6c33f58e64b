// The cost of scSE measured within one process (bench/train.ts --paired and its PyTorch twin,
// torch_train.py with "paired"): the network built twice, without SE and with scSE, stepped
// alternately (none then scSE, then scSE then none, ...), so that a drift in the machine's speed
// hits both alike. Two separate processes carry this VM's run-to-run drift (±10%) instead.

export interface PairedCost {
  pct: number; // median(scSE − none over the pairs) / median(none), in %
  noneMs: number; // median step time without SE
  scseMs: number; // median step time with scSE
  diffs: number[]; // scSE − none, per pair
  layout?: string; // torch: the memory layout of the pair
}

/** The middle element (the upper one of an even count). */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** PairedCost from the step times of the pairs, in pair order (none[i] and scse[i] ran back to back). */
export function pairedCost(none: number[], scse: number[]): PairedCost {
  if (none.length === 0 || none.length !== scse.length) throw new Error(`pairedCost: need as many scSE as none times (≥ 1), got ${none.length} and ${scse.length}`);
  const diffs = scse.map((t, i) => t - none[i]!);
  return { pct: (median(diffs) / median(none)) * 100, noneMs: median(none), scseMs: median(scse), diffs };
}
