// Statistics of the evaluation: mean ± std over test volumes and the Wilcoxon signed-rank test
// for paired samples (the paper compares each SE variant with its baseline, volume by volume).
import { OpArgumentError } from '../errors.js';

function values(op: string, arg: string, v: ArrayLike<number>): number[] {
  if (v === null || typeof v !== 'object' || typeof v.length !== 'number') throw new OpArgumentError(op, `argument '${arg}' must be an array of numbers`);
  const out = Array.from(v);
  out.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new OpArgumentError(op, `argument '${arg}' has ${String(x)} at ${i}; values must be finite numbers`);
  });
  return out;
}

/** Arithmetic mean (NaN for no values). */
export function mean(v: ArrayLike<number>): number {
  const a = values('mean', 'values', v);
  if (a.length === 0) return NaN;
  let s = 0;
  for (const x of a) s += x;
  return s / a.length;
}

/**
 * Standard deviation with `ddof` delta degrees of freedom: sqrt(Σ(x − mean)² / (n − ddof)).
 * Default ddof = 1, the sample standard deviation (numpy.std(x, ddof=1), R's sd, pandas' std):
 * what "mean ± std over the test volumes" estimates for the population of volumes. Note that
 * numpy.std defaults to ddof = 0, which is smaller by sqrt((n−1)/n) (3.4% for n = 15 volumes).
 * NaN when n ≤ ddof.
 */
export function std(v: ArrayLike<number>, ddof = 1): number {
  const a = values('std', 'values', v);
  if (!Number.isInteger(ddof) || ddof < 0) throw new OpArgumentError('std', `argument 'ddof' must be an integer >= 0, got ${ddof}`);
  if (a.length <= ddof) return NaN;
  const m = mean(a);
  let s = 0;
  for (const x of a) s += (x - m) * (x - m);
  return Math.sqrt(s / (a.length - ddof));
}

/** numpy.median (mean of the two middle values for an even count; NaN for no values). */
export function median(v: ArrayLike<number>): number {
  const a = values('median', 'values', v).sort((p, q) => p - q);
  if (a.length === 0) return NaN;
  const m = a.length >> 1;
  return a.length % 2 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
}

export interface Summary {
  n: number;
  mean: number;
  /** sample standard deviation (ddof = 1) */
  std: number;
  median: number;
  min: number;
  max: number;
}

/** n, mean, sample std (ddof = 1), median, min and max of a list of values (e.g. per-volume Dice). */
export function summarize(v: ArrayLike<number>): Summary {
  const a = values('summarize', 'values', v);
  return {
    n: a.length,
    mean: mean(a),
    std: std(a),
    median: median(a),
    min: a.length ? Math.min(...a) : NaN,
    max: a.length ? Math.max(...a) : NaN,
  };
}

// ---- normal distribution -----------------------------------------------------------------

const SQRT_PI = Math.sqrt(Math.PI);

/**
 * erfc(x) to ~1e-14 relative accuracy: below 1 from erf's all-positive series
 * erf(x) = (2/√π) e^(−x²) Σ 2ⁿ x^(2n+1) / (1·3···(2n+1)); from 1 on from the continued fraction
 * √π e^(x²) erfc(x) = 1/(x + (1/2)/(x + (2/2)/(x + (3/2)/(x + ...)))) (modified Lentz).
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 1) {
    let term = x;
    let sum = x;
    for (let n = 0; n < 200 && term > sum * 1e-17; n++) {
      term *= (2 * x * x) / (2 * n + 3);
      sum += term;
    }
    return 1 - ((2 / SQRT_PI) * Math.exp(-x * x)) * sum;
  }
  if (x > 27) return 0; // below the smallest double
  const tiny = 1e-300;
  let f = x;
  let C = f;
  let D = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    D = x + a * D;
    D = Math.abs(D) < tiny ? 1 / tiny : 1 / D;
    C = x + a / C;
    if (Math.abs(C) < tiny) C = tiny;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / (SQRT_PI * f);
}

/** P(Z > z) for a standard normal Z. */
export function normalSf(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/** P(Z ≤ z) for a standard normal Z. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

// ---- Wilcoxon signed-rank test -----------------------------------------------------------

export type Alternative = 'two-sided' | 'greater' | 'less';

export interface WilcoxonOptions {
  /** 'greater': x − y tends to be positive. Default 'two-sided'. */
  alternative?: Alternative;
  /**
   * Zero differences: 'wilcox' drops them (default); 'pratt' ranks them with the others and then
   * drops their ranks; 'zsplit' ranks them and splits their rank sum between W+ and W−.
   */
  zeroMethod?: 'wilcox' | 'pratt' | 'zsplit';
  /** continuity correction of the normal approximation (±0.5 toward the mean). Default false. */
  correction?: boolean;
  /** Default 'auto': 'exact' for n ≤ 50 pairs without zero or tied differences, else 'approx'. */
  method?: 'auto' | 'exact' | 'approx';
}

