// The report of one training run: report.md (tables), report.json (the RunReport, typed arrays
// as plain arrays) and the figures curves.png, boxplot.png and overlay.png, written into a folder.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { boxPlot } from '../plot/box.js';
import { lineCharts, type LineChartSpec } from '../plot/line.js';
import { overlayFigure } from '../plot/overlay.js';
import { flattenConfig, fmtCount, fmtDice, fmtDuration, fmtMeanStd, fmtNumber, fmtPercent, mdCell, mdTable, prettyJson } from './format.js';
import { classSummaries, imagesPerSecond, seOverheadPercent, testSummary } from './summary.js';
import type { RunReport } from './types.js';

export const RUN_REPORT_SCHEMA = 'scse.run-report/1';

/** Writes a file through a temporary name, so a reader never sees half a report. */
export function writeAtomic(file: string, data: string | Buffer): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

/**
 * The RunReport as plain JSON data: typed arrays become arrays (the overlay image rounded to
 * 5 decimals, far below what a figure shows), test.mean/test.std are the values recomputed from
 * the volumes (the ones in the markdown). `overlay: false` leaves the overlay out.
 */
export function runReportJson(r: RunReport, opts: { overlay?: boolean } = {}): Record<string, unknown> {
  const s = testSummary(r);
  const { overlay, ...rest } = r;
  const out: Record<string, unknown> = { schema: RUN_REPORT_SCHEMA, ...rest, test: { ...r.test, mean: s.mean, std: s.std } };
  if (overlay && opts.overlay !== false) {
    out.overlay = {
      ...overlay,
      image: Array.from(overlay.image, (v) => Math.round(v * 1e5) / 1e5),
      truth: Array.from(overlay.truth),
      prediction: Array.from(overlay.prediction),
    };
  }
  return out;
}

/** The RunReport from report.json (or its folder), typed arrays restored. */
export function loadRunReport(path: string): RunReport {
  const file = path.endsWith('.json') ? path : join(path, 'report.json');
  const j = JSON.parse(readFileSync(file, 'utf8')) as RunReport & { schema?: string; overlay?: { image: number[]; truth: number[]; prediction: number[] } };
  if (j.schema !== RUN_REPORT_SCHEMA) throw new Error(`loadRunReport: ${file} is not a run report (schema ${String(j.schema)}, expected ${RUN_REPORT_SCHEMA})`);
  delete j.schema;
  if (j.overlay) {
    j.overlay = { ...j.overlay, image: Float32Array.from(j.overlay.image), truth: Int32Array.from(j.overlay.truth), prediction: Int32Array.from(j.overlay.prediction) } as never;
  }
  return j as RunReport;
}

/** Loss, validation Dice and (when it changes) learning-rate curves of a run, or null without epochs. */
export function curveSpecs(r: RunReport): LineChartSpec[] | null {
  const ep = r.training.epochs;
  if (ep.length === 0) return null;
  const x = ep.map((e) => e.epoch);
  const best = [{ x: r.training.bestEpoch, label: `best (${r.training.bestEpoch})` }];
  const hasVal = ep.some((e) => Number.isFinite(e.valLoss));
  const specs: LineChartSpec[] = [
    {
      title: 'Loss',
      xLabel: 'epoch',
      yLabel: 'loss',
      integerX: true,
      vLines: best,
      series: [
        { name: 'train', x, y: ep.map((e) => e.trainLoss) },
        ...(hasVal ? [{ name: 'validation', x, y: ep.map((e) => e.valLoss ?? null), dashed: true }] : []),
      ],
    },
  ];
  if (ep.some((e) => Number.isFinite(e.valDice))) {
    specs.push({ title: 'Validation Dice', xLabel: 'epoch', yLabel: 'mean Dice', integerX: true, vLines: best, series: [{ name: 'val Dice', x, y: ep.map((e) => e.valDice ?? null) }] });
  }
  if (new Set(ep.map((e) => e.lr)).size > 1) {
    specs.push({ title: 'Learning rate', xLabel: 'epoch', yLabel: 'lr', integerX: true, series: [{ name: 'lr', x, y: ep.map((e) => e.lr) }] });
  }
  return specs;
}

/** The figures of a run, as PNG bytes by file name (those that have data). */
export function runFigures(r: RunReport): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  const curves = curveSpecs(r);
  if (curves) out['curves.png'] = lineCharts(curves, { width: 560, height: 380 });
  if (r.test.volumes.length && r.classes.length > 1) {
    out['boxplot.png'] = boxPlot({
      title: `Dice per structure over ${r.test.volumes.length} test volumes`,
      yLabel: 'Dice',
      groups: r.classes.slice(1).map((label, i) => ({ label, values: r.test.volumes.map((v) => v.dice[i + 1] ?? null) })),
    });
  }
  if (r.overlay) {
    const o = r.overlay;
    out['overlay.png'] = overlayFigure({
      flipRows: true, // superior (or anterior) up
      H: o.H,
      W: o.W,
      classNames: r.classes,
      panels: [
        { title: 'input', image: o.image },
        { title: 'ground truth', image: o.image, labels: o.truth },
        { title: 'prediction', image: o.image, labels: o.prediction },
      ],
    });
  }
  return out;
}

