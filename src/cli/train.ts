import { Command, Option } from 'commander';

import { modelNames, type ModelName } from '../models/index.js';
import type { SeKind } from '../nn/se.js';
import type { DataOptions } from '../train/pipeline.js';
import { runTraining, type ModelSettings } from '../train/run.js';
import { paperProtocol, type TrainConfig } from '../train/trainer.js';
import { abortOnSigint, choice, floatOption, intOption, runCommand } from './common.js';
import { deviceOption, resolveCliDevice } from './device.js';

/** The flags of train (and, but for net, se, augment and resume, of experiment); the schedule's names are TrainConfig's. */
export interface TrainCliOptions extends Pick<TrainConfig, 'epochs' | 'batchSize' | 'optimizer' | 'lr' | 'momentum' | 'weightDecay' | 'stepSize' | 'gamma' | 'patience' | 'seed'> {
  data: string;
  label?: string;
  labels?: string;
  merge?: 'lobe' | 'prefix';
  axis: 'sagittal' | 'coronal' | 'axial';
  subjects: number;
  size: number;
  classes?: number;
  net: ModelName;
  se: SeKind;
  aggregation: 'add' | 'max' | 'mul';
  reduction: number;
  seBias: boolean;
  filters: number;
  kernel?: number;
  dropout: number;
  weights: boolean;
  dropEmpty?: boolean;
  cacheDir: string;
  augment: number;
  out?: string;
  resume?: boolean;
  device?: string;
  json?: boolean;
  progress: boolean;
}

/** The data and model options shared by train, eval and experiment. */
export function addDataOptions(cmd: Command): Command {
  return cmd
    .option('--data <source>', "'phantom' (built-in synthetic subjects), a manifest (.json/.csv), a folder of <id>_image/<id>_label.nii.gz pairs, or one image .nii.gz (with --label)", 'phantom')
    .option('--label <file>', 'label volume for a single --data image (split into interleaved blocks of slices)')
    .option('--labels <file>', 'label map: JSON {"source": target} or an atlas text file like aal.nii.txt')
    .addOption(new Option('--merge <rule>', 'merge atlas regions into larger classes').choices(['lobe', 'prefix']))
    .addOption(new Option('--axis <axis>', 'slice axis of the canonical (RAS) volume').choices(['sagittal', 'coronal', 'axial']).default('coronal'))
    .option('--subjects <n>', 'phantom: number of subjects', intOption('--subjects', 3, 1000), 12)
    .option('--size <n>', 'phantom: volume side in voxels', intOption('--size', 24, 256), 64)
    .option('--classes <k>', 'phantom: number of classes incl. background', intOption('--classes', 2, 10))
    .option('--seed <n>', 'seed for data split, initialisation, shuffling and dropout', intOption('--seed', 0, 4294967295), paperProtocol.seed)
    .option('--no-weights', 'no median-frequency / boundary weighting of the cross-entropy')
    .option('--drop-empty', 'leave out slices that hold only background')
    .option('--cache-dir <dir>', 'where class-weight maps are cached (computed once per training set)', 'runs/.cache');
}

type DataCliOptions = Pick<TrainCliOptions, 'data' | 'label' | 'labels' | 'merge' | 'axis' | 'seed' | 'subjects' | 'size' | 'classes' | 'weights' | 'dropEmpty' | 'cacheDir'>;

/** The DataOptions that addDataOptions' flags give. */
export function dataOptionsOf(o: DataCliOptions): DataOptions {
  const { data, label, labels, merge, axis, seed, subjects, size, classes, weights, dropEmpty, cacheDir } = o;
  return { data, label, labels, merge, axis, seed, subjects, size, classes, weights, dropEmpty, cacheDir };
}

