// `scse experiment` end to end on a tiny phantom: a 2 × 2 grid (U-Net, SD-Net × no SE, scSE) with
// two training seeds, 1 epoch each. (a) the CLI writes a complete report; (b) an experiment
// stopped in its second cell and run again gives the same report numbers as the uninterrupted
// CLI run (training is deterministic for a given thread count); (c) the table's numbers and
// p-values are recomputed here from each cell's own per-volume report.json.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';

import { readCheckpoint } from '../../src/train/checkpoint.js';
import { experimentCells, runExperiment, type ExperimentOptions } from '../../src/train/experiment.js';
import { loadRunReport, type RunReport } from '../../src/train/report.js';
import { mergeSeeds } from '../../src/train/report/seeds.js';
import { wilcoxonSignedRank } from '../../src/train/stats.js';
import { paperProtocol } from '../../src/train/trainer.js';
import { syntheticRun } from './report-fixture.js';

const root = mkdtempSync(join(tmpdir(), 'scse-experiment-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// 10 phantom subjects: 6 training, 2 validation, 2 test volumes (two pairs for the volume test)
const GRID = { nets: ['unet', 'sdnet'], se: ['none', 'scse'], seeds: [1, 2] } as const;
const cliArgs = ['--nets', 'unet,sdnet', '--se', 'none,scse', '--seeds', '1,2', '--epochs', '1', '--subjects', '10', '--size', '24', '--filters', '4', '--no-progress', '--json'];

/** The same experiment as cliArgs, for the library. */
function libOptions(outDir: string, extra: Partial<ExperimentOptions> = {}): ExperimentOptions {
  return {
    name: 'lib',
    outDir,
    nets: [...GRID.nets],
    se: [...GRID.se],
    seeds: [...GRID.seeds],
    seOptions: { aggregation: 'add', reduction: 2, bias: true },
    filters: 4,
    dropout: 0,
    data: { data: 'phantom', axis: 'coronal', seed: 1, subjects: 10, size: 24, weights: true },
    train: { ...paperProtocol, epochs: 1 },
    command: 'test',
    device: 'cpu',
    ...extra,
  };
}

type Json = Record<string, any>;
const readJson = (file: string): Json => JSON.parse(readFileSync(file, 'utf8')) as Json;

/** report.json without what legitimately differs between two runs (times, dates, names, command lines, the weight-cache folder). */
function numbersOf(report: Json): unknown {
  const volatile = new Set(['createdAt', 'command', 'wallSeconds', 'seconds', 'imagesPerSec', 'name', 'notes', 'cacheDir']);
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(Object.entries(v).filter(([k]) => !volatile.has(k)).map(([k, x]) => [k, strip(x)]));
  };
  return strip(report);
}

/** The cells of the row starting with `first` in the Markdown section `section`. */
function mdRow(md: string, section: string, first: string): string[] {
  const start = md.indexOf(`## ${section}\n`);
  expect(start, section).toBeGreaterThanOrEqual(0);
  const end = md.indexOf('\n## ', start + 3);
  const line = md.slice(start, end < 0 ? undefined : end).split('\n').find((l) => l.startsWith(`| ${first} |`));
  expect(line, `${section}: ${first}`).toBeDefined();
  return line!.slice(2, -2).split(' | ').map((c) => c.replace(/\*\*/g, ''));
}

const cliOut = join(root, 'cli');
let cliRun: { status: number | null; stdout: string; stderr: string; seconds: number } | undefined;

/** The CLI run of the whole grid into cliOut, made once by the first test that needs it (not the Ctrl-C one). */
function gridCli(): NonNullable<typeof cliRun> {
  if (!cliRun) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'experiment', ...cliArgs, '--out', cliOut], { encoding: 'utf8', cwd: join(import.meta.dirname, '../..') });
    cliRun = { status: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (performance.now() - t0) / 1000 };
  }
  return cliRun;
}

