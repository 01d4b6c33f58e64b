// Batch normalization fused with the activation that follows it, over channel-concatenated inputs:
// batchNormAct(xs, gamma, beta, { activation, slope, ...BatchNormOptions }) equals
// activation(batchNorm(concat(xs), gamma, beta, opts)) — values, gradients and running-statistics
// updates — in two passes over the data each way instead of the five to seven of the composition
// (native/cpu/norm_act.cc says why). On CUDA it is that composition (cuDNN's batch norm).
import { attach, needsGrad } from '../autograd/tape.js';
import { OpArgumentError, shapeStr } from '../errors.js';
import { native, type NativeTensor } from '../native.js';
import { Tensor } from '../tensor.js';
import * as check from './check.js';
import { prelu, relu } from './eltwise.js';
import { batchNorm, type BatchNormOptions } from './norm.js';
import { statsOptions } from './norm_checks.js';
import { concat } from './shape.js';

declare module '../native.js' {
  interface NativeAddon {
    batchNormActTrain(
      xs: NativeTensor[],
      gamma: NativeTensor,
      beta: NativeTensor,
      runningMean: NativeTensor | null,
      runningVar: NativeTensor | null,
      momentum: number,
      eps: number,
      act: number,
      slope: NativeTensor | null,
    ): [NativeTensor, NativeTensor, NativeTensor];
    batchNormActInfer(
      xs: NativeTensor[],
      gamma: NativeTensor,
      beta: NativeTensor,
      mean: NativeTensor,
      variance: NativeTensor,
      eps: number,
      act: number,
      slope: NativeTensor | null,
    ): NativeTensor;
    /** -> [dxs..., dgamma, dbeta, dslope | null] */
    batchNormActBackward(
      xs: NativeTensor[],
      mean: NativeTensor,
      variance: NativeTensor,
      gamma: NativeTensor,
      beta: NativeTensor,
      dy: NativeTensor,
      eps: number,
      globalStats: boolean,
      act: number,
      slope: NativeTensor | null,
    ): (NativeTensor | null)[];
  }
}

export type NormActivation = 'none' | 'relu' | 'prelu';

export interface BatchNormActOptions extends BatchNormOptions {
  /** applied to the normalized values; default 'none' */
  activation?: NormActivation;
  /** PReLU's slope, [1] (shared) or [C]; required for 'prelu' and only allowed there */
  slope?: Tensor;
}

const OP = 'batchNormAct';
const ACT_CODE: Record<NormActivation, number> = { none: 0, relu: 1, prelu: 2 };
const wrap = Tensor.fromHandle;

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

/**
 * act(gamma·(x − mean)/sqrt(var + eps) + beta) per channel of x = concat(xs) along the last
 * axis (NHWC tensors agreeing in N, H, W); `xs` may be one tensor.
 */
export function batchNormAct(xs: Tensor | Tensor[], gamma: Tensor, beta: Tensor, opts: BatchNormActOptions): Tensor {
  const { list, activation, act, slope, rm, rv, momentum, eps } = normActArgs(OP, xs, gamma, beta, opts);

  if (list[0]!.device !== 'cpu') {
    const z = batchNorm(list.length === 1 ? list[0]! : concat(list), gamma, beta, opts);
    if (activation === 'none') return z;
    const y = activation === 'relu' ? relu(z) : prelu(z, slope!);
    z.dispose();
    return y;
  }

  const handles = list.map((t) => t.handle);
  const slopeH = slope?.handle ?? null;
  let y: Tensor, mean: NativeTensor, variance: NativeTensor;
  if (opts.training) {
    const [yh, m, v] = native.batchNormActTrain(handles, gamma.handle, beta.handle, rm?.handle ?? null, rv?.handle ?? null, momentum, eps, act, slopeH);
    [y, mean, variance] = [wrap(yh), m, v];
  } else {
    y = wrap(native.batchNormActInfer(handles, gamma.handle, beta.handle, rm!.handle, rv!.handle, eps, act, slopeH));
    if (!needsGrad(...list, gamma, beta, slope)) return y;
    // copies: a later training step updates the running statistics in place
    [mean, variance] = [native.clone(rm!.handle), native.clone(rv!.handle)];
  }
  const inputs = slope ? [...list, gamma, beta, slope] : [...list, gamma, beta];
  if (!needsGrad(...inputs)) {
    mean.dispose();
    variance.dispose();
    return y;
  }
  const saved = [...handles.map((h) => h.share()), gamma.handle.share(), beta.handle.share(), ...(slopeH ? [slopeH.share()] : [])];
  const xsS = saved.slice(0, list.length);
  const [gS, bS, aS] = saved.slice(list.length);
  const globalStats = !opts.training;
  attach(OP, inputs, [y], [...saved, mean, variance], ([g]) => {
    const r = native.batchNormActBackward(xsS, mean, variance, gS!, bS!, g!.handle, eps, globalStats, act, aS ?? null);
    const grads = r.map((h) => (h ? wrap(h) : null));
    return slope ? grads : grads.slice(0, -1);
  });
  return y;
}
