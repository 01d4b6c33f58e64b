// Options shared by the three F-CNNs, their defaults and checks.
import { OpArgumentError } from '../errors.js';
import type { SeKind, SeOptions } from '../nn/se.js';

export type ModelName = 'unet' | 'sdnet' | 'densenet';
export const modelNames: readonly ModelName[] = ['unet', 'sdnet', 'densenet'];

export interface ModelOptions {
  /** input channels (default 1) */
  inChannels?: number;
  /** output classes, background included (required) */
  numClasses: number;
  /** feature maps of every block (default 64) */
  filters?: number;
  /** odd kernel size of the k×k convolutions (default 5; SD-Net 7) */
  kernel?: number;
  /** Dropout2d probability at the end of every block, before SE (default 0 = off; QuickNAT: 0.2) */
  dropout?: number;
  /** SE block after each encoder and decoder block (default 'none') */
  se?: SeKind;
  seOptions?: SeOptions;
}

/** Every option resolved; stored on the model (and in checkpoints) as its config. */
export interface ModelConfig {
  inChannels: number;
  numClasses: number;
  filters: number;
  kernel: number;
  dropout: number;
  se: SeKind;
  seOptions: SeOptions;
}

export const defaultKernel: Record<ModelName, number> = { unet: 5, sdnet: 7, densenet: 5 };

function int(model: string, arg: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new OpArgumentError(model, `option '${arg}' must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

export function resolveOptions(model: ModelName, opts: ModelOptions): ModelConfig {
  if (typeof opts !== 'object' || opts === null) throw new OpArgumentError(model, "options must be an object with at least 'numClasses'");
  if (opts.numClasses === undefined) throw new OpArgumentError(model, "option 'numClasses' is required");
  const kernel = int(model, 'kernel', opts.kernel ?? defaultKernel[model], 1);
  if (kernel % 2 === 0) throw new OpArgumentError(model, `option 'kernel' must be odd (padding (k-1)/2 keeps the spatial size), got ${kernel}`);
  const dropout = opts.dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) throw new OpArgumentError(model, `option 'dropout' must be in [0, 1), got ${String(dropout)}`);
  const se = opts.se ?? 'none';
  if (!['none', 'cse', 'sse', 'scse'].includes(se)) throw new OpArgumentError(model, `option 'se' must be none|cse|sse|scse, got '${String(se)}'`);
  return {
    inChannels: int(model, 'inChannels', opts.inChannels ?? 1, 1),
    numClasses: int(model, 'numClasses', opts.numClasses, 1),
    filters: int(model, 'filters', opts.filters ?? 64, 1),
    kernel,
    dropout,
    se,
    seOptions: { ...(opts.seOptions ?? {}) },
  };
}
