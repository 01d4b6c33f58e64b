import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { loadExperimentReport, loadRunReport, writeExperimentReport, writeRunReport, type ExperimentReport, type RunReport } from '../../src/train/report.js';
import { wilcoxonSignedRank } from '../../src/train/stats.js';
import { syntheticRun } from './report-fixture.js';

const root = mkdtempSync(join(tmpdir(), 'scse-report-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// ---- independent arithmetic (not the report's own helpers) --------------------------------
const avg = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
const sd = (v: number[]): number => {
  const m = avg(v);
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
};
const pm = (v: number[]): string => `${avg(v).toFixed(3)} ± ${sd(v).toFixed(3)}`;
const pStr = (p: number): string => (p >= 0.001 ? p.toFixed(4) : p.toExponential(2));

/** The cells of the table row whose first cell is `first`, in the section titled `section`. */
function row(md: string, section: string, first: string): string[] {
  const start = md.indexOf(`## ${section}\n`);
  expect(start, `section '${section}'`).toBeGreaterThanOrEqual(0);
  const end = md.indexOf('\n## ', start + 3);
  const body = md.slice(start, end < 0 ? undefined : end);
  const line = body.split('\n').find((l) => l.startsWith(`| ${first} |`));
  expect(line, `row '${first}' in '${section}'`).toBeDefined();
  return line!.slice(2, -2).split(' | ').map((c) => c.replace(/\*\*/g, ''));
}

function png(file: string): PNG {
  return PNG.sync.read(readFileSync(file));
}

/** A PNG with more than a blank page: several distinct colours, not all white. */
function expectContent(p: PNG): void {
  const colours = new Set<number>();
  let nonWhite = 0;
  for (let i = 0; i < p.data.length; i += 4) {
    colours.add((p.data[i]! << 16) | (p.data[i + 1]! << 8) | p.data[i + 2]!);
    if (p.data[i]! + p.data[i + 1]! + p.data[i + 2]! < 700) nonWhite++;
  }
  expect(colours.size).toBeGreaterThan(20);
  expect(nonWhite).toBeGreaterThan(500);
}

describe('writeRunReport', () => {
  it('gives mean ± sample std of the volumes\' mean Dice for a hand-made report', () => {
    const r = syntheticRun({ overlay: false });
    r.classes = ['background', 'a', 'b'];
    r.test.volumes = [
      { id: 'v1', dice: [1, 0.7, 0.9], meanDice: 0.8 },
      { id: 'v2', dice: [1, 0.9, null], meanDice: 0.9 },
      { id: 'v3', dice: [1, 0.6, 0.8], meanDice: 0.7 },
    ];
    const dir = join(root, 'hand');
    writeRunReport(dir, r);
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    // mean 0.8, std sqrt((0.01 + 0.01) / 2) = 0.1
    expect(row(md, 'Test Dice', '3')).toEqual(['3', '0.800 ± 0.100']);
    // a: 0.7, 0.9, 0.6 → mean 0.7333, sd 0.1528; b: 0.9, 0.8 (v2 absent) → 0.85 ± 0.0707
    expect(row(md, 'Dice per structure', '1')).toEqual(['1', 'a', '0.733 ± 0.153', '3']);
    expect(row(md, 'Dice per structure', '2')).toEqual(['2', 'b', '0.850 ± 0.071', '2']);
    expect(existsSync(join(dir, 'overlay.png'))).toBe(false);
    expect(md).not.toContain('overlay.png');
    const json = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    expect(json.test.mean).toBeCloseTo(0.8, 12);
    expect(json.test.std).toBeCloseTo(0.1, 12);
  });

  it('writes report.md whose numbers equal those recomputed from report.json, and readable PNGs', () => {
    const dir = join(root, 'run');
    const { files } = writeRunReport(dir, syntheticRun({ name: 'unet-scse', volumes: 9 }));
    expect(files.sort()).toEqual(['boxplot.png', 'curves.png', 'overlay.png', 'report.json', 'report.md']);
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    const j = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as RunReport;

    const scores = j.test.volumes.map((v) => v.meanDice);
    expect(row(md, 'Test Dice', String(scores.length))).toEqual([String(scores.length), pm(scores)]);
    j.classes.slice(1).forEach((name, i) => {
      const vals = j.test.volumes.map((v) => v.dice[i + 1]).filter((d): d is number => d !== null);
      expect(row(md, 'Dice per structure', String(i + 1))).toEqual([String(i + 1), name, pm(vals), String(vals.length)]);
    });
    for (const v of j.test.volumes) expect(row(md, 'Test volumes', v.id)).toEqual([v.id, v.meanDice.toFixed(3)]);
    // parameters and SE overhead relative to the network without SE
    const { total, se } = j.parameters;
    expect(row(md, 'Model', total.toLocaleString('en-US'))).toEqual([total.toLocaleString('en-US'), se.toLocaleString('en-US'), `${((100 * se) / (total - se)).toFixed(2)} %`]);
    // throughput: all images over all training seconds
    const ips = j.training.epochs.reduce((a, e) => a + e.imagesPerSec * e.seconds, 0) / j.training.epochs.reduce((a, e) => a + e.seconds, 0);
    expect(md).toContain(`${ips.toFixed(1)} images/s`);
    expect(md).toContain(`${j.training.epochs.length} epochs`);
    expect(md).toContain('```\nscse train --model unet');
    expect(md).toContain('| optimizer.momentum | 0.9 |');
    for (const f of ['curves.png', 'boxplot.png', 'overlay.png']) expect(md).toContain(`](${f})`);

    const curves = png(join(dir, 'curves.png'));
    expect([curves.width, curves.height]).toEqual([3 * 560, 380]); // loss, val Dice, lr (it changes)
    expectContent(curves);
    expectContent(png(join(dir, 'boxplot.png')));
    const ov = png(join(dir, 'overlay.png'));
    expect(ov.width).toBeGreaterThanOrEqual(3 * 56 * 5); // three panels of 56 px, scaled ×5
    expectContent(ov);
  });

  it('round-trips through report.json with the overlay arrays restored', () => {
    const r = syntheticRun({ name: 'rt' });
    const dir = join(root, 'rt');
    writeRunReport(dir, r);
    const back = loadRunReport(dir);
    expect(back.overlay!.image).toBeInstanceOf(Float32Array);
    expect(back.overlay!.truth).toBeInstanceOf(Int32Array);
    expect(Array.from(back.overlay!.truth)).toEqual(Array.from(r.overlay!.truth));
    expect(Array.from(back.overlay!.prediction)).toEqual(Array.from(r.overlay!.prediction));
    back.overlay!.image.forEach((v, i) => expect(Math.abs(v - r.overlay!.image[i]!)).toBeLessThan(1e-5));
    expect(back.test.volumes).toEqual(r.test.volumes);
    expect(back.training).toEqual(JSON.parse(JSON.stringify(r.training)));
    expect(() => loadRunReport(join(root, 'nope.json'))).toThrow();
  });
});

describe('writeExperimentReport', () => {
  const nets = ['unet', 'sdnet'];
  const variants = ['none', 'cse', 'sse', 'scse'];
  const cells = nets.flatMap((net, ni) =>
    variants.map((se, si) => {
      const report = syntheticRun({ name: `${net}-${se}`, seed: 100 + 7 * ni + si, shift: 0.01 * si, volumes: 10, seParams: se === 'none' ? 0 : 500 * (si + 1) });
      // a different volume order in one cell: pairing must go by id, not by position
      if (net === 'unet' && se === 'sse') report.test.volumes.reverse();
      return { net, se, report };
    }),
  );
  const experiment: ExperimentReport = { name: 'grid', createdAt: '2024-01-02T03:04:05Z', versions: { scse: '0.1.0', node: 'v20' }, device: 'cpu', seed: 3, classes: cells[0]!.report.classes, cells };
  const dir = join(root, 'exp');
  const { files } = writeExperimentReport(dir, experiment);
  const md = readFileSync(join(dir, 'report.md'), 'utf8');
  const json = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
  const cell = (net: string, se: string): RunReport => json.cells.find((c: { net: string; se: string }) => c.net === net && c.se === se).report;

  /** the pairs, built here from report.json: variant x, baseline y */
  function byVolume(net: string, se: string): [number[], number[]] {
    const base = cell(net, 'none').test.volumes;
    const other = new Map(cell(net, se).test.volumes.map((v) => [v.id, v.meanDice]));
    return [base.map((v) => other.get(v.id)!), base.map((v) => v.meanDice)];
  }
  function byStructure(net: string, se: string): [number[], number[]] {
    const m = (r: RunReport, c: number): number => avg(r.test.volumes.map((v) => v.dice[c]).filter((d): d is number => d !== null));
    const ks = [1, 2, 3, 4];
    return [ks.map((k) => m(cell(net, se), k)), ks.map((k) => m(cell(net, 'none'), k))];
  }

  it('writes the figures and each cell\'s run report', () => {
    for (const f of ['report.md', 'report.json', 'boxplot-volumes.png', 'boxplot-unet.png', 'boxplot-sdnet.png', 'curves-unet.png', 'curves-sdnet.png', 'overlay.png', 'runs/unet-scse/report.md', 'runs/sdnet-none/curves.png']) {
      expect(files).toContain(f);
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    for (const f of files.filter((x) => x.endsWith('.png'))) expectContent(png(join(dir, f)));
    // the overlay: input, truth, no SE, scSE
    const ov = png(join(dir, 'overlay.png'));
    expect(ov.width).toBeGreaterThanOrEqual(4 * 56 * 5);
  });

  it('has a Table 1 whose cells equal mean ± std recomputed from report.json', () => {
    expect(row(md, 'Dice (Table 1)', 'Network')).toEqual(['Network', 'No SE', 'cSE', 'sSE', 'scSE']);
    for (const net of nets) {
      expect(row(md, 'Dice (Table 1)', net)).toEqual([net, ...variants.map((se) => pm(cell(net, se).test.volumes.map((v) => v.meanDice)))]);
    }
    // the best mean of a row is bold
    const raw = md.split('\n').find((l) => l.startsWith('| unet |') && l.includes('±'))!;
    const means = variants.map((se) => avg(cell('unet', se).test.volumes.map((v) => v.meanDice)));
    const best = variants[means.indexOf(Math.max(...means))]!;
    const rawCells = raw.slice(2, -2).split(' | ');
    expect(rawCells[1 + variants.indexOf(best)]).toMatch(/^\*\*.*\*\*$/);
    expect(rawCells.filter((c) => c.startsWith('**'))).toHaveLength(1);
  });

  it('has p-values of each variant against the same network without SE, by volume and by structure', () => {
    for (const net of nets) {
      const volumeCells = row(md, 'Paired tests by test volume', net).slice(1);
      const structureCells = row(md, 'Paired tests by structure', net).slice(1);
      ['cse', 'sse', 'scse'].forEach((se, i) => {
        for (const [cells, [x, y]] of [[volumeCells, byVolume(net, se)], [structureCells, byStructure(net, se)]] as const) {
          const p = wilcoxonSignedRank(x, y).pValue;
          const d = avg(x.map((v, k) => v - y[k]!));
          expect(cells[i]).toBe(`${pStr(p)} (Δ ${d >= 0 ? '+' : '-'}${Math.abs(d).toFixed(3)}, n=${x.length})`);
        }
      });
    }
    const c = json.comparisons.find((k: { net: string; se: string; by: string }) => k.net === 'unet' && k.se === 'sse' && k.by === 'volume');
    expect(c.pValue).toBe(wilcoxonSignedRank(...byVolume('unet', 'sse')).pValue);
  });

  it('passes the supplied test the variant first and the baseline second, paired by volume id', () => {
    const calls: [number[], number[]][] = [];
    const md2 = (() => {
      const d = join(root, 'exp-spy');
      writeExperimentReport(d, experiment, { cellReports: false, test: (x, y) => (calls.push([x, y]), { pValue: 0.5 }) });
      return readFileSync(join(d, 'report.md'), 'utf8');
    })();
    expect(md2).not.toContain('runs/');
    expect(calls.length).toBe(2 * 2 * 3 * 2); // markdown and json, 2 nets × 3 variants × 2 pairings
    expect(calls[0]).toEqual(byVolume('unet', 'cse'));
    expect(calls[1]).toEqual(byStructure('unet', 'cse'));
    expect(calls[2]).toEqual(byVolume('unet', 'sse'));
    expect(row(md2, 'Paired tests by test volume', 'unet')[1]).toMatch(/^0\.5000 \(Δ/);
  });

  it('shows parameters with the SE overhead and reports a test that fails as n/a', () => {
    for (const net of nets) {
      expect(row(md, 'Parameters', net)).toEqual([
        net,
        ...variants.map((se) => {
          const { total, se: s } = cell(net, se).parameters;
          return s > 0 ? `${total.toLocaleString('en-US')} (SE +${((100 * s) / (total - s)).toFixed(2)} %)` : total.toLocaleString('en-US');
        }),
      ]);
    }
    // identical runs: every difference is zero and the Wilcoxon test throws
    const same = syntheticRun({ seed: 5, overlay: false });
    const d = join(root, 'exp-same');
    writeExperimentReport(d, { ...experiment, cells: [{ net: 'n', se: 'none', report: same }, { net: 'n', se: 'scse', report: same }] }, { cellReports: false });
    const m = readFileSync(join(d, 'report.md'), 'utf8');
    expect(row(m, 'Paired tests by test volume', 'n')[1]).toBe('n/a (Δ +0.000, n=8)');
    expect(m).toMatch(/- n scSE: no p-value \(.*zero/);
    expect(existsSync(join(d, 'overlay.png'))).toBe(false);
  });

  it('loads back from report.json', () => {
    const back = loadExperimentReport(dir);
    expect(back.cells.map((c) => `${c.net}/${c.se}`)).toEqual(cells.map((c) => `${c.net}/${c.se}`));
    expect(back.cells[0]!.report.test.volumes).toEqual(cells[0]!.report.test.volumes);
    expect(back.cells[0]!.report.overlay).toBeUndefined();
  });
});
