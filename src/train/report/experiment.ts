// The report of an experiment grid (networks × SE variants), the paper's Table 1 and Figs. 2–4:
// Dice mean ± std per cell, parameter counts and SE overhead, Wilcoxon signed-rank p-values of
// each SE variant against the same network without SE (paired by test volume, and by
// structure), box plots, training curves and one overlay comparing no SE with scSE.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { wilcoxonSignedRank } from '../stats.js';
import { boxPlot } from '../plot/box.js';
import { lineCharts, type LineSeries } from '../plot/line.js';
import { overlayFigure } from '../plot/overlay.js';
import { seriesColor } from '../plot/palette.js';
import { fmtCount, fmtDelta, fmtDuration, fmtMeanStd, fmtP, fmtPercent, mdCell, mdTable, prettyJson, slug } from './format.js';
import { imagesPerSecond, meanStd, pairByStructure, pairByVolume, seOverheadPercent, testSummary, type Pairs } from './summary.js';
import { runReportJson, writeAtomic, writeRunReport } from './run.js';
import type { RunReport } from './types.js';

export const EXPERIMENT_REPORT_SCHEMA = 'scse.experiment-report/1';

export interface ExperimentCell {
  net: string;
  /** SE variant: 'none', 'cse', 'sse', 'scse' (or any other name) */
  se: string;
  report: RunReport;
}

export interface ExperimentReport {
  name: string;
  command?: string;
  createdAt: string;
  versions: RunReport['versions'];
  device: string;
  seed?: number;
  /** index = label; the cells' classes */
  classes: string[];
  cells: ExperimentCell[];
  /** the variant the others are tested against (default 'none') */
  baseline?: string;
  notes?: string;
}

export type PairedTest = (x: number[], y: number[]) => { pValue: number; statistic?: number };

export interface ExperimentReportOptions {
  /** paired test of a variant (x) against the baseline (y); default two-sided Wilcoxon signed-rank */
  test?: PairedTest;
  /** network whose no-SE and scSE overlays are compared (default: the first that has both) */
  overlayNet?: string;
  /** the variant compared with the baseline in the overlay (default 'scse') */
  overlayVariant?: string;
  /** also write each cell's run report into runs/<net>-<se>/ (default true) */
  cellReports?: boolean;
  /** Markdown appended at the end of report.md (e.g. a table of the individual runs) */
  appendix?: string;
}

const KNOWN = ['none', 'cse', 'sse', 'scse'];
const DISPLAY: Record<string, string> = { none: 'No SE', cse: 'cSE', sse: 'sSE', scse: 'scSE' };
export const variantName = (se: string): string => DISPLAY[se] ?? se;

/** Networks in order of first appearance; variants none, cse, sse, scse first, then the others. */
export function gridAxes(e: ExperimentReport): { nets: string[]; variants: string[] } {
  const nets = [...new Set(e.cells.map((c) => c.net))];
  const seen = [...new Set(e.cells.map((c) => c.se))];
  const variants = [...KNOWN.filter((v) => seen.includes(v)), ...seen.filter((v) => !KNOWN.includes(v))];
  return { nets, variants };
}

export const findCell = (e: ExperimentReport, net: string, se: string): ExperimentCell | undefined => e.cells.find((c) => c.net === net && c.se === se);

export interface Comparison {
  net: string;
  se: string;
  by: 'volume' | 'structure';
  pairs: Pairs;
  /** mean of x − y over the pairs */
  delta: number;
  pValue: number;
  statistic: number;
  /** why there is no p-value (e.g. every difference is zero) */
  error?: string;
}

const defaultTest: PairedTest = (x, y) => wilcoxonSignedRank(x, y);

/** Every variant against the baseline of the same network, paired by volume and by structure. */
export function comparisons(e: ExperimentReport, test: PairedTest = defaultTest): Comparison[] {
  const { nets, variants } = gridAxes(e);
  const baseline = e.baseline ?? 'none';
  const out: Comparison[] = [];
  for (const net of nets) {
    const base = findCell(e, net, baseline);
    if (!base) continue;
    for (const se of variants) {
      const cell = findCell(e, net, se);
      if (se === baseline || !cell) continue;
      for (const by of ['volume', 'structure'] as const) {
        const pairs = by === 'volume' ? pairByVolume(cell.report, base.report) : pairByStructure(cell.report, base.report);
        const delta = meanStd(pairs.x.map((x, i) => x - pairs.y[i]!)).mean;
        let pValue = NaN;
        let statistic = NaN;
        let error: string | undefined;
        try {
          const r = test(pairs.x, pairs.y);
          pValue = r.pValue;
          statistic = r.statistic ?? NaN;
        } catch (err) {
          error = err instanceof Error ? err.message : String(err);
        }
        out.push({ net, se, by, pairs, delta, pValue, statistic, ...(error ? { error } : {}) });
      }
    }
  }
  return out;
}

