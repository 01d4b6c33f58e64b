// The paper's Table 1 protocol: every network × SE variant × training seed trained one after
// another on the same prepared data (one split), with the same schedule, then one experiment
// report. Each cell lives in <out>/cells/<net>-<se>-s<seed>/ (a normal run folder): a cell whose
// report.json exists is done and skipped on a re-run, one with only last.safetensors resumes
// from it, so a killed experiment continues where it stopped and ends with the same numbers.
//
// Seeds: `data.seed` fixes the data (phantom generation, split); each cell's training seed
// (initialisation, batch order, dropout) comes from `seeds`. Cells run seed by seed (all
// networks and variants of the first seed, then the next), so a stopped experiment has whole
// grids first. With several seeds, the table uses each test volume's Dice averaged over the
// seeds (mergeSeeds); every seed's own numbers are in the report's "Runs" table and report.json.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { ModelName } from '../models/index.js';
import type { SeKind } from '../nn/se.js';
import { prepareData, type DataOptions, type PreparedData } from './pipeline.js';
import { loadRunReport, writeExperimentReport, type ExperimentReport, type RunReport } from './report.js';
import { flattenConfig, fmtDuration, fmtMeanStd, mdCell, mdTable } from './report/format.js';
import { mergeSeeds } from './report/seeds.js';
import { imagesPerSecond, testSummary } from './report/summary.js';
import { runTraining, type ModelSettings } from './run.js';
import type { TrainConfig } from './trainer.js';

export interface ExperimentOptions extends ModelSettings {
  /** shown in the report title */
  name: string;
  outDir: string;
  nets: ModelName[];
  se: SeKind[];
  /** training seeds (initialisation, batch order, dropout); the data's seed is `data.seed` */
  seeds: number[];
  data: DataOptions;
  /** the schedule of every cell; its `seed` is replaced by the cell's */
  train: TrainConfig;
  /** the command line, recorded in the reports */
  command: string;
  device: string;
  /** aborting stops the current cell at its next batch (checkpoint saved) and starts no other */
  signal?: AbortSignal;
  progress?: boolean;
  log?: (line: string) => void;
  /** called after each training batch of each cell */
  onBatch?: (cell: ExperimentCellId, epoch: number, batch: number) => void;
  /** data prepared by the caller (otherwise prepared once from `data`) */
  prepared?: PreparedData;
}

export interface ExperimentCellId {
  net: ModelName;
  se: SeKind;
  seed: number;
  /** `<net>-<se>-s<seed>` */
  key: string;
  /** the cell's run folder */
  dir: string;
}

/** done: finished before (skipped); trained / resumed: finished now; interrupted; pending: not started */
export type CellStatus = 'done' | 'trained' | 'resumed' | 'interrupted' | 'pending';

export interface CellOutcome extends ExperimentCellId {
  status: CellStatus;
  /** the cell's run report (finished cells) */
  report?: RunReport;
}

export interface RunSummary {
  net: string;
  se: string;
  seed: number;
  dir: string;
  test: { n: number; mean: number; std: number };
  epochs: number;
  bestEpoch: number;
  wallSeconds: number;
  imagesPerSec: number;
}

/** What report.json holds besides the ExperimentReport fields. */
export interface ExperimentRecord extends ExperimentReport {
  protocol: {
    nets: string[];
    se: string[];
    seeds: number[];
    dataSeed: number;
    seedAggregation: string;
    data: string;
    split: { train: number; val: number; test: number };
    /** sum of the runs' training wall times */
    wallSeconds: number;
  };
  runs: RunSummary[];
}

export interface ExperimentOutcome {
  interrupted: boolean;
  cells: CellOutcome[];
  /** the report written (absent when interrupted) */
  report?: ExperimentRecord;
  files?: string[];
  /** this invocation's wall time */
  wallSeconds: number;
}

export const EXPERIMENT_STATE_SCHEMA = 'scse.experiment/1';
export const cellKey = (net: string, se: string, seed: number): string => `${net}-${se}-s${seed}`;

/** The cells in training order: seed by seed, then network, then SE variant. */
export function experimentCells(o: Pick<ExperimentOptions, 'nets' | 'se' | 'seeds' | 'outDir'>): ExperimentCellId[] {
  const out: ExperimentCellId[] = [];
  for (const seed of o.seeds) for (const net of o.nets) for (const se of o.se) out.push({ net, se, seed, key: cellKey(net, se, seed), dir: join(o.outDir, 'cells', cellKey(net, se, seed)) });
  return out;
}

function checkGrid(o: ExperimentOptions): void {
  const dup = (name: string, v: readonly unknown[]) => {
    if (v.length === 0) throw new Error(`experiment: ${name} is empty`);
    const seen = new Set<unknown>();
    for (const x of v) {
      if (seen.has(x)) throw new Error(`experiment: ${name} lists ${String(x)} twice`);
      seen.add(x);
    }
  };
  dup('nets', o.nets);
  dup('se', o.se);
  dup('seeds', o.seeds);
  for (const s of o.seeds) if (!Number.isInteger(s) || s < 0) throw new Error(`experiment: seeds must be non-negative integers, got ${s}`);
}

