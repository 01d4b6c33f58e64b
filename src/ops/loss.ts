// Fused softmax + cross-entropy over the class axis (last, NHWC) with optional per-pixel weights.
import { attach, needsGrad } from '../autograd/tape.js';
import { OpArgumentError, shapeStr } from '../errors.js';
import { native, type NativeTensor } from '../native.js';
import { Tensor } from '../tensor.js';
import * as check from './check.js';

declare module '../native.js' {
  interface NativeAddon {
    softmaxCrossEntropy(logits: NativeTensor, labels: NativeTensor, weights: NativeTensor | null): [NativeTensor, NativeTensor];
    softmaxCrossEntropyBackward(probs: NativeTensor, labels: NativeTensor, weights: NativeTensor | null, dy: NativeTensor): NativeTensor;
  }
}

const wrap = Tensor.fromHandle;
const OP = 'softmaxCrossEntropy';

/**
 * mean_i w_i * (-log softmax(logits_i)[labels_i]) over the P = N*H*W pixels of logits [N,H,W,K]
 * (int32 labels [N,H,W] in [0, K), optional float32 weights [N,H,W]; without weights this is
 * PyTorch's CrossEntropyLoss with mean reduction, with them QuickNAT's mean(w * ce)). Returns a
 * scalar (shape []) differentiable w.r.t. logits. Out-of-range labels and NaN/Inf logits throw,
 * naming the first offending position.
 */
export function softmaxCrossEntropy(logits: Tensor, labels: Tensor, weights: Tensor | null = null): Tensor {
  check.tensor(OP, 'logits', logits);
  check.tensor(OP, 'labels', labels, 'int32');
  if (logits.rank < 2) throw new OpArgumentError(OP, `argument 'logits' expected rank >= 2 ([N, H, W, K] NHWC), got shape ${shapeStr(logits.shape)}`);
  const pix = logits.shape.slice(0, -1);
  check.shape(OP, 'labels', labels, pix, `'logits' ${shapeStr(logits.shape)} without the class axis`);
  if (weights !== null && weights !== undefined) {
    check.tensor(OP, 'weights', weights);
    check.shape(OP, 'weights', weights, pix, `one weight per pixel of 'logits' ${shapeStr(logits.shape)}`);
  }
  if (logits.size === 0) throw new OpArgumentError(OP, `argument 'logits' must have at least one pixel and one class, got shape ${shapeStr(logits.shape)}`);
  const w = weights ?? null;
  check.sameDevice(OP, { logits, labels, weights: w });
  const [lossH, probs] = native.softmaxCrossEntropy(logits.handle, labels.handle, w?.handle ?? null);
  const loss = wrap(lossH);
  if (!needsGrad(logits)) {
    probs.dispose();
    return loss;
  }
  const ls = labels.handle.share();
  const ws = w ? w.handle.share() : null;
  const saved = ws ? [probs, ls, ws] : [probs, ls];
  attach(OP, [logits], [loss], saved, ([g]) => [wrap(native.softmaxCrossEntropyBackward(probs, ls, ws, g!.handle))]);
  return loss;
}
