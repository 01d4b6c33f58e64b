// Checkpoints: one safetensors file holding the model's parameters and buffers under their
// PyTorch-style names, the optimizer's buffers under `optimizer.<name>`, and the rest (model
// config, classes, epoch/batch position, optimizer and scheduler scalars, RNG position) as JSON in
// the `scse` metadata entry. Written atomically (temp file + rename).
import type { Module } from '../nn/module.js';
import type { Optimizer, OptimizerStateDict } from '../optim/optimizer.js';
import { Tensor } from '../tensor.js';
import { readSafetensors, writeSafetensors, type StTensor } from './safetensors.js';

export const CHECKPOINT_FORMAT = 1;

export interface CheckpointMeta {
  format: number;
  /** model registry name and its resolved config */
  model: { name: string; config: Record<string, unknown> };
  classes: string[];
  /** the next epoch/batch to run (resume point) */
  epoch: number;
  batch: number;
  /** everything the trainer needs to continue exactly (losses so far, best score, seed, RNG stream...) */
  trainer: Record<string, unknown>;
  optimizer?: unknown;
  scheduler?: unknown;
}

function st(t: Tensor): StTensor {
  const data = t.dataSync();
  return { dtype: data instanceof Int32Array ? 'I32' : 'F32', shape: [...t.shape], data };
}

export function saveCheckpoint(path: string, model: Module, meta: Omit<CheckpointMeta, 'format' | 'optimizer'>, optimizer?: Optimizer<object>): void {
  const tensors = new Map<string, StTensor>();
  for (const [name, t] of model.stateDict()) tensors.set(name, st(t));
  let optMeta: unknown;
  if (optimizer) {
    const sd = optimizer.stateDict();
    optMeta = sd.meta;
    for (const [name, t] of sd.tensors) {
      tensors.set(`optimizer.${name}`, st(t));
      t.dispose();
    }
  }
  writeSafetensors(path, tensors, { scse: JSON.stringify({ ...meta, format: CHECKPOINT_FORMAT, optimizer: optMeta }) });
}

export interface LoadedCheckpoint {
  meta: CheckpointMeta;
  model: Map<string, StTensor>;
  optimizer: Map<string, StTensor>;
}

export function readCheckpoint(path: string): LoadedCheckpoint {
  const { tensors, metadata } = readSafetensors(path);
  if (!metadata.scse) throw new Error(`${path}: not an scse checkpoint (no 'scse' metadata entry)`);
  const meta = JSON.parse(metadata.scse) as CheckpointMeta;
  if (meta.format !== CHECKPOINT_FORMAT) throw new Error(`${path}: checkpoint format ${meta.format}, this version reads ${CHECKPOINT_FORMAT}`);
  const model = new Map<string, StTensor>();
  const optimizer = new Map<string, StTensor>();
  for (const [k, v] of tensors) {
    if (k.startsWith('optimizer.')) optimizer.set(k.slice('optimizer.'.length), v);
    else model.set(k, v);
  }
  return { meta, model, optimizer };
}

/** Loads the model part of a checkpoint (strict: same names and shapes). */
export function loadModelState(model: Module, ck: LoadedCheckpoint): void {
  const state = new Map<string, Tensor>();
  try {
    for (const [k, v] of ck.model) state.set(k, Tensor.fromArray(v.data, v.shape));
    model.loadStateDict(state);
  } finally {
    for (const t of state.values()) t.dispose();
  }
}

export function loadOptimizerState(optimizer: Optimizer<object>, ck: LoadedCheckpoint): void {
  if (!ck.meta.optimizer) throw new Error('checkpoint holds no optimizer state');
  const tensors = new Map<string, Float32Array>();
  for (const [k, v] of ck.optimizer) tensors.set(k, v.data as Float32Array);
  optimizer.loadStateDict({ meta: ck.meta.optimizer as OptimizerStateDict['meta'], tensors });
}