/** The overlay comparison: the chosen network's baseline and variant overlays of the same slice. */
function pickOverlay(e: ExperimentReport, opts: ExperimentReportOptions): { net: string; base: RunReport; other: RunReport; se: string } | null {
  const baseline = e.baseline ?? 'none';
  const se = opts.overlayVariant ?? 'scse';
  const nets = opts.overlayNet ? [opts.overlayNet] : gridAxes(e).nets;
  for (const net of nets) {
    const a = findCell(e, net, baseline)?.report.overlay;
    const b = findCell(e, net, se)?.report.overlay;
    if (!a || !b || a.H !== b.H || a.W !== b.W) continue;
    // same slice: same image and ground truth
    if (a.image.length !== b.image.length || a.image.some((v, i) => Math.abs(v - b.image[i]!) > 1e-6) || a.truth.some((v, i) => v !== b.truth[i])) continue;
    return { net, base: findCell(e, net, baseline)!.report, other: findCell(e, net, se)!.report, se };
  }
  return null;
}

/** The experiment's figures as PNG bytes by file name. */
export function experimentFigures(e: ExperimentReport, opts: ExperimentReportOptions = {}): Record<string, Buffer> {
  const { nets, variants } = gridAxes(e);
  const series = variants.map((v, i) => ({ name: variantName(v), color: seriesColor(i) }));
  const out: Record<string, Buffer> = {};
  const vGroups = e.cells.map((c) => ({ label: c.net, series: variantName(c.se), values: c.report.test.volumes.map((v) => v.meanDice) }));
  if (vGroups.some((g) => g.values.length)) {
    out['boxplot-volumes.png'] = boxPlot({ title: 'Mean Dice per test volume', yLabel: 'Dice', groups: vGroups, series, minWidth: 560 });
  }
  for (const net of nets) {
    const groups = variants.flatMap((se) => {
      const r = findCell(e, net, se)?.report;
      if (!r) return [];
      return r.classes.slice(1).map((label, k) => ({ label, series: variantName(se), values: r.test.volumes.map((v) => v.dice[k + 1] ?? null) }));
    });
    if (groups.some((g) => g.values.length)) out[`boxplot-${slug(net)}.png`] = boxPlot({ title: `${net}: Dice per structure`, yLabel: 'Dice', groups, series });
    const cells = variants.map((se, i) => ({ se, i, r: findCell(e, net, se)?.report })).filter((c) => c.r && c.r.training.epochs.length);
    if (cells.length) {
      const curve = (pick: (x: RunReport['training']['epochs'][number]) => number | undefined): LineSeries[] =>
        cells.map((c) => ({ name: variantName(c.se), color: seriesColor(c.i), x: c.r!.training.epochs.map((x) => x.epoch), y: c.r!.training.epochs.map((x) => pick(x) ?? null) }));
      const specs = [{ title: `${net}: training loss`, xLabel: 'epoch', yLabel: 'loss', integerX: true, series: curve((x) => x.trainLoss) }];
      if (cells.some((c) => c.r!.training.epochs.some((x) => Number.isFinite(x.valLoss)))) specs.push({ title: `${net}: validation loss`, xLabel: 'epoch', yLabel: 'loss', integerX: true, series: curve((x) => x.valLoss) });
      if (cells.some((c) => c.r!.training.epochs.some((x) => Number.isFinite(x.valDice)))) specs.push({ title: `${net}: validation Dice`, xLabel: 'epoch', yLabel: 'mean Dice', integerX: true, series: curve((x) => x.valDice) });
      out[`curves-${slug(net)}.png`] = lineCharts(specs, { width: 520, height: 360 });
    }
  }
  const ov = pickOverlay(e, opts);
  if (ov) {
    const a = ov.base.overlay!;
    const b = ov.other.overlay!;
    out['overlay.png'] = overlayFigure({
      flipRows: true, // superior (or anterior) up
      H: a.H,
      W: a.W,
      classNames: e.classes,
      panels: [
        { title: 'input', image: a.image },
        { title: 'ground truth', image: a.image, labels: a.truth },
        { title: `${ov.net} (${variantName(e.baseline ?? 'none')})`, image: a.image, labels: a.prediction },
        { title: `${ov.net} + ${variantName(ov.se)}`, image: b.image, labels: b.prediction },
      ],
    });
  }
  return out;
}