describe('scse experiment (CLI)', () => {
  it('(a) trains the 2 × 2 × 2 grid and writes a complete report', () => {
    const cli = gridCli();
    expect(cli.status, cli.stderr).toBe(0);
    const out = JSON.parse(cli.stdout) as Json;
    expect(out.cells).toHaveLength(8);
    expect(out.cells.map((c: Json) => c.status)).toEqual(Array(8).fill('trained'));
    for (const net of GRID.nets) for (const se of GRID.se) expect(Number.isFinite(out.table[net][se].mean) && Number.isFinite(out.table[net][se].std)).toBe(true);

    // every cell is a complete run folder
    const cells = readdirSync(join(cliOut, 'cells')).sort();
    expect(cells).toEqual(['sdnet-none-s1', 'sdnet-none-s2', 'sdnet-scse-s1', 'sdnet-scse-s2', 'unet-none-s1', 'unet-none-s2', 'unet-scse-s1', 'unet-scse-s2']);
    for (const c of cells) for (const f of ['report.json', 'report.md', 'best.safetensors', 'last.safetensors', 'metrics.jsonl']) expect(existsSync(join(cliOut, 'cells', c, f)), `${c}/${f}`).toBe(true);

    const md = readFileSync(join(cliOut, 'report.md'), 'utf8');
    expect(md).toContain(`scse experiment ${cliArgs.join(' ')} --out ${cliOut}`);
    expect(md).toContain('Training seeds 1, 2');
    for (const net of GRID.nets) {
      const row = mdRow(md, 'Dice (Table 1)', net);
      expect(row).toHaveLength(3);
      for (const c of row.slice(1)) expect(c).toMatch(/^\d\.\d{3} ± \d\.\d{3}$/);
      for (const section of ['Paired tests by test volume', 'Paired tests by structure']) expect(mdRow(md, section, net)[1]).toMatch(/^(\d\.\d{4}|\d\.\d\de-\d+) \(Δ [+-]\d\.\d{3}, n=\d+\)$/);
      expect(mdRow(md, 'Parameters', net)[2]).toMatch(/SE \+\d+\.\d\d %/);
      expect(mdRow(md, 'Training time', net)[1]).toMatch(/img\/s$/);
    }
    for (const c of cells) expect(md).toContain(`](cells/${c}/report.md)`);

    const j = readJson(join(cliOut, 'report.json'));
    expect(j.schema).toBe('scse.experiment-report/1');
    expect(j.versions).toMatchObject({ scse: '0.1.0', node: process.version });
    expect(j.device).toBe('cpu');
    expect(j.protocol).toMatchObject({ nets: GRID.nets, se: GRID.se, seeds: GRID.seeds, dataSeed: 1, split: { train: 6, val: 2, test: 2 } });
    expect(j.runs).toHaveLength(8);
    for (const r of j.runs) expect(r.wallSeconds > 0 && r.imagesPerSec > 0 && r.test.n === 2).toBe(true);
    expect(j.comparisons).toHaveLength(4);
    for (const c of j.comparisons) expect(c.pValue > 0 && c.pValue <= 1).toBe(true);

    for (const f of ['boxplot-volumes.png', 'boxplot-unet.png', 'boxplot-sdnet.png', 'curves-unet.png', 'curves-sdnet.png', 'overlay.png']) {
      const png = PNG.sync.read(readFileSync(join(cliOut, f)));
      expect(png.width * png.height, f).toBeGreaterThan(10_000);
      expect(md).toContain(`](${f})`);
    }
  });

  it('(c) the table and the p-values follow from the cells\' per-volume Dice', () => {
    expect(gridCli().status).toBe(0);
    const j = readJson(join(cliOut, 'report.json'));
    const md = readFileSync(join(cliOut, 'report.md'), 'utf8');
    // independent arithmetic: per test volume, the mean over the seeds of its mean Dice
    const volumes = (net: string, se: string): Map<string, number> => {
      const per = GRID.seeds.map((s) => readJson(join(cliOut, 'cells', `${net}-${se}-s${s}`, 'report.json')).test.volumes as { id: string; meanDice: number }[]);
      return new Map(per[0]!.map((v, i) => [v.id, per.reduce((a, p) => a + p[i]!.meanDice, 0) / per.length]));
    };
    for (const net of GRID.nets) {
      GRID.se.forEach((se, k) => {
        const v = [...volumes(net, se).values()];
        const m = v.reduce((a, b) => a + b, 0) / v.length;
        const sd = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
        const cell = j.cells.find((c: Json) => c.net === net && c.se === se).report;
        expect(cell.test.mean).toBeCloseTo(m, 12);
        expect(cell.test.std).toBeCloseTo(sd, 12);
        expect(mdRow(md, 'Dice (Table 1)', net)[k + 1]).toBe(`${m.toFixed(3)} ± ${sd.toFixed(3)}`);
      });
      const base = volumes(net, 'none');
      const scse = volumes(net, 'scse');
      const ids = [...base.keys()];
      const x = ids.map((id) => scse.get(id)!);
      const y = ids.map((id) => base.get(id)!);
      const c = j.comparisons.find((c: Json) => c.net === net && c.se === 'scse' && c.by === 'volume');
      expect(c.n).toBe(2);
      expect(c.pValue).toBe(wilcoxonSignedRank(x, y).pValue);
      expect(c.delta).toBeCloseTo((x[0]! - y[0]! + x[1]! - y[1]!) / 2, 12);
    }
  });
});