/** The SE, model-size and schedule options shared by train and experiment (defaults: the paper's protocol). */
export function addModelScheduleOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--aggregation <agg>', 'scSE aggregation').choices(['add', 'max', 'mul']).default('add'))
    .option('--reduction <r>', 'cSE reduction ratio', intOption('--reduction', 1, 1024), 2)
    .option('--no-se-bias', 'no biases in the cSE MLP (the paper’s parameter count)')
    .option('--filters <n>', 'feature maps per block', intOption('--filters', 1, 1024), 32)
    .option('--kernel <k>', 'conv kernel size (default 5; SD-Net 7)', intOption('--kernel', 1, 31))
    .option('--dropout <p>', 'Dropout2d probability after each block', floatOption('--dropout', 0, 1), 0)
    .option('--epochs <n>', 'maximum epochs', intOption('--epochs', 1, 100000), 12)
    .option('--batch-size <n>', 'batch size', intOption('--batch-size', 1, 4096), paperProtocol.batchSize)
    .addOption(new Option('--optimizer <opt>', 'optimizer').choices(['sgd', 'adam']).default('sgd'))
    .option('--lr <lr>', 'learning rate', floatOption('--lr', 0, 10), paperProtocol.lr)
    .option('--momentum <m>', 'SGD momentum', floatOption('--momentum', 0, 1), paperProtocol.momentum)
    .option('--weight-decay <wd>', 'weight decay', floatOption('--weight-decay', 0, 1), paperProtocol.weightDecay)
    .option('--step-size <n>', 'divide the lr by 1/gamma every n epochs', intOption('--step-size', 1, 100000), paperProtocol.stepSize)
    .option('--gamma <g>', 'lr factor of the step schedule', floatOption('--gamma', 0, 1), paperProtocol.gamma)
    .option('--patience <n>', 'stop after n epochs without a better validation loss (0: never)', intOption('--patience', 0, 100000), paperProtocol.patience)
    .option('--augment <pixels>', 'random translation by up to this many pixels plus intensity jitter (±10% scale, ±0.05 shift)', intOption('--augment', 0, 64), 0);
}

/** The model settings and the schedule (the paper's protocol but for the flags) that addModelScheduleOptions' flags give; the training seed is --seed. */
export function modelScheduleOf(o: Omit<TrainCliOptions, 'net' | 'se' | 'resume'>): ModelSettings & { train: TrainConfig } {
  return {
    seOptions: { aggregation: o.aggregation, reduction: o.reduction, bias: o.seBias },
    filters: o.filters,
    kernel: o.kernel,
    dropout: o.dropout,
    train: {
      ...paperProtocol,
      epochs: o.epochs,
      batchSize: o.batchSize,
      optimizer: o.optimizer,
      lr: o.lr,
      momentum: o.momentum,
      weightDecay: o.weightDecay,
      stepSize: o.stepSize,
      gamma: o.gamma,
      patience: o.patience,
      seed: o.seed,
      augment: o.augment > 0 ? { translate: o.augment, intensity: { scale: 0.1, shift: 0.05 } } : undefined,
    },
  };
}

export function trainCommand(): Command {
  const cmd = new Command('train').description(
    "train a segmentation network (default: U-Net + scSE on the built-in phantom data with the paper's protocol), evaluate it on the held-out subjects and write runs/<name>/report.md",
  );
  addModelScheduleOptions(addDataOptions(cmd))
    .addOption(new Option('--net <name>', 'network').choices([...modelNames]).default('unet'))
    .addOption(new Option('--se <kind>', 'squeeze & excitation blocks').choices(['none', 'cse', 'sse', 'scse']).default('scse'))
    .option('--out <dir>', 'run directory (default runs/<net>-<se>)')
    .option('--resume', 'continue from <out>/last.safetensors')
    .option('--no-progress', 'no progress bar')
    .addOption(deviceOption())
    .option('--json', 'machine-readable summary on stdout');
  return cmd.action((o: TrainCliOptions) =>
    runCommand(o.json, async () => {
      const device = resolveCliDevice(cmd, o.device);
      const out = o.out ?? `runs/${o.net}-${o.se}`;
      const sigint = abortOnSigint('\nscse: interrupted — finishing the current batch and saving a checkpoint (Ctrl-C again to quit at once)');
      const log = o.json ? (l: string) => console.error(l) : (l: string) => console.log(l);
      try {
        const { train, ...model } = modelScheduleOf(o);
        const r = await runTraining({
          name: out.split('/').pop() ?? out,
          outDir: out,
          net: o.net,
          se: o.se,
          ...model,
          data: dataOptionsOf(o),
          train,
          resume: o.resume,
          command: `scse ${process.argv.slice(2).join(' ')}`,
          device,
          signal: sigint.signal,
          progress: o.progress && !o.json,
          log,
        });
        if (r.interrupted) {
          process.exitCode = 130;
          return { interrupted: true, out };
        }
        const t = r.report.test;
        log(`test Dice (mean ± std over ${t.volumes.length} volumes of each volume's mean foreground Dice): ${t.mean.toFixed(3)} ± ${t.std.toFixed(3)}`);
        log(`report: ${out}/report.md`);
        return { out, test: { mean: t.mean, std: t.std, volumes: t.volumes }, bestEpoch: r.result.bestEpoch, epochs: r.result.history.length, wallSeconds: r.result.wallSeconds };
      } finally {
        sigint.release();
      }
    }),
  );
}