export interface WilcoxonResult {
  /** two-sided: min(W+, W−); one-sided: W+ (the sum of the ranks of the positive differences) */
  statistic: number;
  pValue: number;
  /** the method actually used ('exact' falls back to 'approx' when there are zeros, as SciPy) */
  method: 'exact' | 'approx';
  /** the normal deviate (approx only) */
  z?: number;
}

/** Ranks 1..n of the values with ties given their average rank (scipy.stats.rankdata 'average'). */
export function rankAverage(v: readonly number[]): number[] {
  const idx = v.map((_, i) => i).sort((a, b) => v[a]! - v[b]!);
  const r = new Array<number>(v.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && v[idx[j + 1]!] === v[idx[i]!]) j++;
    const avg = (i + j + 2) / 2; // ranks i+1 .. j+1
    for (let k = i; k <= j; k++) r[idx[k]!] = avg;
    i = j + 1;
  }
  return r;
}

/**
 * Null distribution of W+ for n untied ranks: P(W+ = w), w = 0..n(n+1)/2. Built rank by rank,
 * c_k(w) = ½ c_{k−1}(w) + ½ c_{k−1}(w − k), the dynamic programme over subset sums of {1..n}
 * (in probabilities, the same recurrence as SciPy's, so the values agree bit for bit).
 */
export function wilcoxonNullPmf(n: number): Float64Array {
  let c = new Float64Array([1]);
  for (let k = 1; k <= n; k++) {
    const next = new Float64Array((k * (k + 1)) / 2 + 1);
    for (let w = 0; w < c.length; w++) {
      next[w]! += 0.5 * c[w]!;
      next[w + k]! += 0.5 * c[w]!;
    }
    c = next;
  }
  return c;
}

/**
 * Wilcoxon signed-rank test of paired samples x, y (or of differences x alone when y is null):
 * H0 = the differences x − y are symmetric about 0. Follows scipy.stats.wilcoxon of SciPy 1.10
 * (Debian 12): same statistic, zero methods, tie-corrected normal approximation
 * (variance n(n+1)(2n+1)/24 − Σ t(t²−1)/48 over tie groups of size t; 'pratt' also subtracts the
 * zeros' share, Cureton 1967), continuity correction and exact p-values (2·min of the two tails
 * for two-sided, 1 at the centre of the distribution). One deliberate difference: SciPy 1.10's
 * 'auto' uses the exact distribution for n ≤ 50 even with tied |differences|, truncating a
 * fractional W+ to an integer; here 'auto' switches to the (tie-corrected) normal approximation
 * when there are ties, as the exact null distribution assumes distinct ranks. An explicit
 * method 'exact' with ties behaves as SciPy 1.10 (W+ truncated). With zeros, 'exact' falls back
 * to 'approx' (as SciPy). Empty input gives NaN; all-zero differences with 'wilcox' or 'pratt'
 * throw (as SciPy).
 */
