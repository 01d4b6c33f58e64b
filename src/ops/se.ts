// Fused squeeze & excitation ops (one native forward, one native backward for the whole block).
// The composed twin, built from generic ops, lives in src/nn/se.ts and is the reference.
import { attach, needsGrad } from '../autograd/tape.js';
import { native, type NativeTensor } from '../native.js';
import { Tensor } from '../tensor.js';
import { seArgs, seParamGrads } from './se_checks.js';

declare module '../native.js' {
  interface NativeAddon {
    seForward(mode: number, ...args: (NativeTensor | null)[]): NativeTensor[];
    seBackward(mode: number, ...args: (NativeTensor | null)[]): (NativeTensor | null)[];
  }
}

export type SeBlockKind = 'cse' | 'sse' | 'scse';
export type SeAggregation = 'add' | 'max' | 'mul';
export { seMode } from './se_checks.js';

/** Parameters of an SE block, PyTorch names: fc1 (C -> C/r), fc2 (C/r -> C), conv (1x1, C -> 1). */
export interface SeParams {
  fc1Weight?: Tensor; // [C/r, C]
  fc1Bias?: Tensor | null; // [C/r]
  fc2Weight?: Tensor; // [C, C/r]
  fc2Bias?: Tensor | null; // [C]
  convWeight?: Tensor; // [1, 1, 1, C] (OHWI)
  convBias?: Tensor; // [1]
}

const wrap = Tensor.fromHandle;

/**
 * The fused SE block on x [N,H,W,C]: cSE (x·σ(fc2(relu(fc1(mean_hw x))))), sSE (x·σ(conv(x))) or
 * scSE (both, aggregated by add | max | mul). Differentiable in x and every parameter.
 */
export function squeezeExcite(x: Tensor, kind: SeBlockKind, p: SeParams, aggregation: SeAggregation = 'add'): Tensor {
  const op = `squeezeExcite(${kind}${kind === 'scse' ? `, ${aggregation}` : ''})`;
  const { mode, inputs } = seArgs(op, x, kind, p, aggregation);
  const handles = inputs.map((t) => t?.handle ?? null);
  const [y, z, h, s, q] = native.seForward(mode, x.handle, ...handles).map(wrap) as [Tensor, Tensor, Tensor, Tensor, Tensor];
  const params = inputs.filter((t): t is Tensor => t !== null);
  if (needsGrad(x, ...params)) {
    const saved = [x.handle.share(), ...handles.map((hd) => hd?.share() ?? null)];
    const aux = [z, h, s, q].map((t) => t.handle.share());
    attach(op, [x, ...params], [y], [...saved.filter((t): t is NativeTensor => t !== null), ...aux], ([g]) => {
      const grads = native.seBackward(mode, ...saved, g!.handle, ...aux).map((t) => (t ? wrap(t) : null));
      // x's gradient, then those of the params actually passed, in order
      return [grads[0]!, ...seParamGrads(inputs, grads.slice(1))];
    });
  }
  for (const t of [z, h, s, q]) t.dispose();
  return y;
}
