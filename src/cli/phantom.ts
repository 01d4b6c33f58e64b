import { Command } from 'commander';

import { generatePhantomSet, writePhantomSet } from '../data/phantom.js';
import { intOption, floatOption, runCommand } from './common.js';

export function phantomCommand(): Command {
  return new Command('phantom')
    .description('write a synthetic phantom data set (NIfTI image/label pairs + manifest.json)')
    .requiredOption('--out <dir>', 'output directory')
    .option('--subjects <n>', 'number of subjects', intOption('--subjects', 1, 1000), 20)
    .option('--size <n>', 'volume side in voxels', intOption('--size', 24, 256), 96)
    .option('--classes <k>', 'number of classes incl. background (2..10)', intOption('--classes', 2, 10), 10)
    .option('--noise <sd>', 'Gaussian noise sd', floatOption('--noise', 0, 10), 0.05)
    .option('--seed <n>', 'random seed', intOption('--seed', 0, 4294967295), 1)
    .option('--json', 'machine-readable output')
    .action((o: { out: string; subjects: number; size: number; classes: number; noise: number; seed: number; json?: boolean }) =>
      runCommand(o.json, () => {
        const t0 = performance.now();
        const set = generatePhantomSet({ subjects: o.subjects, size: o.size, classes: o.classes, noise: o.noise, seed: o.seed });
        const manifest = writePhantomSet(o.out, set);
        const seconds = (performance.now() - t0) / 1000;
        if (!o.json) console.log(`wrote ${manifest.subjects.length} subjects (${o.size}³, ${set.classes.length} classes) and manifest.json to ${o.out} in ${seconds.toFixed(1)} s`);
        return { out: o.out, subjects: manifest.subjects.length, classes: set.classes, seconds };
      }),
    );
}
