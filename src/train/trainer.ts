// The training loop of the paper's protocol (defaults: SGD lr 0.01, momentum 0.95, weight decay
// 1e-4, lr ÷10 every 10 epochs, batch 4, weighted cross-entropy + Dice 1:1), with per-epoch
// validation (loss and per-volume Dice), best checkpoint by validation Dice, early stopping on a
// converged validation loss, metrics.jsonl, a progress bar, exact resume and clean interruption.
//
// Determinism: batches are drawn from (seed, epoch) and dropout from the native generator, whose
// position is saved; a run resumed from any checkpoint (end of epoch or interrupted mid-epoch)
// reproduces the uninterrupted run bit for bit (same thread count).
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import cliProgress from 'cli-progress';

import { noGrad } from '../autograd/tape.js';
import { tidy } from '../autograd/scope.js';
import { batches } from '../data/loader.js';
import type { SliceSet } from '../data/slices.js';
import type { Module } from '../nn/module.js';
import { combinedLoss } from '../ops/dice.js';
import { Adam } from '../optim/adam.js';
import type { Optimizer } from '../optim/optimizer.js';
import { StepLR } from '../optim/schedulers.js';
import { SGD } from '../optim/sgd.js';
import { randomState, setRandomState } from '../random.js';
import { Tensor } from '../tensor.js';
import { loadModelState, loadOptimizerState, readCheckpoint, saveCheckpoint } from './checkpoint.js';
import { evaluateSet, type SetEvaluation } from './evaluate.js';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  optimizer: 'sgd' | 'adam';
  lr: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
  /** StepLR: multiply the lr by `gamma` every `stepSize` epochs */
  stepSize: number;
  gamma: number;
  /** stop after this many epochs without a better validation loss (0 = never) */
  patience: number;
  /** relative improvement of the validation loss that counts as better */
  minDelta: number;
  seed: number;
  /** Dice over background too (default: foreground classes only) */
  includeBackground: boolean;
  augment?: { translate?: number; intensity?: { scale: number; shift: number } };
}

export const paperProtocol: TrainConfig = {
  epochs: 30,
  batchSize: 4,
  optimizer: 'sgd',
  lr: 0.01,
  momentum: 0.95,
  weightDecay: 1e-4,
  nesterov: false,
  stepSize: 10,
  gamma: 0.1,
  patience: 5,
  minDelta: 1e-3,
  seed: 1,
  includeBackground: false,
};

export interface EpochMetrics {
  epoch: number;
  trainLoss: number;
  trainCe: number;
  trainDice: number;
  valLoss?: number;
  valDice?: number;
  lr: number;
  seconds: number;
  imagesPerSec: number;
}

export interface TrainRun {
  model: Module;
  modelName: string;
  modelConfig: Record<string, unknown>;
  classes: string[];
  train: SliceSet;
  val: SliceSet | null;
  outDir: string;
  config: TrainConfig;
  /** resume from this checkpoint (e.g. runs/x/last.safetensors) */
  resume?: string;
  /** aborting saves `last.safetensors` at the current batch and returns with interrupted = true */
  signal?: AbortSignal;
  progress?: boolean;
  log?: (line: string) => void;
  /** called after each optimizer step with the 0-based epoch and the batches done in it (hooks, tests) */
  onBatch?: (epoch: number, batch: number) => void;
}

export interface TrainResult {
  history: EpochMetrics[];
  bestEpoch: number;
  bestValDice: number;
  interrupted: boolean;
  stoppedEarly: boolean;
  wallSeconds: number;
  lastValidation?: SetEvaluation;
}

interface TrainerState {
  history: EpochMetrics[];
  bestValDice: number;
  bestEpoch: number;
  bestValLoss: number;
  epochsWithoutImprovement: number;
  partial: { loss: number; ce: number; dice: number; images: number; seconds: number };
  random: { seed: number; stream: number };
  wallSeconds: number;
}

