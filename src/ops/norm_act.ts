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
import { normActArgs } from './norm_checks.js';
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
const wrap = Tensor.fromHandle;

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
