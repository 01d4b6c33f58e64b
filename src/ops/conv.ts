// 2-D convolution and transposed convolution (PyTorch semantics, NHWC activations), differentiable
// with respect to the input, the weights and the bias. Weights: conv OHWI [outC, kH, kW, inC],
// transposed conv [inC, kH, kW, outC]. The native side runs oneDNN primitives cached by shape, or,
// on CPU for stride-1 convolutions with enough work, tiled Fourier transforms (native/cpu/conv_fft.h;
// see convAlgorithm).
import { attach, needsGrad } from '../autograd/tape.js';
import { OpArgumentError, shapeStr } from '../errors.js';
import { native, type NativeTensor } from '../native.js';
import { Tensor } from '../tensor.js';
import * as check from './check.js';

type Pair = [number, number];

declare module '../native.js' {
  interface NativeAddon {
    conv2d(x: NativeTensor, w: NativeTensor, bias: NativeTensor | null, stride: Pair, padding: Pair, dilation: Pair): NativeTensor;
    conv2dBackwardData(dy: NativeTensor, w: NativeTensor, xShape: readonly number[], stride: Pair, padding: Pair, dilation: Pair): NativeTensor;
    conv2dBackwardWeights(
      x: NativeTensor,
      dy: NativeTensor,
      wShape: readonly number[],
      withBias: boolean,
      stride: Pair,
      padding: Pair,
      dilation: Pair,
    ): NativeTensor[];
    convTranspose2d(
      x: NativeTensor,
      w: NativeTensor,
      bias: NativeTensor | null,
      stride: Pair,
      padding: Pair,
      outputPadding: Pair,
      dilation: Pair,
    ): NativeTensor;
    convTranspose2dBackwardData(
      dy: NativeTensor,
      w: NativeTensor,
      xShape: readonly number[],
      stride: Pair,
      padding: Pair,
      outputPadding: Pair,
      dilation: Pair,
    ): NativeTensor;
    convTranspose2dBackwardWeights(
      x: NativeTensor,
      dy: NativeTensor,
      wShape: readonly number[],
      withBias: boolean,
      stride: Pair,
      padding: Pair,
      outputPadding: Pair,
      dilation: Pair,
    ): NativeTensor[];
    convCacheStats(): { hits: number; misses: number; entries: number };
    convAlgorithm(mode?: ConvAlgorithm, chunkTiles?: number): ConvAlgorithm;
  }
}

export interface Conv2dOptions {
  stride?: number | Pair;
  padding?: number | Pair;
  dilation?: number | Pair;
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  outputPadding?: number | Pair;
}

const wrap = Tensor.fromHandle;

function pair(op: string, arg: string, v: number | Pair | undefined, dflt: number, min: number): Pair {
  const p: unknown[] = v === undefined ? [dflt, dflt] : Array.isArray(v) ? v : [v, v];
  if (p.length !== 2) throw new OpArgumentError(op, `argument '${arg}' must be a number or [h, w], got ${JSON.stringify(v)}`);
  return [check.positiveInt(op, arg, p[0], min), check.positiveInt(op, arg, p[1], min)];
}

interface Geometry {
  stride: Pair;
  padding: Pair;
  outputPadding: Pair;
  dilation: Pair;
}