function makeOptimizer(model: Module, c: TrainConfig): Optimizer<object> {
  const params = model.parameters();
  if (c.optimizer === 'adam') return new Adam(params, { lr: c.lr, weightDecay: c.weightDecay }) as Optimizer<object>;
  return new SGD(params, { lr: c.lr, momentum: c.momentum, weightDecay: c.weightDecay, nesterov: c.nesterov }) as Optimizer<object>;
}

const emptyPartial = () => ({ loss: 0, ce: 0, dice: 0, images: 0, seconds: 0 });

export async function train(run: TrainRun): Promise<TrainResult> {
  const { model, config: c, outDir } = run;
  const log = run.log ?? (() => {});
  mkdirSync(outDir, { recursive: true });
  const opt = makeOptimizer(model, c);
  const sched = new StepLR(opt, { stepSize: c.stepSize, gamma: c.gamma });
  let startEpoch = 0;
  let startBatch = 0;
  let st: TrainerState = {
    history: [],
    bestValDice: -Infinity,
    bestEpoch: -1,
    bestValLoss: Infinity,
    epochsWithoutImprovement: 0,
    partial: emptyPartial(),
    random: randomState(),
    wallSeconds: 0,
  };
  if (run.resume) {
    const ck = readCheckpoint(run.resume);
    loadModelState(model, ck);
    loadOptimizerState(opt, ck);
    sched.loadStateDict(ck.meta.scheduler as Parameters<StepLR['loadStateDict']>[0]);
    st = ck.meta.trainer as unknown as TrainerState;
    st.bestValDice = Number(st.bestValDice);
    st.bestValLoss = Number(st.bestValLoss);
    setRandomState(st.random);
    startEpoch = ck.meta.epoch;
    startBatch = ck.meta.batch;
    log(`resuming from ${run.resume} at epoch ${startEpoch + 1}, batch ${startBatch}`);
  }

  const save = (name: string, epoch: number, batch: number): void => {
    st.random = randomState();
    const trainer = { ...st, bestValDice: String(st.bestValDice), bestValLoss: String(st.bestValLoss) };
    saveCheckpoint(
      join(outDir, name),
      model,
      {
        model: { name: run.modelName, config: run.modelConfig },
        classes: run.classes,
        epoch,
        batch,
        trainer,
        scheduler: sched.stateDict(),
      },
      opt,
    );
  };

  const { H, W } = run.train;
  const device = model.device;
  const perEpoch = Math.ceil(run.train.count / c.batchSize);
  const bar =
    run.progress && process.stderr.isTTY
      ? new cliProgress.SingleBar(
          { format: 'epoch {epoch} |{bar}| {value}/{total} batches | loss {loss} | {ips} img/s | ETA {eta_formatted}', hideCursor: true },
          cliProgress.Presets.shades_classic,
        )
      : null;
  const metricsPath = join(outDir, 'metrics.jsonl');
  if (!run.resume && existsSync(metricsPath)) writeFileSync(metricsPath, '');
  let interrupted = false;
  let stoppedEarly = false;
  let lastValidation: SetEvaluation | undefined;
  const runStart = performance.now() - st.wallSeconds * 1000;

  try {
    for (let epoch = startEpoch; epoch < c.epochs; epoch++) {
      model.train();
      const lr = opt.lr;
      bar?.start(perEpoch, startBatch, { epoch: epoch + 1, loss: '-', ips: '-' });
      let b = startBatch;
      for (const batch of batches(run.train, { batchSize: c.batchSize, shuffle: true, seed: c.seed, epoch, startBatch, augment: c.augment })) {
        if (run.signal?.aborted) {
          interrupted = true;
          break;
        }
        const t0 = performance.now();
        const x = Tensor.fromArray(batch.x, [batch.n, H, W, 1], { device });
        const y = Tensor.fromArray(batch.y, [batch.n, H, W], { device });
        const w = batch.w ? Tensor.fromArray(batch.w, [batch.n, H, W], { device }) : null;
        const parts = tidy(() => combinedLoss(model.forward(x), y, w, { includeBackground: c.includeBackground }));
        // the loss values are read while backward and the step are queued (on CUDA the read
        // runs on a worker thread and sees the values as of now)
        const read = Promise.all([parts.loss.data(), parts.ce.data(), parts.dice.data()]);
        parts.loss.backward();
        for (const t of [parts.loss, parts.ce, parts.dice, x, y, w]) t?.dispose();
        opt.step();
        opt.zeroGrad();
        const [lossV, ceV, diceV] = await read;
        const values = { loss: lossV[0]!, ce: ceV[0]!, dice: diceV[0]! };
        if (!Number.isFinite(values.loss)) throw new Error(`training diverged: loss is ${values.loss} at epoch ${epoch + 1}, batch ${b + 1} (lower the learning rate?)`);
        const p = st.partial;
        p.loss += values.loss * batch.n;
        p.ce += values.ce * batch.n;
        p.dice += values.dice * batch.n;
        p.images += batch.n;
        p.seconds += (performance.now() - t0) / 1000;
        b++;
        run.onBatch?.(epoch, b);
        bar?.update(b, { loss: (p.loss / p.images).toFixed(4), ips: (p.images / p.seconds).toFixed(1) });
        await new Promise<void>((r) => setImmediate(r)); // lets Ctrl-C (SIGINT) reach the signal
      }
      bar?.stop();
      if (interrupted) {
        st.wallSeconds = (performance.now() - runStart) / 1000; // a resumed run's wall time counts this part too
        save('last.safetensors', epoch, b);
        log(`interrupted: saved ${join(outDir, 'last.safetensors')} at epoch ${epoch + 1}, batch ${b}; resume with --resume`);
        break;
      }
      startBatch = 0;
      const p = st.partial;
      const row: EpochMetrics = {
        epoch: epoch + 1,
        trainLoss: p.loss / p.images,
        trainCe: p.ce / p.images,
        trainDice: p.dice / p.images,
        lr,
        seconds: p.seconds,
        imagesPerSec: p.images / p.seconds,
      };
      st.partial = emptyPartial();
      if (run.val && run.val.count > 0) {
        lastValidation = evaluateSet(model, run.val, { batchSize: c.batchSize, includeBackground: c.includeBackground, classes: run.classes.length });
        row.valLoss = lastValidation.loss;
        row.valDice = lastValidation.mean;
      }
      sched.step();
      st.history.push(row);
      appendFileSync(metricsPath, `${JSON.stringify(row)}\n`);
      log(
        `epoch ${row.epoch}/${c.epochs}: train loss ${row.trainLoss.toFixed(4)}` +
          (row.valLoss !== undefined ? `, val loss ${row.valLoss.toFixed(4)}, val Dice ${row.valDice!.toFixed(4)}` : '') +
          `, ${row.imagesPerSec.toFixed(1)} img/s`,
      );
      const score = row.valDice ?? -row.trainLoss;
      if (score > st.bestValDice) {
        st.bestValDice = score;
        st.bestEpoch = row.epoch;
        st.wallSeconds = (performance.now() - runStart) / 1000;
        save('best.safetensors', epoch + 1, 0);
      }
      const monitored = row.valLoss ?? row.trainLoss;
      if (monitored < st.bestValLoss * (1 - c.minDelta)) {
        st.bestValLoss = monitored;
        st.epochsWithoutImprovement = 0;
      } else st.epochsWithoutImprovement++;
      st.wallSeconds = (performance.now() - runStart) / 1000;
      save('last.safetensors', epoch + 1, 0);
      if (c.patience > 0 && st.epochsWithoutImprovement >= c.patience) {
        stoppedEarly = true;
        log(`stopping: validation loss has not improved for ${c.patience} epochs`);
        break;
      }
    }
  } finally {
    bar?.stop();
    opt.dispose();
  }
  return {
    history: st.history,
    bestEpoch: st.bestEpoch,
    bestValDice: st.bestValDice,
    interrupted,
    stoppedEarly,
    wallSeconds: (performance.now() - runStart) / 1000,
    lastValidation,
  };
}

/** Loads the weights of a checkpoint into a model (used after training: best.safetensors). */
export function loadWeights(model: Module, path: string): void {
  noGrad(() => loadModelState(model, readCheckpoint(path)));
}
