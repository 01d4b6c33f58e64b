// Argument checks shared by batchNorm (ops/norm.ts) and batchNormAct (ops/norm_act.ts); not
// part of the public ops namespace.
import { OpArgumentError, shapeStr } from '../errors.js';
import type { Tensor } from '../tensor.js';
import * as check from './check.js';
import type { BatchNormOptions } from './norm.js';

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
