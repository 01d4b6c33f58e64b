// Fully connected layer y = x W^T + b with PyTorch's weight layout (W [out, in]), differentiable
// with respect to x, W and b.
import { attach, needsGrad } from '../autograd/tape.js';
import { OpArgumentError, shapeStr } from '../errors.js';
import { native, type NativeTensor } from '../native.js';
import { Tensor } from '../tensor.js';
import * as check from './check.js';

declare module '../native.js' {
  interface NativeAddon {
    linear(x: NativeTensor, w: NativeTensor, bias: NativeTensor | null): NativeTensor;
    linearBackward(x: NativeTensor, w: NativeTensor, dy: NativeTensor, withBias: boolean): NativeTensor[];
  }
}

const wrap = Tensor.fromHandle;

/** x [N, in], w [out, in], optional bias [out] -> [N, out]. */
export function linear(x: Tensor, w: Tensor, bias: Tensor | null = null): Tensor {
  check.tensor('linear', 'x', x);
  check.tensor('linear', 'w', w);
  if (bias !== null) check.tensor('linear', 'bias', bias);
  check.rank('linear', 'x', x, 2, ' [N, in]');
  check.rank('linear', 'w', w, 2, ' [out, in]');
  if (w.shape[1] !== x.shape[1]) {
    throw new OpArgumentError('linear', `argument 'w' ${shapeStr(w.shape)} expects ${w.shape[1]} input features but 'x' ${shapeStr(x.shape)} has ${x.shape[1]}`);
  }
  if (bias !== null) check.shape('linear', 'bias', bias, [w.shape[0]!], 'output features');
  check.sameDevice('linear', { x, w, bias });
  const y = wrap(native.linear(x.handle, w.handle, bias?.handle ?? null));
  if (needsGrad(x, w, bias)) {
    // Both gradients need both operands: dx = dy W, dW = dy^T x.
    const xs = x.handle.share();
    const ws = w.handle.share();
    const inputs = bias ? [x, w, bias] : [x, w];
    attach('linear', inputs, [y], [xs, ws], ([g]) => native.linearBackward(xs, ws, g!.handle, bias !== null).map(wrap));
  }
  return y;
}