/** report.md of the experiment; `figures` names the PNGs written, `cellDirs` the run reports. */
export function experimentMarkdown(e: ExperimentReport, opts: ExperimentReportOptions = {}, figures: readonly string[] = [], cellDirs: Record<string, string> = {}): string {
  const { nets, variants } = gridAxes(e);
  const baseline = e.baseline ?? 'none';
  const header = ['Network', ...variants.map(variantName)];
  const align = ['l' as const, ...variants.map(() => 'r' as const)];
  let md = `# Experiment report: ${e.name}\n\n`;
  md += `Created ${e.createdAt} · scse ${e.versions.scse} · Node ${e.versions.node}${e.versions.onednn ? ` · oneDNN ${e.versions.onednn}` : ''} · device ${e.device}`;
  md += e.seed !== undefined ? ` · seed ${e.seed}\n\n` : '\n\n';
  if (e.command) md += '```\n' + e.command + '\n```\n\n';
  if (e.notes) md += `${e.notes}\n\n`;

  md += '## Dice (Table 1)\n\n';
  const rows = nets.map((net) => {
    const sums = variants.map((se) => {
      const c = findCell(e, net, se);
      return c ? testSummary(c.report) : null;
    });
    const best = Math.max(...sums.map((s) => (s && Number.isFinite(s.mean) ? Number(s.mean.toFixed(3)) : -Infinity)));
    return [mdCell(net), ...sums.map((s) => (s ? (Number(s.mean.toFixed(3)) === best ? `**${fmtMeanStd(s.mean, s.std)}**` : fmtMeanStd(s.mean, s.std)) : '—'))];
  });
  md += mdTable(header, rows, align);
  md += '\nMean ± sample std (ddof = 1) over the test volumes of each volume\'s mean foreground Dice; the best of each row in bold.\n\n';
  if (figures.includes('boxplot-volumes.png')) md += '![Mean Dice per test volume](boxplot-volumes.png)\n\n';

  const test = opts.test ?? defaultTest;
  const comps = comparisons(e, test);
  const others = variants.filter((v) => v !== baseline);
  for (const by of ['volume', 'structure'] as const) {
    md += by === 'volume' ? `## Paired tests by test volume\n\n` : `## Paired tests by structure\n\n`;
    const trows = nets.filter((net) => findCell(e, net, baseline)).map((net) => [
      mdCell(net),
      ...others.map((se) => {
        const c = comps.find((x) => x.net === net && x.se === se && x.by === by);
        return c ? `${fmtP(c.pValue)} (Δ ${fmtDelta(c.delta)}, n=${c.pairs.x.length})` : '—';
      }),
    ]);
    md += mdTable(['Network', ...others.map((v) => `${variantName(v)} vs ${variantName(baseline)}`)], trows, ['l', ...others.map(() => 'r' as const)]);
    md += by === 'volume'
      ? '\np-value of the paired test (default: two-sided Wilcoxon signed-rank) of the variant\'s per-volume mean Dice against the same network without SE, paired by test volume; Δ: mean difference (variant − baseline), n: pairs.\n\n'
      : '\nThe same, with each structure\'s mean Dice over the test volumes as the pairs.\n\n';
    const errs = comps.filter((c) => c.by === by && c.error);
    for (const c of errs) md += `- ${mdCell(c.net)} ${variantName(c.se)}: no p-value (${mdCell(c.error!)})\n`;
    if (errs.length) md += '\n';
  }

  md += '## Parameters\n\n';
  md += mdTable(
    header,
    nets.map((net) => [mdCell(net), ...variants.map((se) => {
      const c = findCell(e, net, se);
      if (!c) return '—';
      return c.report.parameters.se > 0 ? `${fmtCount(c.report.parameters.total)} (SE +${fmtPercent(seOverheadPercent(c.report))})` : fmtCount(c.report.parameters.total);
    })]),
    align,
  );
  md += '\nTotal trainable parameters; in parentheses the SE blocks\' parameters as a share of the network without them.\n\n';

  md += '## Training time\n\n';
  md += mdTable(
    header,
    nets.map((net) => [mdCell(net), ...variants.map((se) => {
      const c = findCell(e, net, se);
      return c ? `${fmtDuration(c.report.training.wallSeconds)}, ${imagesPerSecond(c.report).toFixed(1)} img/s` : '—';
    })]),
    align,
  );
  md += '\nWall time of each run and its training throughput (images per second over all epochs).\n\n';

  md += '## Figures\n\n';
  for (const net of nets) {
    const b = `boxplot-${slug(net)}.png`;
    const c = `curves-${slug(net)}.png`;
    if (figures.includes(b)) md += `![${net}: Dice per structure](${b})\n\n`;
    if (figures.includes(c)) md += `![${net}: training curves](${c})\n\n`;
  }
  if (figures.includes('overlay.png')) {
    const ov = pickOverlay(e, opts)!;
    md += `![Input, ground truth, ${ov.net} without SE and with ${variantName(ov.se)}](overlay.png)\n\n`;
    if (ov.base.overlay?.caption) md += `${ov.base.overlay.caption}\n\n`;
  }
  const dirs = Object.entries(cellDirs);
  if (dirs.length) {
    md += '## Runs\n\n';
    for (const [key, d] of dirs) md += `- [${mdCell(key)}](${d}/report.md)\n`;
    md += '\n';
  }
  if (opts.appendix) md += opts.appendix.endsWith('\n') ? opts.appendix : `${opts.appendix}\n`;
  return md;
}

