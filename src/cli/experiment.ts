// `scse experiment`: the paper's Table 1 protocol — networks × SE variants (× seeds) trained on the
// same data and split, one experiment report. Re-running the same command continues a stopped
// experiment (finished cells are kept, the interrupted one resumes from its checkpoint).
import { Command, InvalidArgumentError, Option } from 'commander';

import { modelNames, type ModelName } from '../models/index.js';
import type { SeKind } from '../nn/se.js';
import { runExperiment } from '../train/experiment.js';
import { testSummary } from '../train/report/summary.js';
import { abortOnSigint, intOption, runCommand } from './common.js';
import { deviceOption, resolveCliDevice } from './device.js';
import { addDataOptions, addModelScheduleOptions, dataOptionsOf, modelScheduleOf, type TrainCliOptions } from './train.js';

const SE_KINDS = ['none', 'cse', 'sse', 'scse'] as const;

/** A comma-separated list of distinct values, each checked by `one`. */
const MAX_LIST = 100;

function listOption<T>(name: string, one: (v: string) => T) {
  return (v: string): T[] => {
    const items = v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    if (items.length === 0) throw new InvalidArgumentError(`${name} must list at least one value, got '${v}'`);
    // Each value is a whole training run per cell: a pasted range of thousands is a mistake, not a plan.
    if (items.length > MAX_LIST) throw new InvalidArgumentError(`${name} lists ${items.length} values; at most ${MAX_LIST} are allowed`);
    const out = items.map(one);
    const dup = out.find((x, i) => out.indexOf(x) !== i);
    if (dup !== undefined) throw new InvalidArgumentError(`${name} lists '${String(dup)}' twice`);
    return out;
  };
}

const inList = <T extends string>(name: string, values: readonly T[]) => (v: string): T => {
  if (!values.includes(v as T)) throw new InvalidArgumentError(`${name}: '${v}' is not one of ${values.join(', ')}`);
  return v as T;
};

// Seeds are taken mod 2^32 (manualSeed), so a larger one would silently alias a smaller one.
const seedValue = intOption('--seeds', 0, 4294967295);

export interface ExperimentCliOptions extends Omit<TrainCliOptions, 'net' | 'se' | 'resume'> {
  nets: ModelName[];
  se: SeKind[];
  seeds?: number[];
  out: string;
}

export function experimentCommand(): Command {
  const cmd = new Command('experiment').description(
    "the paper's Table 1: train every network × SE variant (× seed) on the same data, split and schedule, one after another, then write <out>/report.md (Dice mean ± std, Wilcoxon p-values against no SE, parameters, box plots, curves). Re-run the same command to continue a stopped experiment",
  );
  addModelScheduleOptions(addDataOptions(cmd))
    .addOption(new Option('--nets <list>', `networks, comma-separated (${modelNames.join(', ')})`).argParser(listOption('--nets', inList('--nets', modelNames))).default([...modelNames], modelNames.join(',')))
    .addOption(new Option('--se <list>', 'SE variants, comma-separated (none, cse, sse, scse); p-values compare each with none').argParser(listOption('--se', inList('--se', SE_KINDS))).default([...SE_KINDS], SE_KINDS.join(',')))
    .option('--seeds <list>', 'training seeds (initialisation, batch order, dropout), comma-separated; default: --seed. With several, each test volume\'s Dice is averaged over the seeds', listOption('--seeds', seedValue))
    .option('--out <dir>', 'experiment directory (cells in <out>/cells/<net>-<se>-s<seed>/)', 'runs/experiment')
    .option('--no-progress', 'no progress bar')
    .addOption(deviceOption())
    .option('--json', 'machine-readable summary on stdout');
  return cmd.action((o: ExperimentCliOptions) =>
    runCommand(o.json, async () => {
      const device = resolveCliDevice(cmd, o.device);
      const sigint = abortOnSigint('\nscse: interrupted — finishing the current batch and saving the cell\'s checkpoint (Ctrl-C again to quit at once)');
      const log = o.json ? (l: string) => console.error(l) : (l: string) => console.log(l);
      try {
        const r = await runExperiment({
          name: o.out.replace(/[/\\]+$/, '').split(/[/\\]/).pop() || o.out,
          outDir: o.out,
          nets: o.nets,
          se: o.se,
          seeds: o.seeds ?? [o.seed],
          ...modelScheduleOf(o),
          data: dataOptionsOf(o),
          command: `scse ${process.argv.slice(2).join(' ')}`,
          device,
          signal: sigint.signal,
          progress: o.progress && !o.json,
          log,
        });
        const cells = r.cells.map((c) => ({ key: c.key, status: c.status, dir: c.dir, ...(c.report ? { test: { mean: testSummary(c.report).mean, std: testSummary(c.report).std } } : {}) }));
        if (r.interrupted) {
          process.exitCode = 130;
          return { interrupted: true, out: o.out, cells };
        }
        const e = r.report!;
        const table: Record<string, Record<string, { n: number; mean: number; std: number }>> = {};
        for (const c of e.cells) (table[c.net] ??= {})[c.se] = testSummary(c.report);
        log(`report: ${o.out}/report.md`);
        return { out: o.out, table, cells, wallSeconds: r.wallSeconds, trainingWallSeconds: e.protocol.wallSeconds };
      } finally {
        sigint.release();
      }
    }),
  );
}
