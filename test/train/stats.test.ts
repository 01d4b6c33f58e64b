import { spawnSync } from 'node:child_process';

import { describe, expect, it } from 'vitest';

import { Rng } from '../../src/random.js';
import {
  type Alternative,
  erfc,
  mean,
  median,
  normalCdf,
  normalSf,
  rankAverage,
  std,
  summarize,
  wilcoxonNullPmf,
  wilcoxonSignedRank,
  type WilcoxonOptions,
} from '../../src/train/stats.js';

const PY = '/usr/bin/python3';
const scipyCheck = spawnSync(PY, ['-c', 'import scipy, sys; sys.stdout.write(scipy.__version__)'], { encoding: 'utf8' });
const hasScipy = scipyCheck.status === 0;
if (!hasScipy) console.log(`stats.test: skipping the scipy.stats.wilcoxon comparison: ${PY} cannot import scipy`);

const close = (a: number, b: number, rtol: number, what: string): void => {
  if (!(Math.abs(a - b) <= rtol * Math.abs(b))) throw new Error(`${what}: got ${a}, want ${b}`);
};

describe('mean, std, median, summarize', () => {
  it('sample std (ddof = 1) by default, population with ddof = 0', () => {
    const v = [2, 4, 4, 4, 5, 5, 7, 9]; // mean 5, Σ(x−m)² = 32
    expect(mean(v)).toBe(5);
    expect(std(v)).toBeCloseTo(Math.sqrt(32 / 7), 15);
    expect(std(v, 0)).toBe(2);
    expect(median(v)).toBe(4.5);
    expect(median([3, 1, 2])).toBe(2);
    expect(std([1])).toBeNaN();
    expect(mean([])).toBeNaN();
    const s = summarize([0.842, 0.865, 0.876, 0.882]);
    expect(s.n).toBe(4);
    expect(s.mean).toBeCloseTo(0.86625, 14);
    expect(s.std).toBeCloseTo(Math.sqrt(((0.842 - 0.86625) ** 2 + (0.865 - 0.86625) ** 2 + (0.876 - 0.86625) ** 2 + (0.882 - 0.86625) ** 2) / 3), 14);
    expect([s.median, s.min, s.max]).toEqual([(0.865 + 0.876) / 2, 0.842, 0.882]);
    expect(() => mean([1, NaN])).toThrow("mean: argument 'values' has NaN at 1; values must be finite numbers");
  });
});

describe('normal distribution and ranks', () => {
  it('known values', () => {
    close(normalSf(1.959963984540054), 0.025, 1e-13, 'sf(1.96)');
    close(normalCdf(-1), 0.15865525393145707, 1e-13, 'cdf(-1)');
    close(erfc(0.5), 0.4795001221869535, 1e-14, 'erfc(0.5)');
    close(erfc(3), 2.209049699858544e-5, 1e-13, 'erfc(3)');
    close(erfc(10), 2.088487583762545e-45, 1e-12, 'erfc(10)');
    expect(erfc(-1) + erfc(1)).toBeCloseTo(2, 15);
  });
  it('average ranks of ties', () => {
    expect(rankAverage([3, 1, 3, 2])).toEqual([3.5, 1, 3.5, 2]);
    expect(rankAverage([5, 5, 5])).toEqual([2, 2, 2]);
  });
  it('exact null distribution of W+ by dynamic programming', () => {
    // n = 3: subset sums of {1, 2, 3}: 0 1 2 3 3 4 5 6
    expect(Array.from(wilcoxonNullPmf(3))).toEqual([1, 1, 1, 2, 1, 1, 1].map((c) => c / 8));
    const p = wilcoxonNullPmf(20);
    expect(p.length).toBe(211);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
    expect(p[0]).toBe(2 ** -20);
    for (let w = 0; w < 211; w++) expect(p[w]).toBe(p[210 - w]); // symmetric about n(n+1)/4
  });
});

