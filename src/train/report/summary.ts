// The numbers of the reports, computed from a RunReport's per-volume Dice: mean ± std over the
// test volumes (the paper's Table 1), per-structure summaries, and the pairs that the Wilcoxon
// tests compare (by test volume, by structure).
import { mean, std } from '../stats.js';
import type { RunReport } from './types.js';

export interface MeanStd {
  n: number;
  mean: number;
  /** sample standard deviation (ddof = 1); NaN for n < 2 */
  std: number;
}

export function meanStd(values: readonly number[]): MeanStd {
  return { n: values.length, mean: values.length ? mean(values) : NaN, std: values.length > 1 ? std(values) : NaN };
}

/** Each test volume's mean foreground Dice, in the report's order. */
export const volumeScores = (r: RunReport): number[] => r.test.volumes.map((v) => v.meanDice);

/** Mean ± std over the test volumes of each volume's mean Dice (the paper's Table 1 entry). */
export const testSummary = (r: RunReport): MeanStd => meanStd(volumeScores(r));

export interface ClassSummary extends MeanStd {
  /** label index */
  label: number;
  name: string;
}

/** The Dice values of class `label` over the test volumes in which it is defined (not null). */
export function classValues(r: RunReport, label: number): number[] {
  const out: number[] = [];
  for (const v of r.test.volumes) {
    const d = v.dice[label];
    if (typeof d === 'number' && Number.isFinite(d)) out.push(d);
  }
  return out;
}

/** Per-structure Dice over the test volumes, for the foreground classes 1..K−1. */
export function classSummaries(r: RunReport): ClassSummary[] {
  return r.classes.slice(1).map((name, i) => ({ label: i + 1, name, ...meanStd(classValues(r, i + 1)) }));
}

export interface Pairs {
  /** what each pair is: a volume id or a structure name */
  keys: string[];
  /** the variant's values and the baseline's, pair by pair */
  x: number[];
  y: number[];
}

/** Per-volume mean Dice of `a` and `b` paired by volume id (volumes in both, in b's order). */
export function pairByVolume(a: RunReport, b: RunReport): Pairs {
  const av = new Map(a.test.volumes.map((v) => [v.id, v.meanDice]));
  const out: Pairs = { keys: [], x: [], y: [] };
  for (const v of b.test.volumes) {
    const x = av.get(v.id);
    if (x === undefined || !Number.isFinite(x) || !Number.isFinite(v.meanDice)) continue;
    out.keys.push(v.id);
    out.x.push(x);
    out.y.push(v.meanDice);
  }
  return out;
}

/** Per-structure mean Dice (over test volumes) of `a` and `b`, paired by structure. */
export function pairByStructure(a: RunReport, b: RunReport): Pairs {
  const sa = classSummaries(a);
  const sb = classSummaries(b);
  const out: Pairs = { keys: [], x: [], y: [] };
  sb.forEach((cb, i) => {
    const ca = sa[i];
    if (!ca || !Number.isFinite(ca.mean) || !Number.isFinite(cb.mean)) return;
    out.keys.push(cb.name);
    out.x.push(ca.mean);
    out.y.push(cb.mean);
  });
  return out;
}

/** Training throughput over the whole run: images / training seconds (epochs weighted by time). */
export function imagesPerSecond(r: RunReport): number {
  let images = 0;
  let seconds = 0;
  for (const e of r.training.epochs) {
    images += e.imagesPerSec * e.seconds;
    seconds += e.seconds;
  }
  return seconds > 0 ? images / seconds : NaN;
}

/** SE parameters as a share of the network without them, in %. */
export const seOverheadPercent = (r: RunReport): number => (r.parameters.total > r.parameters.se ? (100 * r.parameters.se) / (r.parameters.total - r.parameters.se) : NaN);