describe('scse experiment interrupted (CLI)', () => {
  // One Ctrl-C once the first epoch is logged; a second one once the child reports the checkpoint
  // saved, i.e. while it winds down: that one must also end in exit 130 (not death by SIGINT)
  // with the summary and the checkpoint intact.
  it('Ctrl-C saves the current cell\'s checkpoint and exits 130', async () => {
    const out = join(root, 'sigint');
    const args = ['--import', 'tsx', 'src/cli/main.ts', 'experiment', '--nets', 'unet', '--se', 'none', '--epochs', '50', '--patience', '0', '--subjects', '5', '--size', '24', '--filters', '4', '--no-progress', '--json', '--out', out];
    const child = spawn(process.execPath, args, { cwd: join(import.meta.dirname, '../..') });
    let stdout = '';
    let stderr = '';
    let sent = 0;
    const interrupt = () => {
      sent++;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    };
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (sent === 0 && /epoch 1\/50/.test(stderr)) interrupt();
      else if (sent === 1 && stderr.includes('experiment interrupted')) interrupt();
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(sent).toBe(2);
    expect(code, stderr).toBe(130);
    expect(JSON.parse(stdout)).toMatchObject({ interrupted: true, cells: [{ key: 'unet-none-s1', status: 'interrupted' }] });
    expect(stderr).toContain('interrupted');
    const meta = readCheckpoint(join(out, 'cells', 'unet-none-s1', 'last.safetensors')).meta;
    expect(meta.epoch).toBeGreaterThanOrEqual(1);
    expect(meta.epoch).toBeLessThan(50);
    expect(existsSync(join(out, 'cells', 'unet-none-s1', 'report.json'))).toBe(false);
    expect(existsSync(join(out, 'report.md'))).toBe(false);
  });
});

describe('runExperiment', () => {
  it('(b) stopped in its second cell and run again, gives the CLI run\'s numbers', async () => {
    const cli = gridCli();
    expect(cli.status, cli.stderr).toBe(0);
    const out = join(root, 'lib');
    const controller = new AbortController();
    const logs: string[] = [];
    const first = await runExperiment(
      libOptions(out, {
        signal: controller.signal,
        log: (l) => logs.push(l),
        onBatch: (cell, epoch, batch) => {
          if (cell.key === 'unet-scse-s1' && epoch === 0 && batch === 3) controller.abort();
        },
      }),
    );
    expect(first.interrupted).toBe(true);
    expect(first.report).toBeUndefined();
    expect(first.cells.map((c) => c.status)).toEqual(['trained', 'interrupted', 'pending', 'pending', 'pending', 'pending', 'pending', 'pending']);
    const stopped = join(out, 'cells', 'unet-scse-s1');
    expect(existsSync(join(stopped, 'report.json'))).toBe(false);
    expect(readCheckpoint(join(stopped, 'last.safetensors')).meta).toMatchObject({ epoch: 0, batch: 3 });
    expect(existsSync(join(out, 'report.json'))).toBe(false);

    const second = await runExperiment(libOptions(out, { log: (l) => logs.push(l) }));
    expect(second.interrupted).toBe(false);
    expect(second.cells.map((c) => c.status)).toEqual(['done', 'resumed', 'trained', 'trained', 'trained', 'trained', 'trained', 'trained']);
    expect(logs.some((l) => l.includes('resuming from') && l.includes('batch 3'))).toBe(true);
    const lib = readJson(join(out, 'report.json'));
    const ref = readJson(join(cliOut, 'report.json'));
    expect(numbersOf(lib)).toEqual(numbersOf(ref));
    // the cells themselves too (per-volume Dice, curves)
    for (const c of experimentCells(libOptions(out))) {
      expect(numbersOf(readJson(join(c.dir, 'report.json')))).toEqual(numbersOf(readJson(join(cliOut, 'cells', c.key, 'report.json'))));
    }

    // a third run has nothing to train and writes the same numbers again
    const third = await runExperiment(libOptions(out));
    expect(third.cells.every((c) => c.status === 'done')).toBe(true);
    expect(numbersOf(readJson(join(out, 'report.json')))).toEqual(numbersOf(ref));

    // other settings in the same folder are refused before anything is trained
    await expect(runExperiment(libOptions(out, { train: { ...paperProtocol, epochs: 2 } }))).rejects.toThrow(/other settings \(train\.epochs: 1 before, 2 now\)/);
    // a larger grid in the same folder is fine: only the new cells are trained
    expect(experimentCells(libOptions(out, { nets: ['unet'], seeds: [1, 2, 3] })).map((c) => c.key)).toEqual(['unet-none-s1', 'unet-scse-s1', 'unet-none-s2', 'unet-scse-s2', 'unet-none-s3', 'unet-scse-s3']);
  });

  it('rejects an empty or repeated grid', async () => {
    await expect(runExperiment(libOptions(join(root, 'bad'), { nets: [] }))).rejects.toThrow('experiment: nets is empty');
    await expect(runExperiment(libOptions(join(root, 'bad'), { seeds: [1, 1] }))).rejects.toThrow('experiment: seeds lists 1 twice');
  });
});