describe('wilcoxonSignedRank: textbook examples', () => {
  // Darwin's Zea mays data (cross- minus self-fertilized heights, in eighths of an inch), Fisher's
  // "The Design of Experiments"; W = 24, exact two-sided p = 1352/32768, as in SciPy's docs.
  const darwin = [6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75];
  it("Darwin's data: W = 24, p = 0.041259765625 (exact), one-sided W+ = 96, p = 0.0206298828125", () => {
    expect(wilcoxonSignedRank(darwin)).toEqual({ statistic: 24, pValue: 0.041259765625, method: 'exact' });
    expect(wilcoxonSignedRank(darwin, null, { alternative: 'greater' })).toMatchObject({ statistic: 96, pValue: 0.0206298828125 });
    const a = wilcoxonSignedRank(darwin, null, { method: 'approx' });
    expect(a.statistic).toBe(24);
    close(a.pValue, 0.04088813291185591, 1e-12, 'approx p');
  });
  it('Hollander & Wolfe, Example 3.1 (Hamilton depression scale): T+ = 40, one-sided p = 10/512', () => {
    // 10 of the 2^9 sign patterns have W+ >= 40 (their complements sum to <= 5): p = 0.01953125
    const x = [1.83, 0.5, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.3];
    const y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
    expect(wilcoxonSignedRank(x, y, { alternative: 'greater' })).toEqual({ statistic: 40, pValue: 10 / 512, method: 'exact' });
    expect(wilcoxonSignedRank(x, y)).toMatchObject({ statistic: 5, pValue: 20 / 512 });
    expect(wilcoxonSignedRank(y, x, { alternative: 'less' })).toMatchObject({ statistic: 5, pValue: 10 / 512 });
  });
  it('method choice: zeros and ties go to the normal approximation under auto', () => {
    expect(wilcoxonSignedRank([1, 2, 3, 0, -4]).method).toBe('approx'); // zero
    expect(wilcoxonSignedRank([1, 2, -2, 3, 4]).method).toBe('approx'); // tied |d|
    expect(wilcoxonSignedRank([1, 2, -2, 3, 4], null, { method: 'exact' }).method).toBe('exact');
    expect(wilcoxonSignedRank([1, 2, 0, 3, 4], null, { method: 'exact' }).method).toBe('approx');
    expect(wilcoxonSignedRank(Array.from({ length: 51 }, (_, i) => i + 1)).method).toBe('approx');
    expect(wilcoxonSignedRank(Array.from({ length: 50 }, (_, i) => i + 1)).method).toBe('exact');
  });
  it('edge cases and errors', () => {
    expect(wilcoxonSignedRank([])).toMatchObject({ statistic: NaN, pValue: NaN });
    expect(() => wilcoxonSignedRank([0, 0], [0, 0])).toThrow(/zeroMethod 'wilcox' does not work when every difference x − y is zero/);
    expect(wilcoxonSignedRank([0, 0, 0], null, { zeroMethod: 'zsplit' }).pValue).toBe(1);
    expect(() => wilcoxonSignedRank([1, 2], [1])).toThrow("wilcoxonSignedRank: arguments 'x' (2) and 'y' (1) must have the same length");
    expect(() => wilcoxonSignedRank([1, NaN])).toThrow(/argument 'x' has NaN at 1/);
    expect(() => wilcoxonSignedRank([1], null, { alternative: 'bigger' as Alternative })).toThrow(/argument 'alternative'/);
  });
});

interface Case {
  name: string;
  x: number[];
  y: number[];
  opts: WilcoxonOptions;
}