/** report.md's text; `figures` names the PNGs that exist (links to others are left out). */
export function runReportMarkdown(r: RunReport, figures: readonly string[] = ['curves.png', 'boxplot.png', 'overlay.png']): string {
  const s = testSummary(r);
  const has = (f: string): boolean => figures.includes(f);
  const ep = r.training.epochs;
  const best = ep.find((e) => e.epoch === r.training.bestEpoch);
  let md = `# Run report: ${r.name}\n\n`;
  md += `Created ${r.createdAt} · scse ${r.versions.scse} · Node ${r.versions.node}`;
  md += r.versions.onednn ? ` · oneDNN ${r.versions.onednn}` : '';
  md += ` · device ${r.device} · seed ${r.seed}\n\n`;
  md += '```\n' + r.command + '\n```\n\n';

  md += '## Test Dice\n\n';
  md += mdTable(['Test volumes', 'Dice (mean ± std)'], [[String(s.n), fmtMeanStd(s.mean, s.std)]], ['r', 'r']);
  md += '\nEach test volume scores the mean Dice of its foreground structures; the table gives the mean ± sample std (ddof = 1) of those scores over the test volumes, as in the paper\'s Table 1.\n\n';

  md += '## Dice per structure\n\n';
  const rows = classSummaries(r).map((c) => [String(c.label), mdCell(c.name), fmtMeanStd(c.mean, c.std), String(c.n)]);
  md += mdTable(['Label', 'Structure', 'Dice (mean ± std)', 'Volumes'], rows, ['r', 'l', 'r', 'r']);
  md += '\nOver the test volumes in which the structure is in the ground truth or the prediction (the others give no Dice).\n\n';
  if (has('boxplot.png')) md += '![Dice per structure](boxplot.png)\n\n';

  md += '## Model\n\n';
  md += mdTable(['Parameters', 'SE parameters', 'SE overhead'], [[fmtCount(r.parameters.total), fmtCount(r.parameters.se), fmtPercent(seOverheadPercent(r))]], ['r', 'r', 'r']);
  md += '\nSE overhead: the SE blocks\' parameters as a share of the network without them.\n\n';
  md += '### Configuration\n\n';
  md += mdTable(['Setting', 'Value'], flattenConfig(r.config).map(([k, v]) => [mdCell(k), mdCell(v)]));
  md += '\n';

  md += '## Training\n\n';
  md += `${ep.length} epochs in ${fmtDuration(r.training.wallSeconds)} wall time, ${imagesPerSecond(r).toFixed(1)} images/s (training, all epochs). `;
  md += `Best epoch: ${r.training.bestEpoch}`;
  md += best && Number.isFinite(best.valDice) ? ` (validation Dice ${fmtDice(best.valDice!)}).\n\n` : '.\n\n';
  if (has('curves.png')) md += '![Training curves](curves.png)\n\n';
  if (ep.length) {
    md += '<details><summary>Per epoch</summary>\n\n';
    md += mdTable(
      ['Epoch', 'Train loss', 'Val loss', 'Val Dice', 'lr', 'Seconds', 'Images/s'],
      ep.map((e) => [String(e.epoch), e.trainLoss.toFixed(4), e.valLoss === undefined ? '—' : e.valLoss.toFixed(4), e.valDice === undefined ? '—' : fmtDice(e.valDice), fmtNumber(e.lr), e.seconds.toFixed(1), e.imagesPerSec.toFixed(1)]),
      ['r', 'r', 'r', 'r', 'r', 'r', 'r'],
    );
    md += '\n</details>\n\n';
  }

  md += '## Test volumes\n\n';
  md += mdTable(['Volume', 'Mean Dice'], r.test.volumes.map((v) => [mdCell(v.id), fmtDice(v.meanDice)]), ['l', 'r']);
  md += '\n';
  if (r.overlay && has('overlay.png')) {
    md += '## Example segmentation\n\n![Input, ground truth and prediction](overlay.png)\n\n';
    if (r.overlay.caption) md += `${r.overlay.caption}\n`;
  }
  return md;
}

/** Writes report.md, report.json and the figures into `dir` (created if needed). */
export function writeRunReport(dir: string, report: RunReport): { files: string[] } {
  mkdirSync(dir, { recursive: true });
  const figures = runFigures(report);
  for (const [name, png] of Object.entries(figures)) writeAtomic(join(dir, name), png);
  writeAtomic(join(dir, 'report.json'), prettyJson(runReportJson(report)) + '\n');
  writeAtomic(join(dir, 'report.md'), runReportMarkdown(report, Object.keys(figures)));
  return { files: [...Object.keys(figures), 'report.json', 'report.md'] };
}