/** JSON with sorted keys and no undefined values, to compare settings whatever their order. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(
    Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, x]) => [k, canonical(x)]),
  );
}

/** Everything that must be equal for cells to be comparable (the grid itself may grow). */
function protocolOf(o: ExperimentOptions): Record<string, unknown> {
  const { seed: _seed, ...train } = o.train;
  const { cacheDir: _cache, ...data } = o.data;
  return canonical({ data, train, model: { seOptions: o.seOptions, filters: o.filters, kernel: o.kernel, dropout: o.dropout } }) as Record<string, unknown>;
}

/**
 * <out>/experiment.json records the protocol; a re-run into the same folder must use the same
 * one (otherwise finished cells would be mixed with cells trained differently).
 */
function checkState(o: ExperimentOptions): void {
  const file = join(o.outDir, 'experiment.json');
  const protocol = protocolOf(o);
  if (existsSync(file)) {
    const old = JSON.parse(readFileSync(file, 'utf8')) as { schema?: string; protocol?: Record<string, unknown> };
    if (old.schema !== EXPERIMENT_STATE_SCHEMA || !old.protocol) throw new Error(`${file} is not an scse experiment state (schema ${String(old.schema)})`);
    const a = new Map(flattenConfig(old.protocol));
    const b = new Map(flattenConfig(protocol));
    const diff = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k));
    if (diff.length) {
      const what = diff.slice(0, 4).map((k) => `${k}: ${a.get(k) ?? '(unset)'} before, ${b.get(k) ?? '(unset)'} now`);
      throw new Error(`${o.outDir} holds an experiment with other settings (${what.join('; ')}${diff.length > 4 ? '; …' : ''}); continue it with the same options or use another --out`);
    }
  }
  const state = { schema: EXPERIMENT_STATE_SCHEMA, protocol, grid: { nets: o.nets, se: o.se, seeds: o.seeds } };
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`);
}

export async function runExperiment(o: ExperimentOptions): Promise<ExperimentOutcome> {
  const t0 = performance.now();
  const log = o.log ?? (() => {});
  checkGrid(o);
  mkdirSync(o.outDir, { recursive: true });
  checkState(o);
  const ids = experimentCells(o);
  const cells: CellOutcome[] = ids.map((c) => ({ ...c, status: existsSync(join(c.dir, 'report.json')) ? 'done' : 'pending' }));
  const todo = cells.filter((c) => c.status === 'pending').length;
  log(`experiment: ${o.nets.length} network(s) × ${o.se.length} SE variant(s) × ${o.seeds.length} seed(s) = ${cells.length} runs, ${cells.length - todo} done before, ${todo} to train`);
  // the data are prepared once: the same split for every cell
  const prepared = o.prepared ?? prepareData(o.data);
  log(`data: ${prepared.description}; ${prepared.train.count} training, ${prepared.val?.count ?? 0} validation, ${prepared.test.count} test slices`);
  let interrupted = false;
  for (const [i, cell] of cells.entries()) {
    if (cell.status === 'done') continue;
    if (o.signal?.aborted) {
      interrupted = true;
      break;
    }
    const resumed = existsSync(join(cell.dir, 'last.safetensors'));
    const tag = `[${i + 1}/${cells.length} ${cell.key}]`;
    log(`${tag} ${resumed ? 'resuming' : 'training'} ${cell.net} with SE ${cell.se}, seed ${cell.seed}`);
    const r = await runTraining({
      name: cell.key,
      outDir: cell.dir,
      net: cell.net,
      se: cell.se,
      seOptions: o.seOptions,
      filters: o.filters,
      kernel: o.kernel,
      dropout: o.dropout,
      data: o.data,
      train: { ...o.train, seed: cell.seed },
      resume: true,
      command: `${o.command}  # cell ${cell.key}`,
      device: o.device,
      signal: o.signal,
      progress: o.progress,
      log: (l) => log(`${tag} ${l}`),
      onBatch: o.onBatch ? (e, b) => o.onBatch!(cell, e, b) : undefined,
      prepared,
    });
    if (r.interrupted) {
      cell.status = 'interrupted';
      interrupted = true;
      break;
    }
    cell.status = resumed ? 'resumed' : 'trained';
  }
  if (interrupted) {
    log(`experiment interrupted: finished cells are kept and the current one resumes from its checkpoint; run the same command again to continue`);
    return { interrupted, cells, wallSeconds: (performance.now() - t0) / 1000 };
  }
  // every cell is read back from its report.json, so a report does not depend on which cells
  // were trained in this invocation
  for (const c of cells) c.report = loadRunReport(c.dir);
  const report = experimentRecord(o, cells, prepared);
  const { files } = writeExperimentReport(o.outDir, report, { cellReports: false, appendix: runsMarkdown(report) });
  log(`experiment report: ${join(o.outDir, 'report.md')}`);
  return { interrupted, cells, report, files, wallSeconds: (performance.now() - t0) / 1000 };
}