function cases(): Case[] {
  const r = new Rng(2024);
  const cont = (n: number, shift: number): [number[], number[]] => {
    const x = Array.from({ length: n }, () => 0.8 + 0.1 * r.normal());
    return [x, x.map((v) => v - shift + 0.05 * r.normal())];
  };
  // Dice-like scores rounded to 2 decimals: ties among |d| and some exact zeros
  const rounded = (n: number, shift: number, zeros: number): [number[], number[]] => {
    const x = Array.from({ length: n }, () => Math.round((0.8 + 0.1 * r.normal()) * 100) / 100);
    const y = x.map((v, i) => (i < zeros ? v : Math.round((v - shift + 0.03 * r.normal()) * 100) / 100));
    return [x, y];
  };
  const data: [string, [number[], number[]]][] = [
    ['n=12 continuous', cont(12, 0.02)],
    ['n=8 continuous', cont(8, -0.01)],
    ['n=25 continuous', cont(25, 0.01)],
    ['n=50 continuous (exact boundary)', cont(50, 0.005)],
    ['n=60 continuous', cont(60, 0.01)],
    ['n=12 ties, no zeros', rounded(12, 0.02, 0)],
    ['n=15 ties and zeros', rounded(15, 0.01, 3)],
    ['n=60 ties and zeros', rounded(60, 0.005, 6)],
    ['n=10 all positive', cont(10, 0.3)],
    ['n=9 with one zero', (() => {
      const [x, y] = cont(9, 0.01);
      y[4] = x[4]!;
      return [x, y] as [number[], number[]];
    })()],
  ];
  const out: Case[] = [];
  for (const [name, [x, y]] of data) {
    for (const alternative of ['two-sided', 'greater', 'less'] as const) {
      for (const zeroMethod of ['wilcox', 'pratt', 'zsplit'] as const) {
        for (const correction of [false, true]) {
          for (const method of ['auto', 'approx'] as const) out.push({ name, x, y, opts: { alternative, zeroMethod, correction, method } });
        }
      }
    }
  }
  // explicit 'exact' with tied |d| (SciPy 1.10 truncates W+) and without
  for (const alternative of ['two-sided', 'greater', 'less'] as const) {
    out.push({ name: 'exact with ties', x: data[5]![1][0], y: data[5]![1][1], opts: { alternative, method: 'exact' } });
    out.push({ name: 'exact n=25', x: data[2]![1][0], y: data[2]![1][1], opts: { alternative, method: 'exact' } });
  }
  return out;
}

describe.skipIf(!hasScipy)(`wilcoxonSignedRank against scipy.stats.wilcoxon (SciPy ${scipyCheck.stdout})`, () => {
  it('statistic and p-value on random paired samples (ties, zeros, n = 8..60, every option)', () => {
    const all = cases();
    const ours = all.map((c) => wilcoxonSignedRank(c.x, c.y, c.opts));
    // SciPy is asked for the method we used: identical except that our 'auto' picks 'approx' for
    // tied |d| where SciPy 1.10 would use the exact table with a truncated W+ (checked below)
    const code = `
import json, sys, warnings
warnings.simplefilter("ignore")
from scipy.stats import wilcoxon
out = []
for c in json.load(sys.stdin):
    r = wilcoxon(c["x"], c["y"], zero_method=c["zero"], correction=c["corr"], alternative=c["alt"], method=c["method"])
    out.append([float(r.statistic), float(r.pvalue)])
print(json.dumps(out))`;
    const input = all.map((c, i) => ({ x: c.x, y: c.y, zero: c.opts.zeroMethod ?? 'wilcox', corr: c.opts.correction ?? false, alt: c.opts.alternative, method: ours[i]!.method }));
    const res = spawnSync(PY, ['-c', code], { input: JSON.stringify(input), encoding: 'utf8' });
    expect(res.status, res.stderr).toBe(0);
    const ref = JSON.parse(res.stdout) as [number, number][];
    let exact = 0;
    all.forEach((c, i) => {
      const what = `${c.name} ${JSON.stringify(c.opts)}`;
      expect(ours[i]!.statistic, what).toBe(ref[i]![0]);
      close(ours[i]!.pValue, ref[i]![1], 1e-10, what);
      if (ours[i]!.method === 'exact') exact++;
    });
    expect(exact).toBeGreaterThan(40);
    expect(all.length).toBeGreaterThan(300);
  });
  it("SciPy 1.10 'auto' with tied |d| uses the exact table; ours uses the tie-corrected approximation", () => {
    const { x, y } = cases().find((c) => c.name === 'n=12 ties, no zeros')!;
    const res = spawnSync(PY, ['-c', 'import json,sys; from scipy.stats import wilcoxon; a=json.load(sys.stdin); r=wilcoxon(a[0],a[1]); print(json.dumps([float(r.statistic), float(r.pvalue)]))'], {
      input: JSON.stringify([x, y]),
      encoding: 'utf8',
    });
    const [s, p] = JSON.parse(res.stdout) as [number, number];
    const exact = wilcoxonSignedRank(x, y, { method: 'exact' });
    expect(exact.statistic).toBe(s);
    close(exact.pValue, p, 1e-12, 'explicit exact = SciPy auto');
    expect(wilcoxonSignedRank(x, y).method).toBe('approx');
  });
});
