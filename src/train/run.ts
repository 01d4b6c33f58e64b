// One training run end to end: data → model → train → best checkpoint → test evaluation → report.
// Used by `scse train` and, cell by cell, by `scse experiment`.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { createModel, type ModelName } from '../models/index.js';
import type { SeKind, SeOptions } from '../nn/se.js';
import { native } from '../native.js';
import { manualSeed } from '../random.js';
import { AXES } from '../data/subjects.js';
import { evaluateSet } from './evaluate.js';
import { prepareData, type DataOptions, type PreparedData } from './pipeline.js';
import { writeRunReport, type RunReport } from './report.js';
import { loadWeights, paperProtocol, train, type TrainConfig, type TrainResult } from './trainer.js';

/** How a run's model is built besides its network and SE kind (the same for an experiment's cells). */
export interface ModelSettings {
  seOptions: SeOptions;
  filters: number;
  kernel?: number;
  dropout: number;
}

export interface RunOptions extends ModelSettings {
  name: string;
  outDir: string;
  net: ModelName;
  se: SeKind;
  data: DataOptions;
  train: TrainConfig;
  resume?: boolean;
  command: string;
  device: string;
  signal?: AbortSignal;
  progress?: boolean;
  log?: (line: string) => void;
  /** called after each training batch (see TrainRun.onBatch) */
  onBatch?: (epoch: number, batch: number) => void;
  /** prepared data to reuse across runs (experiment cells share one split) */
  prepared?: PreparedData;
}

export interface RunOutcome {
  report: RunReport;
  result: TrainResult;
  interrupted: boolean;
}

const version = '0.1.0';

export async function runTraining(o: RunOptions): Promise<RunOutcome> {
  const log = o.log ?? (() => {});
  mkdirSync(o.outDir, { recursive: true });
  const data = o.prepared ?? prepareData(o.data);
  log(`data: ${data.description}; ${data.train.count} training, ${data.val?.count ?? 0} validation, ${data.test.count} test slices of ${data.train.H}×${data.train.W}`);
  manualSeed(o.train.seed);
  const model = createModel(o.net, {
    inChannels: 1,
    numClasses: data.classes.length,
    filters: o.filters,
    kernel: o.kernel,
    dropout: o.dropout,
    se: o.se,
    seOptions: o.seOptions,
  }).to(o.device);
  const config = { model: o.net, se: o.se, seOptions: o.seOptions, filters: o.filters, kernel: model.config.kernel, dropout: o.dropout, data: o.data, train: o.train };
  writeFileSync(join(o.outDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  const last = join(o.outDir, 'last.safetensors');
  try {
    const result = await train({
      model,
      modelName: o.net,
      modelConfig: { ...model.config },
      classes: data.classes,
      train: data.train,
      val: data.val,
      outDir: o.outDir,
      config: o.train,
      resume: o.resume && existsSync(last) ? last : undefined,
      signal: o.signal,
      progress: o.progress,
      log,
      onBatch: o.onBatch,
    });
    if (result.interrupted) return { report: undefined as unknown as RunReport, result, interrupted: true };
    const best = join(o.outDir, 'best.safetensors');
    if (existsSync(best)) loadWeights(model, best);
    const ev = evaluateSet(model, data.test, { batchSize: o.train.batchSize, classes: data.classes.length, includeBackground: o.train.includeBackground });
    const seParams = model.namedParameters().filter(([n]) => n.includes('.se.')).reduce((a, [, t]) => a + t.size, 0);
    const report: RunReport = {
      name: o.name,
      command: o.command,
      createdAt: new Date().toISOString(),
      versions: { scse: version, node: process.version, onednn: native.info().onednn },
      device: o.device,
      seed: o.train.seed,
      config,
      classes: data.classes,
      parameters: { total: model.numParameters(), se: seParams },
      training: {
        epochs: result.history.map((h) => ({ epoch: h.epoch, trainLoss: h.trainLoss, valLoss: h.valLoss, valDice: h.valDice, lr: h.lr, seconds: h.seconds, imagesPerSec: h.imagesPerSec })),
        wallSeconds: result.wallSeconds,
        bestEpoch: result.bestEpoch,
      },
      test: { volumes: ev.volumes.map((v) => ({ id: v.id, dice: v.dice, meanDice: v.meanDice })), mean: ev.mean, std: ev.std },
      overlay: pickOverlay(data, ev.predictions),
    };
    writeRunReport(o.outDir, report);
    return { report, result, interrupted: false };
  } finally {
    model.dispose();
  }
}

/** The test slice showing the most structures: input, truth and prediction for the overlay figure. */
function pickOverlay(data: PreparedData, predictions: Int32Array): RunReport['overlay'] {
  const { H, W, count } = data.test;
  let best = 0;
  let bestClasses = -1;
  for (let i = 0; i < count; i++) {
    const seen = new Set<number>();
    const lab = data.test.labels.subarray(i * H * W, (i + 1) * H * W);
    for (let k = 0; k < lab.length; k += 3) seen.add(lab[k]!);
    if (seen.size > bestClasses) {
      bestClasses = seen.size;
      best = i;
    }
  }
  const sl = (a: Float32Array | Int32Array) => a.slice(best * H * W, (best + 1) * H * W);
  const subject = data.test.subjects[data.test.subject[best]!]!;
  return {
    H,
    W,
    image: sl(data.test.images) as Float32Array,
    truth: sl(data.test.labels) as Int32Array,
    prediction: sl(predictions) as Int32Array,
    caption: `test subject ${subject.id}, slice ${data.test.position[best]} (${axisLabel(data.test.geometry[0]?.axis)})`,
  };
}

export { paperProtocol };

/** 'coronal slice' etc. for the overlay caption (geometry stores the axis index of the RAS volume). */
function axisLabel(axis: number | undefined): string {
  const name = (Object.keys(AXES) as (keyof typeof AXES)[]).find((k) => AXES[k] === axis);
  return name ? `${name} axis` : 'slice axis unknown';
}
