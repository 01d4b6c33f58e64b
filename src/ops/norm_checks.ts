// Argument checks shared by batchNorm (ops/norm.ts), batchNormAct (ops/norm_act.ts) and
// batchNormActSe (ops/norm_act_se.ts); not part of the public ops namespace.
import { OpArgumentError, shapeStr } from '../errors.js';
import type { Tensor } from '../tensor.js';
import * as check from './check.js';
import type { BatchNormOptions } from './norm.js';
import type { BatchNormActOptions, NormActivation } from './norm_act.js';

const ACT_CODE: Record<NormActivation, number> = { none: 0, relu: 1, prelu: 2 };

/**
 * The checks batchNorm and batchNormAct share: gamma/beta (and running statistics) of shape [C]
 * for the channels of `shape`, one device, eps > 0, momentum in [0, 1], no empty input.
 */
export function statsOptions(
  op: string,
  shape: readonly number[],
  opts: BatchNormOptions,
  tensors: { gamma: Tensor; beta: Tensor } & Record<string, Tensor | undefined>,
): { rm: Tensor | undefined; rv: Tensor | undefined; momentum: number; eps: number } {
  const C = shape[3]!;
  const why = `the channels of ${op === 'batchNorm' ? 'x' : 'concat(xs)'} ${shapeStr(shape)}`;
  check.shape(op, 'gamma', tensors.gamma, [C], why);
  check.shape(op, 'beta', tensors.beta, [C], why);
  const { runningMean: rm, runningVar: rv } = opts;
  for (const [name, t] of [
    ['runningMean', rm],
    ['runningVar', rv],
  ] as const) {
    if (t === undefined) continue;
    check.tensor(op, name, t);
    check.shape(op, name, t, [C], why);
  }
  if ((rm === undefined) !== (rv === undefined)) throw new OpArgumentError(op, "arguments 'runningMean' and 'runningVar' must be given together");
  check.sameDevice(op, { ...tensors, runningMean: rm, runningVar: rv });
  const eps = check.finiteNumber(op, 'eps', opts.eps ?? 1e-5);
  if (eps <= 0) throw new OpArgumentError(op, `argument 'eps' must be > 0, got ${eps}`);
  const momentum = check.finiteNumber(op, 'momentum', opts.momentum ?? 0.1);
  if (momentum < 0 || momentum > 1) throw new OpArgumentError(op, `argument 'momentum' must be in [0, 1], got ${momentum}`);
  if (shape.some((d) => d === 0)) throw new OpArgumentError(op, `argument '${op === 'batchNorm' ? 'x' : 'xs'}' must not be empty, got shape ${shapeStr(shape)}`);
  if (opts.training) {
    if (shape[0]! * shape[1]! * shape[2]! < 2) {
      throw new OpArgumentError(op, `training needs more than one value per channel (N*H*W > 1), got ${op === 'batchNorm' ? 'x' : 'concat(xs)'} of shape ${shapeStr(shape)}`);
    }
  } else if (!rm || !rv) {
    throw new OpArgumentError(op, "inference mode (training: false) needs 'runningMean' and 'runningVar'");
  }
  return { rm, rv, momentum, eps };
}

/** What batchNormAct's checks return (also used by batchNormActSe). */
export interface NormActArgs {
  list: Tensor[];
  activation: NormActivation;
  act: number; // the native activation code
  shape: number[]; // of concat(xs)
  slope: Tensor | undefined;
  rm: Tensor | undefined;
  rv: Tensor | undefined;
  momentum: number;
  eps: number;
}

/** Checks batchNormAct's arguments (names in errors under `op`), before any native call. */
export function normActArgs(op: string, xs: Tensor | Tensor[], gamma: Tensor, beta: Tensor, opts: BatchNormActOptions): NormActArgs {
  const list = Array.isArray(xs) ? xs : [xs];
  if (list.length === 0) throw new OpArgumentError(op, "argument 'xs' must be a non-empty array of tensors");
  list.forEach((t, i) => {
    check.tensor(op, `xs[${i}]`, t);
    check.rank(op, `xs[${i}]`, t, 4);
  });
  check.tensor(op, 'gamma', gamma);
  check.tensor(op, 'beta', beta);
  const s0 = list[0]!.shape;
  list.forEach((t, i) => {
    if (t.shape[0] !== s0[0] || t.shape[1] !== s0[1] || t.shape[2] !== s0[2]) {
      throw new OpArgumentError(op, `argument 'xs[${i}]' ${shapeStr(t.shape)} must match 'xs[0]' ${shapeStr(s0)} in N, H and W`);
    }
  });
  if (typeof opts !== 'object' || opts === null || typeof opts.training !== 'boolean') {
    throw new OpArgumentError(op, "argument 'opts.training' must be a boolean");
  }
  const activation = opts.activation ?? 'none';
  if (!(activation in ACT_CODE)) throw new OpArgumentError(op, `argument 'activation' must be 'none', 'relu' or 'prelu', got ${String(activation)}`);
  const shape = [s0[0]!, s0[1]!, s0[2]!, list.reduce((c, t) => c + t.shape[3]!, 0)];
  const { slope } = opts;
  if (activation === 'prelu') {
    if (slope === undefined) throw new OpArgumentError(op, "argument 'slope' is required for activation 'prelu'");
    check.tensor(op, 'slope', slope);
    if (slope.rank !== 1 || (slope.shape[0] !== 1 && slope.shape[0] !== shape[3])) {
      throw new OpArgumentError(op, `argument 'slope' expected shape [1] or [${shape[3]}] (the channels of concat(xs) ${shapeStr(shape)}), got ${shapeStr(slope.shape)}`);
    }
  } else if (slope !== undefined) {
    throw new OpArgumentError(op, `argument 'slope' is only for activation 'prelu', got activation '${activation}'`);
  }
  const named = Object.fromEntries(list.map((t, i) => [`xs[${i}]`, t]));
  const { rm, rv, momentum, eps } = statsOptions(op, shape, opts, { ...named, gamma, beta, slope });
  return { list, activation, act: ACT_CODE[activation], shape, slope, rm, rv, momentum, eps };
}