// Checks shapes and options, including a positive output size (the same checks run again natively).
function geometry(op: string, x: Tensor, w: Tensor, bias: Tensor | null, opts: ConvTranspose2dOptions, transposed: boolean): Geometry {
  check.tensor(op, 'x', x);
  check.tensor(op, 'w', w);
  if (bias !== null) check.tensor(op, 'bias', bias);
  check.rank(op, 'x', x, 4);
  if (w.rank !== 4) {
    throw new OpArgumentError(op, `argument 'w' expected rank 4 (${transposed ? '[inC, kH, kW, outC]' : 'OHWI [outC, kH, kW, inC]'}), got shape ${shapeStr(w.shape)}`);
  }
  if (x.shape.some((d) => d <= 0)) throw new OpArgumentError(op, `argument 'x' must have positive sizes, got ${shapeStr(x.shape)}`);
  if (w.shape.some((d) => d <= 0)) throw new OpArgumentError(op, `argument 'w' must have positive sizes, got ${shapeStr(w.shape)}`);
  const [, H, W, C] = x.shape as [number, number, number, number];
  const [w0, kh, kw, w3] = w.shape as [number, number, number, number];
  const wIn = transposed ? w0 : w3;
  const outC = transposed ? w3 : w0;
  if (wIn !== C) {
    throw new OpArgumentError(op, `argument 'w' ${shapeStr(w.shape)} expects ${wIn} input channels (${transposed ? 'w[0]' : 'w[3]'}) but 'x' ${shapeStr(x.shape)} has ${C}`);
  }
  if (bias !== null) check.shape(op, 'bias', bias, [outC], 'output channels');
  check.sameDevice(op, { x, w, bias });
  const stride = pair(op, 'stride', opts.stride, 1, 1);
  const padding = pair(op, 'padding', opts.padding, 0, 0);
  const dilation = pair(op, 'dilation', opts.dilation, 1, 1);
  const outputPadding = transposed ? pair(op, 'outputPadding', opts.outputPadding, 0, 0) : ([0, 0] as Pair);
  const k = [kh, kw];
  const inHW = [H, W];
  const outHW = [0, 1].map((i) => {
    const extent = dilation[i]! * (k[i]! - 1) + 1;
    if (transposed) {
      if (outputPadding[i]! >= stride[i]! && outputPadding[i]! >= dilation[i]!) {
        throw new OpArgumentError(op, `argument 'outputPadding' ${shapeStr(outputPadding)} must be smaller than stride or dilation in each dimension`);
      }
      return (inHW[i]! - 1) * stride[i]! - 2 * padding[i]! + extent + outputPadding[i]!;
    }
    const num = inHW[i]! + 2 * padding[i]! - extent;
    return num < 0 ? 0 : Math.floor(num / stride[i]!) + 1;
  });
  if (outHW[0]! <= 0 || outHW[1]! <= 0) {
    throw new OpArgumentError(
      op,
      `output size would be ${outHW[0]}x${outHW[1]} (not positive) for input ${H}x${W}, kernel ${kh}x${kw}, stride ${shapeStr(stride)}, padding ${shapeStr(padding)}, dilation ${shapeStr(dilation)}`,
    );
  }
  return { stride, padding, outputPadding, dilation };
}

/**
 * The backward both convolutions share: x is kept for the weight (and bias) gradient and w for
 * the input gradient, each only when that gradient is needed; `data` and `weights` are the
 * op's native backward calls with its geometry bound.
 */
function attachBackward(
  op: string,
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  y: Tensor,
  data: (gy: NativeTensor, w: NativeTensor, xShape: number[]) => NativeTensor,
  weights: (x: NativeTensor, gy: NativeTensor, wShape: number[], withBias: boolean) => NativeTensor[],
): void {
  if (!needsGrad(x, w, bias)) return;
  const needX = x.requiresGrad;
  const needW = w.requiresGrad || bias?.requiresGrad === true;
  const xs = needW ? x.handle.share() : null;
  const ws = needX ? w.handle.share() : null;
  const xShape = [...x.shape];
  const wShape = [...w.shape];
  const inputs = bias ? [x, w, bias] : [x, w];
  const saved = [xs, ws].filter((t): t is NativeTensor => t !== null);
  attach(op, inputs, [y], saved, ([gy]) => {
    const dx = ws ? wrap(data(gy!.handle, ws, xShape)) : null;
    const dwb = xs ? weights(xs, gy!.handle, wShape, bias !== null).map(wrap) : [null, null];
    return [dx, dwb[0] ?? null, dwb[1] ?? null];
  });
}

/**
 * 2-D convolution: x [N,H,W,inC], w [outC,kH,kW,inC], optional bias [outC] -> [N,OH,OW,outC]
 * with OH = floor((H + 2p - d(k-1) - 1) / s) + 1 (PyTorch's Conv2d).
 */
