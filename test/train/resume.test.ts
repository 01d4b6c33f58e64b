// `scse train`'s interruption path: a run stopped mid-epoch through its AbortSignal (twice, in
// different epochs) and resumed from last.safetensors ends with the same weights, optimizer
// state, curves and test Dice as the run that was never stopped — bit for bit (same process,
// same thread count; the trainer saves the batch position, partial losses and RNG stream).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { readCheckpoint } from '../../src/train/checkpoint.js';
import { prepareData, type DataOptions, type PreparedData } from '../../src/train/pipeline.js';
import { runTraining, type RunOptions, type RunOutcome } from '../../src/train/run.js';
import { paperProtocol } from '../../src/train/trainer.js';

const root = mkdtempSync(join(tmpdir(), 'scse-resume-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const data: DataOptions = { data: 'phantom', axis: 'coronal', seed: 3, subjects: 5, size: 24, weights: true };
let prepared: PreparedData;
let whole: RunOutcome;
beforeAll(async () => {
  prepared = prepareData(data);
  whole = await runTraining(options(join(root, 'whole')));
});

/** U-Net + scSE with dropout (exercises the saved RNG stream) and an lr step after epoch 1. */
function options(outDir: string, extra: Partial<RunOptions> = {}): RunOptions {
  return {
    name: 'resume',
    outDir,
    net: 'unet',
    se: 'scse',
    seOptions: {},
    filters: 4,
    dropout: 0.2,
    data,
    train: { ...paperProtocol, epochs: 2, stepSize: 1, gamma: 0.5, patience: 0, seed: 7 },
    command: 'test',
    device: 'cpu',
    prepared,
    ...extra,
  };
}

/** Runs until `stopAt` = [epoch, batch] (0-based epoch, batches done) and aborts there. */
async function interruptedRun(outDir: string, stopAt: [number, number], resume: boolean): Promise<RunOutcome> {
  const controller = new AbortController();
  return runTraining(
    options(outDir, {
      resume,
      signal: controller.signal,
      onBatch: (e, b) => {
        if (e === stopAt[0] && b === stopAt[1]) controller.abort();
      },
    }),
  );
}

const strip = (h: RunOutcome['result']['history']) => h.map(({ seconds: _s, imagesPerSec: _i, ...rest }) => rest);

const tensors = (file: string) => {
  const ck = readCheckpoint(file);
  return { model: Object.fromEntries([...ck.model].map(([k, v]) => [k, Array.from(v.data)])), optimizer: Object.fromEntries([...ck.optimizer].map(([k, v]) => [k, Array.from(v.data)])), meta: ck.meta };
};

describe('runTraining interrupted and resumed', () => {
  it('ends with the same weights, curves and test Dice as an uninterrupted run', async () => {
    expect(whole.interrupted).toBe(false);
    const perEpoch = Math.ceil(prepared.train.count / paperProtocol.batchSize);
    expect(perEpoch).toBeGreaterThan(6);

    const dir = join(root, 'stopped');
    // stop in the first epoch after 3 batches
    const a = await interruptedRun(dir, [0, 3], false);
    expect(a.interrupted).toBe(true);
    expect(existsSync(join(dir, 'report.json'))).toBe(false);
    const atStop = readCheckpoint(join(dir, 'last.safetensors')).meta;
    expect(atStop).toMatchObject({ epoch: 0, batch: 3 });
    expect((atStop.trainer as { wallSeconds: number }).wallSeconds).toBeGreaterThan(0); // the partial epoch's time is kept
    // resume, stop again in the second epoch after 5 batches (the resumed first epoch is completed)
    const b = await interruptedRun(dir, [1, 5], true);
    expect(b.interrupted).toBe(true);
    expect(readCheckpoint(join(dir, 'last.safetensors')).meta).toMatchObject({ epoch: 1, batch: 5 });
    expect(b.result.history).toHaveLength(1);
    // and finish
    const c = await runTraining(options(dir, { resume: true }));
    expect(c.interrupted).toBe(false);

    expect(strip(c.result.history)).toEqual(strip(whole.result.history));
    expect(c.result.history.map((h) => h.lr)).toEqual([0.01, 0.005]);
    expect(c.result.bestEpoch).toBe(whole.result.bestEpoch);
    expect(c.report.test.volumes).toEqual(whole.report.test.volumes);
    expect(c.report.test.mean).toBe(whole.report.test.mean);
    for (const f of ['last.safetensors', 'best.safetensors']) {
      const x = tensors(join(dir, f));
      const y = tensors(join(root, 'whole', f));
      expect(Object.keys(x.model).length).toBeGreaterThan(10);
      expect(x.model).toEqual(y.model);
      expect(x.optimizer).toEqual(y.optimizer);
      expect({ ...x.meta, trainer: { ...(x.meta.trainer as object), wallSeconds: 0, history: strip((x.meta.trainer as { history: RunOutcome['result']['history'] }).history) } }).toEqual({
        ...y.meta,
        trainer: { ...(y.meta.trainer as object), wallSeconds: 0, history: strip((y.meta.trainer as { history: RunOutcome['result']['history'] }).history) },
      });
    }
  });
});

describe('runTraining killed without a chance to save', () => {
  it('restarts from the last end-of-epoch checkpoint and ends like the uninterrupted run', async () => {
    const dir = join(root, 'killed');
    // an exception in the middle of epoch 2 stands for a killed process: no mid-epoch checkpoint
    const kill = options(dir, {
      onBatch: (e, b) => {
        if (e === 1 && b === 4) throw new Error('killed');
      },
    });
    await expect(runTraining(kill)).rejects.toThrow('killed');
    expect(readCheckpoint(join(dir, 'last.safetensors')).meta).toMatchObject({ epoch: 1, batch: 0 });
    const c = await runTraining(options(dir, { resume: true }));
    expect(strip(c.result.history)).toEqual(strip(whole.result.history));
    expect(c.report.test.volumes).toEqual(whole.report.test.volumes);
    expect(tensors(join(dir, 'last.safetensors')).model).toEqual(tensors(join(root, 'whole', 'last.safetensors')).model);
    // metrics.jsonl has each epoch once
    expect(readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).epoch)).toEqual([1, 2]);
  });
});
