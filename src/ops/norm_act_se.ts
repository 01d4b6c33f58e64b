// Batch norm + activation + squeeze & excitation in one op: batchNormActSe(x, gamma, beta, opts, se)
// equals squeezeExcite(batchNormAct(x, gamma, beta, opts), se.kind, se.params, se.aggregation) —
// values, gradients and running-statistics updates — what U-Net's and SD-Net's blocks end with.
// On the CPU it runs one native op that never stores the activations between the two
// (native/cpu/norm_act_se.cc says why: in training 4 + 5 passes over the data instead of 6 + 10;
// in eval mode 2 instead of 4). On CUDA, and in eval mode when a gradient is needed, it is that
// composition.
import { attach, needsGrad } from '../autograd/tape.js';
import { OpArgumentError } from '../errors.js';
import { native, type NativeTensor } from '../native.js';
import { Tensor } from '../tensor.js';
import { batchNormAct, type BatchNormActOptions } from './norm_act.js';
import { normActArgs } from './norm_checks.js';
import { squeezeExcite, type SeAggregation, type SeBlockKind, type SeParams } from './se.js';
import { seArgs, seParamGrads } from './se_checks.js';

declare module '../native.js' {
  interface NativeAddon {
    /** (mode, x, fc1.w, fc1.b, fc2.w, fc2.b, conv.w, conv.b, gamma, beta, runningMean, runningVar, momentum, eps, act, slope) -> [y, mean, var, z, hpre, s, q] */
    batchNormActSeTrain(...args: (NativeTensor | number | null)[]): NativeTensor[];
    /** (mode, x, fc1.w, .., conv.b, gamma, beta, runningMean, runningVar, eps, act, slope) -> y */
    batchNormActSeInfer(...args: (NativeTensor | number | null)[]): NativeTensor;
    /** (mode, x, fc1.w, .., conv.b, gamma, beta, mean, var, eps, act, slope, dy, z, hpre, s, q) -> [dx, dgamma, dbeta, dslope | null, dfc1.w, dfc1.b, dfc2.w, dfc2.b, dconv.w, dconv.b] */
    batchNormActSeBackward(...args: (NativeTensor | number | null)[]): (NativeTensor | null)[];
  }
}

/** The SE block that follows the batch norm: its kind, parameters and (scSE) aggregation. */
export interface SeSpec {
  kind: SeBlockKind;
  params: SeParams;
  aggregation?: SeAggregation;
}

const wrap = Tensor.fromHandle;

/** SE(act(BN(x))) on x [N,H,W,C]: batchNormAct's options, then the SE block's. */
export function batchNormActSe(x: Tensor, gamma: Tensor, beta: Tensor, opts: BatchNormActOptions, se: SeSpec): Tensor {
  if (typeof se !== 'object' || se === null) {
    throw new OpArgumentError('batchNormActSe', `argument 'se' must be an object { kind, params, aggregation? }, got ${se === null ? 'null' : typeof se}`);
  }
  const aggregation = se.aggregation ?? 'add';
  const op = `batchNormActSe(${se.kind}${se.kind === 'scse' ? `, ${aggregation}` : ''})`;
  const bn = normActArgs(op, x, gamma, beta, opts);
  const { mode, inputs } = seArgs(op, x, se.kind, se.params, aggregation);

  const seH = inputs.map((t) => t?.handle ?? null);
  const slopeH = bn.slope?.handle ?? null;
  const params = inputs.filter((t): t is Tensor => t !== null);
  const normInputs = bn.slope ? [x, gamma, beta, bn.slope] : [x, gamma, beta];
  const grad = needsGrad(...normInputs, ...params);
  if (x.device === 'cpu' && !opts.training && !grad) {
    return wrap(native.batchNormActSeInfer(mode, x.handle, ...seH, gamma.handle, beta.handle, bn.rm!.handle, bn.rv!.handle, bn.eps, bn.act, slopeH));
  }
  if (x.device !== 'cpu' || !opts.training) {
    const u = batchNormAct(x, gamma, beta, opts);
    const y = squeezeExcite(u, se.kind, se.params, aggregation);
    u.dispose(); // the SE's backward holds its own reference
    return y;
  }

  const [yh, mean, variance, ...aux] = native.batchNormActSeTrain(
    mode, x.handle, ...seH, gamma.handle, beta.handle, bn.rm?.handle ?? null, bn.rv?.handle ?? null, bn.momentum, bn.eps, bn.act, slopeH,
  ) as [NativeTensor, NativeTensor, NativeTensor, ...NativeTensor[]];
  const y = wrap(yh);
  if (!grad) {
    for (const t of [mean, variance, ...aux]) t.dispose();
    return y;
  }
  const xS = x.handle.share();
  const seS = seH.map((h) => h?.share() ?? null);
  const [gS, bS] = [gamma.handle.share(), beta.handle.share()];
  const aS = slopeH?.share() ?? null;
  const saved = [xS, ...seS, gS, bS, aS, mean, variance, ...aux].filter((t): t is NativeTensor => t !== null);
  attach(op, [...normInputs, ...params], [y], saved, ([g]) => {
    const r = native
      .batchNormActSeBackward(mode, xS, ...seS, gS, bS, mean, variance, bn.eps, bn.act, aS, g!.handle, ...aux)
      .map((h) => (h ? wrap(h) : null));
    const [dx, dgamma, dbeta, dslope] = r;
    return [dx!, dgamma!, dbeta!, ...(bn.slope ? [dslope!] : []), ...seParamGrads(inputs, r.slice(4))];
  });
  return y;
}
