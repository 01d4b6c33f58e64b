import { Command, Option } from 'commander';

import { predictFile, modelFromCheckpoint } from '../train/predict.js';
import type { Axis } from '../train/pipeline.js';
import { intOption, runCommand } from './common.js';
import { deviceOption, resolveCliDevice } from './device.js';

export function predictCommand(): Command {
  const cmd = new Command('predict')
    .description('segment a NIfTI volume with a trained checkpoint and write the label map (.nii.gz) aligned with the input')
    .requiredOption('--checkpoint <file>', 'a checkpoint written by scse train (e.g. runs/unet-scse/best.safetensors)')
    .requiredOption('--image <file>', 'input volume (.nii or .nii.gz)')
    .requiredOption('--out <file>', 'output label map (.nii.gz)')
    .addOption(new Option('--axis <axis>', "slice axis (default: the training run's, from its config.json)").choices(['sagittal', 'coronal', 'axial']))
    .option('--batch-size <n>', 'slices per forward pass', intOption('--batch-size', 1, 4096), 8)
    .addOption(deviceOption())
    .option('--json', 'machine-readable output');
  return cmd.action((o: { checkpoint: string; image: string; out: string; axis?: Axis; batchSize: number; device?: string; json?: boolean }) =>
    runCommand(o.json, () => {
      const device = resolveCliDevice(cmd, o.device);
      const loaded = modelFromCheckpoint(o.checkpoint, device);
      const axis = o.axis ?? loaded.axis ?? 'coronal';
      const t0 = performance.now();
      const { labels, subject } = predictFile(loaded, o.image, o.out, axis, o.batchSize);
      loaded.model.dispose();
      const counts = new Map<number, number>();
      for (const v of labels) counts.set(v, (counts.get(v) ?? 0) + 1);
      const classes = loaded.meta.classes;
      const seconds = (performance.now() - t0) / 1000;
      if (!o.json) console.log(`wrote ${o.out}: ${subject.dims.join('×')} voxels, ${counts.size} labels present, ${seconds.toFixed(1)} s (${axis} slices)`);
      return {
        out: o.out,
        axis,
        dims: subject.dims,
        seconds,
        voxels: Object.fromEntries([...counts].sort((a, b) => a[0] - b[0]).map(([k, v]) => [classes[k] ?? String(k), v])),
      };
    }),
  );
}