/** The experiment as JSON data: each cell's RunReport without its overlay arrays, plus the tests. */
export function experimentJson(e: ExperimentReport, opts: ExperimentReportOptions = {}): Record<string, unknown> {
  return {
    schema: EXPERIMENT_REPORT_SCHEMA,
    ...e,
    cells: e.cells.map((c) => ({ net: c.net, se: c.se, report: runReportJson(c.report, { overlay: false }) })),
    comparisons: comparisons(e, opts.test ?? defaultTest).map((c) => ({ net: c.net, se: c.se, by: c.by, n: c.pairs.x.length, delta: c.delta, pValue: c.pValue, statistic: c.statistic, ...(c.error ? { error: c.error } : {}) })),
  };
}

/** Reads an experiment's report.json (or its folder); cells come back as RunReports without overlays. */
export function loadExperimentReport(path: string): ExperimentReport {
  const file = path.endsWith('.json') ? path : join(path, 'report.json');
  const j = JSON.parse(readFileSync(file, 'utf8')) as ExperimentReport & { schema?: string; comparisons?: unknown };
  if (j.schema !== EXPERIMENT_REPORT_SCHEMA) throw new Error(`loadExperimentReport: ${file} is not an experiment report (schema ${String(j.schema)})`);
  const { schema: _s, comparisons: _c, ...rest } = j;
  return { ...rest, cells: rest.cells.map((c) => ({ ...c, report: (({ schema: _x, ...r }) => r)(c.report as RunReport & { schema?: string }) })) };
}

/** Writes report.md, report.json, the figures and (by default) each cell's run report into `dir`. */
export function writeExperimentReport(dir: string, e: ExperimentReport, opts: ExperimentReportOptions = {}): { files: string[] } {
  if (!e || !Array.isArray(e.cells)) throw new TypeError('writeExperimentReport: experiment.cells must be an array');
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const cellDirs: Record<string, string> = {};
  if (opts.cellReports !== false) {
    for (const c of e.cells) {
      const sub = `runs/${slug(c.net)}-${slug(c.se)}`;
      const r = writeRunReport(join(dir, sub), c.report);
      files.push(...r.files.map((f) => `${sub}/${f}`));
      cellDirs[`${c.net} ${variantName(c.se)}`] = sub;
    }
  }
  const figures = experimentFigures(e, opts);
  for (const [name, png] of Object.entries(figures)) writeAtomic(join(dir, name), png);
  writeAtomic(join(dir, 'report.json'), prettyJson(experimentJson(e, opts)) + '\n');
  writeAtomic(join(dir, 'report.md'), experimentMarkdown(e, opts, Object.keys(figures), cellDirs));
  files.push(...Object.keys(figures), 'report.json', 'report.md');
  return { files };
}