function runSummary(c: CellOutcome, outDir: string): RunSummary {
  const r = c.report!;
  const s = testSummary(r);
  return {
    net: c.net,
    se: c.se,
    seed: c.seed,
    dir: c.dir.slice(outDir.length).replace(/^[/\\]+/, ''),
    test: { n: s.n, mean: s.mean, std: s.std },
    epochs: r.training.epochs.length,
    bestEpoch: r.training.bestEpoch,
    wallSeconds: r.training.wallSeconds,
    imagesPerSec: imagesPerSecond(r),
  };
}

function splitCounts(prepared: PreparedData): { train: number; val: number; test: number } {
  const n = (s: string) => prepared.subjects.filter((x) => x.split === s).length;
  return { train: n('train'), val: n('val'), test: n('test') };
}

/** The ExperimentReport (one merged cell per network × variant) plus the protocol and the runs. */
export function experimentRecord(o: ExperimentOptions, cells: readonly CellOutcome[], prepared: PreparedData): ExperimentRecord {
  const first = cells[0]!.report!;
  const merged = [];
  for (const net of o.nets) {
    for (const se of o.se) {
      const reports = o.seeds.map((seed) => cells.find((c) => c.net === net && c.se === se && c.seed === seed)!.report!);
      merged.push({ net, se, report: mergeSeeds(reports, `${net}-${se}`) });
    }
  }
  const runs = cells.map((c) => runSummary(c, o.outDir));
  const wallSeconds = runs.reduce((a, r) => a + r.wallSeconds, 0);
  const split = splitCounts(prepared);
  const data = prepared.description;
  const t = o.train;
  const seedText = o.seeds.length > 1
    ? `Training seeds ${o.seeds.join(', ')}: each test volume's Dice is the mean over the seeds before the mean ± std over the volumes and the paired tests (n = test volumes); each seed's own numbers are under Runs.`
    : `Training seed ${o.seeds[0]}.`;
  const versions = [...new Set(cells.map((c) => JSON.stringify(c.report!.versions)))];
  const notes = [
    `${o.nets.length} networks × ${o.se.length} SE variants × ${o.seeds.length} seed${o.seeds.length > 1 ? 's' : ''} = ${cells.length} runs, trained one after another on the same data and split: ${data}` +
      ` (${split.train} training, ${split.val} validation, ${split.test} test volumes); data seed ${o.data.seed}, ${o.data.axis} slices.`,
    `Schedule of every run: at most ${t.epochs} epoch${t.epochs > 1 ? 's' : ''} (patience ${t.patience}), batch ${t.batchSize}, ${t.optimizer} lr ${t.lr}` +
      (t.optimizer === 'sgd' ? ` momentum ${t.momentum}` : '') +
      `, weight decay ${t.weightDecay}, lr × ${t.gamma} every ${t.stepSize} epochs; ${o.filters} filters${o.kernel ? `, kernel ${o.kernel}` : ''}, dropout ${o.dropout}; best epoch by validation Dice.`,
    seedText,
    `Training wall time over all runs: ${fmtDuration(wallSeconds)}.` + (versions.length > 1 ? ` The runs were made with different versions: ${versions.join(', ')}.` : ''),
  ].join('\n\n');
  return {
    name: o.name,
    command: o.command,
    createdAt: new Date().toISOString(),
    versions: first.versions,
    device: o.device,
    classes: first.classes,
    cells: merged,
    baseline: 'none',
    notes,
    protocol: { nets: o.nets, se: o.se, seeds: o.seeds, dataSeed: o.data.seed, seedAggregation: o.seeds.length > 1 ? 'per test volume: mean over seeds' : 'single seed', data, split, wallSeconds },
    runs,
  };
}

/** The "Runs" section: every run (seed) with its own test Dice, epochs, wall time and throughput. */
function runsMarkdown(e: ExperimentRecord): string {
  let md = '## Runs\n\n';
  md += mdTable(
    ['Run', 'Network', 'SE', 'Seed', 'Test Dice', 'Epochs (best)', 'Wall time', 'Images/s'],
    e.runs.map((r) => [
      `[${mdCell(cellKey(r.net, r.se, r.seed))}](${r.dir}/report.md)`,
      mdCell(r.net),
      mdCell(r.se),
      String(r.seed),
      fmtMeanStd(r.test.mean, r.test.std),
      `${r.epochs} (${r.bestEpoch})`,
      fmtDuration(r.wallSeconds),
      r.imagesPerSec.toFixed(1),
    ]),
    ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'r'],
  );
  md += '\nEach run on its own: mean ± std over the test volumes of each volume\'s mean foreground Dice, epochs trained (best epoch), training wall time, training images per second.\n';
  return md;
}
