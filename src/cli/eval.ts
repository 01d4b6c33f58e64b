import { Command } from 'commander';

import { modelFromCheckpoint } from '../train/predict.js';
import { evaluateSet } from '../train/evaluate.js';
import { prepareData } from '../train/pipeline.js';
import { runCommand } from './common.js';
import { deviceOption, resolveCliDevice } from './device.js';
import { addDataOptions, dataOptionsOf, type TrainCliOptions } from './train.js';

export function evalCommand(): Command {
  const cmd = new Command('eval').description(
    "evaluate a checkpoint on the test split of a data set: per-structure 3-D Dice per volume and the mean ± std of each volume's mean foreground Dice",
  );
  addDataOptions(cmd)
    .requiredOption('--checkpoint <file>', 'a checkpoint written by scse train')
    .addOption(deviceOption())
    .option('--json', 'machine-readable output');
  return cmd.action((o: TrainCliOptions & { checkpoint: string }) =>
    runCommand(o.json, () => {
      const device = resolveCliDevice(cmd, o.device);
      const loaded = modelFromCheckpoint(o.checkpoint, device);
      const data = prepareData({ ...dataOptionsOf(o), axis: loaded.axis ?? o.axis });
      if (data.classes.length !== loaded.model.config.numClasses) {
        throw new Error(`the checkpoint predicts ${loaded.model.config.numClasses} classes, the data has ${data.classes.length}`);
      }
      const ev = evaluateSet(loaded.model, data.test, { batchSize: 4, classes: data.classes.length });
      loaded.model.dispose();
      if (!o.json) {
        for (const v of ev.volumes) console.log(`${v.id}: mean foreground Dice ${v.meanDice.toFixed(3)}`);
        console.log(`test Dice over ${ev.volumes.length} volumes: ${ev.mean.toFixed(3)} ± ${ev.std.toFixed(3)}`);
      }
      return { classes: data.classes, mean: ev.mean, std: ev.std, volumes: ev.volumes };
    }),
  );
}