export function wilcoxonSignedRank(x: ArrayLike<number>, y: ArrayLike<number> | null = null, opts: WilcoxonOptions = {}): WilcoxonResult {
  const OP = 'wilcoxonSignedRank';
  const alternative = opts.alternative ?? 'two-sided';
  const zeroMethod = opts.zeroMethod ?? 'wilcox';
  const correction = opts.correction ?? false;
  const requested = opts.method ?? 'auto';
  if (!['two-sided', 'greater', 'less'].includes(alternative)) throw new OpArgumentError(OP, `argument 'alternative' must be 'two-sided', 'greater' or 'less', got ${String(alternative)}`);
  if (!['wilcox', 'pratt', 'zsplit'].includes(zeroMethod)) throw new OpArgumentError(OP, `argument 'zeroMethod' must be 'wilcox', 'pratt' or 'zsplit', got ${String(zeroMethod)}`);
  if (!['auto', 'exact', 'approx'].includes(requested)) throw new OpArgumentError(OP, `argument 'method' must be 'auto', 'exact' or 'approx', got ${String(requested)}`);
  const xs = values(OP, 'x', x);
  let d: number[];
  if (y === null || y === undefined) d = xs;
  else {
    const ys = values(OP, 'y', y);
    if (ys.length !== xs.length) throw new OpArgumentError(OP, `arguments 'x' (${xs.length}) and 'y' (${ys.length}) must have the same length`);
    d = xs.map((v, i) => v - ys[i]!);
  }
  if (d.length === 0) return { statistic: NaN, pValue: NaN, method: requested === 'approx' ? 'approx' : 'exact' };

  const nZero = d.filter((v) => v === 0).length;
  const nonzeroAbs = d.filter((v) => v !== 0).map(Math.abs);
  const hasTies = new Set(nonzeroAbs).size < nonzeroAbs.length;
  let method: 'exact' | 'approx';
  if (requested === 'auto') method = d.length <= 50 && nZero === 0 && !hasTies ? 'exact' : 'approx';
  else method = requested === 'exact' && nZero === 0 ? 'exact' : 'approx';

  if (method === 'approx') {
    if (zeroMethod !== 'zsplit' && nZero === d.length) {
      throw new OpArgumentError(OP, `zeroMethod '${zeroMethod}' does not work when every difference x − y is zero`);
    }
    if (zeroMethod === 'wilcox') d = d.filter((v) => v !== 0);
  }
  const count = d.length;
  let r = rankAverage(d.map(Math.abs));
  let rPlus = 0;
  let rMinus = 0;
  let rZero = 0;
  d.forEach((v, i) => {
    if (v > 0) rPlus += r[i]!;
    else if (v < 0) rMinus += r[i]!;
    else rZero += r[i]!;
  });
  if (zeroMethod === 'zsplit') {
    rPlus += rZero / 2;
    rMinus += rZero / 2;
  }
  const T = alternative === 'two-sided' ? Math.min(rPlus, rMinus) : rPlus;

  if (method === 'approx') {
    let mn = count * (count + 1) * 0.25;
    let se = count * (count + 1) * (2 * count + 1);
    if (zeroMethod === 'pratt') {
      r = r.filter((_, i) => d[i] !== 0);
      mn -= nZero * (nZero + 1) * 0.25;
      se -= nZero * (nZero + 1) * (2 * nZero + 1);
    }
    // tie correction: groups of equal ranks (= equal |d|)
    const groups = new Map<number, number>();
    for (const v of r) groups.set(v, (groups.get(v) ?? 0) + 1);
    for (const t of groups.values()) if (t > 1) se -= 0.5 * t * (t * t - 1);
    se = Math.sqrt(se / 24);
    let cc = 0;
    if (correction) {
      if (alternative === 'two-sided') cc = 0.5 * Math.sign(T - mn);
      else cc = alternative === 'less' ? -0.5 : 0.5;
    }
    const z = (T - mn - cc) / se;
    const pValue = alternative === 'two-sided' ? 2 * normalSf(Math.abs(z)) : alternative === 'greater' ? normalSf(z) : normalCdf(z);
    return { statistic: T, pValue, method, z };
  }

  const pmf = wilcoxonNullPmf(count);
  const w = Math.trunc(rPlus); // integer without ties; SciPy 1.10 truncates otherwise
  const lower = (): number => pmf.subarray(0, w + 1).reduce((a, b) => a + b, 0);
  const upper = (): number => pmf.subarray(w).reduce((a, b) => a + b, 0);
  let p: number;
  if (alternative === 'two-sided') p = w === Math.floor((pmf.length - 1) / 2) ? 1 : 2 * Math.min(lower(), upper());
  else p = alternative === 'greater' ? upper() : lower();
  return { statistic: T, pValue: Math.min(1, Math.max(0, p)), method };
}
