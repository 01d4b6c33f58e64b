// Elementwise and broadcasting ops with their gradients: relu, sigmoid, prelu, add/sub/mul/div/
// maximum/minimum (NHWC broadcasting: per-channel [C] / [N,1,1,C], per-pixel [N,H,W,1]), scale.
import { attach, needsGrad } from '../autograd/tape.js';
import { native, type NativeTensor } from '../native.js';
import { Tensor } from '../tensor.js';
import * as check from './check.js';

declare module '../native.js' {
  interface NativeAddon {
    relu(x: NativeTensor): NativeTensor;
    reluBackward(x: NativeTensor, dy: NativeTensor): NativeTensor;
    sigmoid(x: NativeTensor): NativeTensor;
    sigmoidBackward(y: NativeTensor, dy: NativeTensor): NativeTensor;
    affine(x: NativeTensor, a: number, b: number): NativeTensor;
    prelu(x: NativeTensor, slope: NativeTensor): NativeTensor;
    preluBackward(x: NativeTensor, slope: NativeTensor, dy: NativeTensor): [NativeTensor, NativeTensor];
    sumTo(x: NativeTensor, shape: readonly number[]): NativeTensor;
  }
}

const wrap = Tensor.fromHandle;

export function relu(x: Tensor): Tensor {
  check.tensor('relu', 'x', x);
  const y = wrap(native.relu(x.handle));
  if (needsGrad(x)) {
    const xs = x.handle.share();
    attach('relu', [x], [y], [xs], ([g]) => [wrap(native.reluBackward(xs, g!.handle))]);
  }
  return y;
}

export function sigmoid(x: Tensor): Tensor {
  check.tensor('sigmoid', 'x', x);
  const y = wrap(native.sigmoid(x.handle));
  if (needsGrad(x)) {
    const ys = y.handle.share();
    attach('sigmoid', [x], [y], [ys], ([g]) => [wrap(native.sigmoidBackward(ys, g!.handle))]);
  }
  return y;
}

/** a*x + b with scalars a, b. */
export function scale(x: Tensor, a: number, b = 0): Tensor {
  check.tensor('scale', 'x', x);
  check.finiteNumber('scale', 'a', a);
  check.finiteNumber('scale', 'b', b);
  const y = wrap(native.affine(x.handle, a, b));
  if (needsGrad(x)) attach('scale', [x], [y], [], ([g]) => [wrap(native.affine(g!.handle, a, 0))]);
  return y;
}

export function neg(x: Tensor): Tensor {
  return scale(x, -1);
}

/** PReLU with one shared slope (shape [1]) or one per channel (shape [C], C = last dim). */
export function prelu(x: Tensor, slope: Tensor): Tensor {
  check.tensor('prelu', 'x', x);
  check.tensor('prelu', 'slope', slope);
  const C = x.shape[x.rank - 1] ?? 1;
  if (slope.rank !== 1 || (slope.shape[0] !== 1 && slope.shape[0] !== C)) {
    check.shape('prelu', 'slope', slope, [slope.shape[0] === 1 ? 1 : C], `[1] or [${C}] for x of shape [${x.shape.join(', ')}]`);
  }
  check.sameDevice('prelu', { x, slope });
  const y = wrap(native.prelu(x.handle, slope.handle));
  if (needsGrad(x, slope)) {
    const xs = x.handle.share();
    const ss = slope.handle.share();
    attach('prelu', [x, slope], [y], [xs, ss], ([g]) => native.preluBackward(xs, ss, g!.handle).map(wrap));
  }
  return y;
}

/** Sums a gradient down to `shape` (undoing broadcasting); returns g itself when shapes match. */
export function reduceTo(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const r = wrap(native.sumTo(g.handle, shape));
  return r;
}

type BinaryKind = 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min';

function binary(kind: BinaryKind, a: Tensor, b: Tensor): Tensor {
  check.tensor(kind, 'a', a);
  check.tensor(kind, 'b', b);
  check.broadcastShapes(kind, a.shape, b.shape);
  check.sameDevice(kind, { a, b });
  const y = wrap(native.binary(kind, a.handle, b.handle));
  if (!needsGrad(a, b)) return y;
  const as = a.handle.share();
  const bs = b.handle.share();
  const sa = a.shape;
  const sb = b.shape;
  const raw = (k: string, u: NativeTensor, v: NativeTensor): Tensor => wrap(native.binary(k, u, v));
  // Each rule returns the unreduced gradients; reduceTo sums broadcast dims away.
  const rules: Record<BinaryKind, (g: Tensor) => [Tensor, Tensor]> = {
    add: (g) => [g.clone(), g.clone()],
    sub: (g) => [g.clone(), wrap(native.affine(g.handle, -1, 0))],
    mul: (g) => [raw('mul', g.handle, bs), raw('mul', g.handle, as)],
    div: (g) => {
      const ga = raw('div', g.handle, bs);
      const q = raw('div', ga.handle, bs); // g / b^2
      const gb = raw('mul', q.handle, as);
      q.dispose();
      const nb = wrap(native.affine(gb.handle, -1, 0));
      gb.dispose();
      return [ga, nb];
    },
    // a tie gives each side half the gradient, as torch.maximum / torch.minimum do (the composed
    // scSE-max then matches the fused kernel and the authors' torch.max on ties)
    max: (g) => splitByMask(g, raw('maxShare', as, bs)),
    min: (g) => splitByMask(g, raw('maxShare', bs, as)), // a's share of min(a, b) = its share of max(b, a)
  };
  attach(kind, [a, b], [y], [as, bs], ([g]) => {
    const [ga, gb] = rules[kind](g!);
    const ra = reduceTo(ga, sa);
    if (ra !== ga) ga.dispose();
    const rb = reduceTo(gb, sb);
    if (rb !== gb) gb.dispose();
    return [ra, rb];
  });
  return y;
}

// Gradient of max/min: a gets g·share (share 1, ½ or 0), b the rest.
function splitByMask(g: Tensor, share: Tensor): [Tensor, Tensor] {
  const ga = wrap(native.binary('mul', g.handle, share.handle));
  const gb = wrap(native.binary('sub', g.handle, ga.handle));
  share.dispose();
  return [ga, gb];
}

export const add = (a: Tensor, b: Tensor): Tensor => binary('add', a, b);
export const sub = (a: Tensor, b: Tensor): Tensor => binary('sub', a, b);
export const mul = (a: Tensor, b: Tensor): Tensor => binary('mul', a, b);
export const div = (a: Tensor, b: Tensor): Tensor => binary('div', a, b);
/** Elementwise maximum; where a == b each side gets half the gradient (as torch.maximum). */
export const maximum = (a: Tensor, b: Tensor): Tensor => binary('max', a, b);
/** Elementwise minimum; where a == b each side gets half the gradient (as torch.minimum). */
export const minimum = (a: Tensor, b: Tensor): Tensor => binary('min', a, b);