describe('mergeSeeds', () => {
  const run = (seed: number, dice: (number | null)[][]): RunReport => {
    const r = syntheticRun({ seed, volumes: dice.length, epochs: 2, overlay: false });
    r.classes = ['background', 'a', 'b'];
    r.test.volumes = dice.map((d, i) => {
      const fg = d.slice(1).filter((x): x is number => x !== null);
      return { id: `v${i}`, dice: d, meanDice: fg.reduce((a, b) => a + b, 0) / fg.length };
    });
    return r;
  };

  it('averages each volume over the seeds (structures where defined) and sums the time', () => {
    const a = run(1, [[1, 0.5, 0.7], [1, 0.6, null]]);
    const b = run(2, [[1, 0.7, 0.9], [1, 0.8, 0.4]]);
    const m = mergeSeeds([a, b], 'unet-scse');
    expect(m.name).toBe('unet-scse');
    expect(m.test.volumes.map((v) => v.id)).toEqual(['v0', 'v1']);
    expect(m.test.volumes[0]!.dice).toEqual([1, 0.6, 0.8]);
    expect(m.test.volumes[1]!.dice[2]).toBe(0.4); // defined for one seed only
    expect(m.test.volumes[0]!.meanDice).toBeCloseTo((0.6 + 0.8) / 2, 12);
    expect(m.test.volumes[1]!.meanDice).toBeCloseTo((0.6 + 0.6) / 2, 12); // mean of the seeds' means
    expect(m.test.mean).toBeCloseTo(0.65, 12);
    expect(m.test.std).toBeCloseTo(Math.SQRT1_2 * 0.1, 12);
    expect(m.training.wallSeconds).toBeCloseTo(a.training.wallSeconds + b.training.wallSeconds, 9);
    expect(m.training.epochs[0]!.trainLoss).toBeCloseTo((a.training.epochs[0]!.trainLoss + b.training.epochs[0]!.trainLoss) / 2, 12);
    expect(m.config.seeds).toEqual([a.seed, b.seed]);
    expect(mergeSeeds([a])).toBe(a);
  });

  it('refuses reports of different splits or networks', () => {
    const a = run(1, [[1, 0.5, 0.7], [1, 0.6, 0.2]]);
    const b = run(2, [[1, 0.5, 0.7]]);
    expect(() => mergeSeeds([a, b])).toThrow(/different volumes/);
    const c = run(2, [[1, 0.5, 0.7], [1, 0.6, 0.2]]);
    c.parameters = { ...c.parameters, total: c.parameters.total + 1 };
    expect(() => mergeSeeds([a, c])).toThrow(/parameters/);
  });
});