export function conv2d(x: Tensor, w: Tensor, bias: Tensor | null = null, opts: Conv2dOptions = {}): Tensor {
  const { stride: s, padding: p, dilation: d } = geometry('conv2d', x, w, bias, opts, false);
  const y = wrap(native.conv2d(x.handle, w.handle, bias?.handle ?? null, s, p, d));
  attachBackward(
    'conv2d',
    x,
    w,
    bias,
    y,
    (gy, ws, xShape) => native.conv2dBackwardData(gy, ws, xShape, s, p, d),
    (xs, gy, wShape, withBias) => native.conv2dBackwardWeights(xs, gy, wShape, withBias, s, p, d),
  );
  return y;
}

/**
 * Transposed 2-D convolution (PyTorch's ConvTranspose2d): x [N,H,W,inC], w [inC,kH,kW,outC],
 * optional bias [outC] -> [N,OH,OW,outC] with OH = (H-1)s - 2p + d(k-1) + outputPadding + 1.
 */
export function convTranspose2d(x: Tensor, w: Tensor, bias: Tensor | null = null, opts: ConvTranspose2dOptions = {}): Tensor {
  const { stride: s, padding: p, outputPadding: op, dilation: d } = geometry('convTranspose2d', x, w, bias, opts, true);
  const y = wrap(native.convTranspose2d(x.handle, w.handle, bias?.handle ?? null, s, p, op, d));
  attachBackward(
    'convTranspose2d',
    x,
    w,
    bias,
    y,
    (gy, ws, xShape) => native.convTranspose2dBackwardData(gy, ws, xShape, s, p, op, d),
    (xs, gy, wShape, withBias) => native.convTranspose2dBackwardWeights(xs, gy, wShape, withBias, s, p, op, d),
  );
  return y;
}

/** Primitive-cache counters of the native convolution code (for tests and benchmarks). */
export function convCacheStats(): { hits: number; misses: number; entries: number } {
  return native.convCacheStats();
}

/**
 * How CPU convolutions run. 'auto' (the default) takes the tiled-Fourier route for stride-1,
 * dilation-1 convolutions whose flop estimate favours it (≥ 0.5 Gflop and at most half the direct
 * flops: the 5×5 and 7×7 layers from 32×32 images up, wide 3×3 layers) and oneDNN's direct kernels
 * elsewhere; 'direct' and
 * 'fourier' force a route wherever it applies ('fourier': stride 1, dilation 1, and a weight spectrum
 * under 256 MiB, i.e. not the widest layers). Both are fp32 and agree to rounding (~1e-6
 * relative). `chunkTiles` caps the tiles the Fourier route transforms at once (0 = automatic; for
 * tests). Returns the previous mode. CUDA convolutions are cuDNN's choice and are not affected.
 */
export type ConvAlgorithm = 'auto' | 'direct' | 'fourier';
export function convAlgorithm(mode?: ConvAlgorithm, opts: { chunkTiles?: number } = {}): ConvAlgorithm {
  const op = 'convAlgorithm';
  if (mode !== undefined && mode !== 'auto' && mode !== 'direct' && mode !== 'fourier') {
    throw new OpArgumentError(op, `argument 'mode' expected 'auto', 'direct' or 'fourier', got ${JSON.stringify(mode)}`);
  }
  const c = opts.chunkTiles;
  if (c !== undefined && !(Number.isSafeInteger(c) && c >= 0)) {
    throw new OpArgumentError(op, `argument 'chunkTiles' expected a non-negative integer (at most 2^53 - 1), got ${String(c)}`);
  }
  return native.convAlgorithm(mode, c);
}

// SCSE_CONV_ALGORITHM=auto|direct|fourier sets the mode for a whole process (CLI runs, benchmarks)
// without code changes; a bad value fails at import, naming the variable.
const fromEnv = typeof process !== 'undefined' ? process.env.SCSE_CONV_ALGORITHM : undefined;
if (fromEnv !== undefined && fromEnv !== '') {
  if (fromEnv !== 'auto' && fromEnv !== 'direct' && fromEnv !== 'fourier') {
    throw new Error(`SCSE_CONV_ALGORITHM must be 'auto', 'direct' or 'fourier', got ${JSON.stringify(fromEnv)}`);
  }
  native.convAlgorithm(fromEnv);
}
