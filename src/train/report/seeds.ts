// Several training seeds of one experiment cell (same network, SE variant, data and split) as one
// RunReport for the experiment table: each test volume's Dice is the mean over the seeds, so the
// table entry stays "mean ± std over the test volumes" and the Wilcoxon tests stay paired by test
// volume (n = number of test volumes, not volumes × seeds, which would not be independent pairs).
import { mean } from '../stats.js';
import type { EpochRecord, RunReport, VolumeDice } from './types.js';

const finiteMean = (v: readonly (number | null | undefined)[]): number | null => {
  const f = v.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return f.length ? mean(f) : null;
};

/** Per-epoch means over the seeds that ran that epoch (early stopping may end seeds at different epochs). */
function mergeEpochs(reports: readonly RunReport[]): EpochRecord[] {
  const n = Math.max(...reports.map((r) => r.training.epochs.length));
  const out: EpochRecord[] = [];
  for (let k = 0; k < n; k++) {
    const rows = reports.map((r) => r.training.epochs[k]).filter((e): e is EpochRecord => e !== undefined);
    const images = rows.reduce((a, e) => a + e.imagesPerSec * e.seconds, 0);
    // seconds are summed over the seeds, so images/s over the merged epochs is the overall throughput
    const seconds = rows.reduce((a, e) => a + e.seconds, 0);
    const rec: EpochRecord = { epoch: k + 1, trainLoss: finiteMean(rows.map((e) => e.trainLoss)) ?? NaN, lr: rows[0]!.lr, seconds, imagesPerSec: seconds > 0 ? images / seconds : NaN };
    const valLoss = finiteMean(rows.map((e) => e.valLoss));
    const valDice = finiteMean(rows.map((e) => e.valDice));
    if (valLoss !== null) rec.valLoss = valLoss;
    if (valDice !== null) rec.valDice = valDice;
    out.push(rec);
  }
  return out;
}

/**
 * One RunReport from the reports of the seeds of a cell (in seed order). Per test volume: Dice of
 * each structure = mean over the seeds where it is defined (null if in none), the volume's mean
 * Dice = mean over the seeds of that seed's mean Dice. Training: per-epoch means of the curves,
 * seconds and wall time summed (the cell's total cost). The overlay, best epoch, command and
 * config are the first seed's; `seed` is the first seed and `config.seeds` lists them all.
 * A single report is returned as it is.
 */
export function mergeSeeds(reports: readonly RunReport[], name?: string): RunReport {
  if (reports.length === 0) throw new Error('mergeSeeds: no reports');
  const first = reports[0]!;
  if (reports.length === 1) return name ? { ...first, name } : first;
  for (const r of reports.slice(1)) {
    if (r.classes.join('\u0000') !== first.classes.join('\u0000')) throw new Error(`mergeSeeds: ${r.name} has classes [${r.classes.join(', ')}], ${first.name} [${first.classes.join(', ')}]`);
    const ids = r.test.volumes.map((v) => v.id).join('\u0000');
    if (ids !== first.test.volumes.map((v) => v.id).join('\u0000')) throw new Error(`mergeSeeds: ${r.name} and ${first.name} were tested on different volumes (not the same split)`);
    if (r.parameters.total !== first.parameters.total) throw new Error(`mergeSeeds: ${r.name} has ${r.parameters.total} parameters, ${first.name} ${first.parameters.total} (not the same network)`);
  }
  const volumes: VolumeDice[] = first.test.volumes.map((v, i) => {
    const per = reports.map((r) => r.test.volumes[i]!);
    return {
      id: v.id,
      dice: v.dice.map((_, k) => finiteMean(per.map((p) => p.dice[k]))),
      meanDice: finiteMean(per.map((p) => p.meanDice)) ?? NaN,
    };
  });
  const scores = volumes.map((v) => v.meanDice).filter((d) => Number.isFinite(d));
  const m = scores.length ? mean(scores) : NaN;
  const sd = scores.length > 1 ? Math.sqrt(scores.reduce((a, d) => a + (d - m) ** 2, 0) / (scores.length - 1)) : NaN;
  return {
    ...first,
    name: name ?? first.name,
    createdAt: reports.map((r) => r.createdAt).sort().at(-1)!,
    config: { ...first.config, seeds: reports.map((r) => r.seed) },
    training: { epochs: mergeEpochs(reports), wallSeconds: reports.reduce((a, r) => a + r.training.wallSeconds, 0), bestEpoch: first.training.bestEpoch },
    test: { volumes, mean: m, std: sd },
  };
}
