// Random tensors and dropout from the native Philox generator. Every draw takes the next key of
// the process-wide generator (src/random.ts), so manualSeed(s) makes a run repeatable, and the
// values do not depend on the thread count.
import type { DeviceSpec } from '../device.js';
import { OpArgumentError } from '../errors.js';
import { native, type NativeTensor } from '../native.js';
import { nextPhiloxKey } from '../random.js';
import { Tensor } from '../tensor.js';
import * as check from './check.js';
import { mul } from './eltwise.js';
import { reshape } from './shape.js';

declare module '../native.js' {
  interface NativeAddon {
    /** Philox4x32-10 of one counter under one key (known-answer tests). */
    philoxRaw(counter: readonly number[], key: readonly number[]): [number, number, number, number];
    uniform_(x: NativeTensor, lo: number, hi: number, seed: number, stream: number): void;
    normal_(x: NativeTensor, mean: number, std: number, seed: number, stream: number): void;
    dropoutMask(shape: readonly number[], p: number, seed: number, stream: number, device?: string): NativeTensor;
  }
}

// In-place fills overwrite storage that a recorded op may have saved for its backward.
function checkInPlace(op: string, t: Tensor): void {
  check.tensor(op, 'x', t);
  if (t.gradFn) throw new OpArgumentError(op, "argument 'x' is the output of a recorded op; in-place fills are only allowed on leaf tensors");
}

/** Fills t in place with U[lo, hi) and returns it. */
export function uniform_(t: Tensor, lo = 0, hi = 1): Tensor {
  checkInPlace('uniform_', t);
  check.finiteNumber('uniform_', 'lo', lo);
  check.finiteNumber('uniform_', 'hi', hi);
  if (lo > hi) throw new OpArgumentError('uniform_', `argument 'lo' (${lo}) must be <= 'hi' (${hi})`);
  const [seed, stream] = nextPhiloxKey();
  native.uniform_(t.handle, lo, hi, seed, stream);
  return t;
}

/** Fills t in place with N(mean, std^2) and returns it. */
export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  checkInPlace('normal_', t);
  check.finiteNumber('normal_', 'mean', mean);
  check.finiteNumber('normal_', 'std', std);
  if (std < 0) throw new OpArgumentError('normal_', `argument 'std' must be >= 0, got ${std}`);
  const [seed, stream] = nextPhiloxKey();
  native.normal_(t.handle, mean, std, seed, stream);
  return t;
}

/** A new float32 tensor of U[lo, hi) samples on `device` (the same values on every device). */
export function uniform(shape: readonly number[], lo = 0, hi = 1, device: DeviceSpec | string = 'cpu'): Tensor {
  return uniform_(Tensor.empty(shape, 'float32', device), lo, hi);
}

/** A new float32 tensor of N(mean, std^2) samples on `device` (the same values on every device, to rounding). */
export function normal(shape: readonly number[], mean = 0, std = 1, device: DeviceSpec | string = 'cpu'): Tensor {
  return normal_(Tensor.empty(shape, 'float32', device), mean, std);
}

/**
 * Channel dropout (torch.nn.Dropout2d) for NHWC x: in training, each (sample, channel) is zeroed
 * with probability p and kept ones are scaled by 1/(1-p). The mask [N,1,1,C] multiplies x by
 * broadcasting, so the gradient is the mask times dy. Outside training (or p = 0) it is the
 * identity (a tensor sharing x's storage).
 */
export function dropout2d(x: Tensor, p = 0.5, training = true): Tensor {
  check.tensor('dropout2d', 'x', x);
  check.rank('dropout2d', 'x', x, 4);
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new OpArgumentError('dropout2d', `argument 'p' must be in [0, 1], got ${String(p)}`);
  if (typeof training !== 'boolean') throw new OpArgumentError('dropout2d', `argument 'training' must be a boolean, got ${typeof training}`);
  if (!training || p === 0) return reshape(x, x.shape);
  const [seed, stream] = nextPhiloxKey();
  const mask = Tensor.fromHandle(native.dropoutMask([x.shape[0]!, 1, 1, x.shape[3]!], p, seed, stream, x.device));
  const y = mul(x, mask);
  mask.dispose(); // mul keeps its own reference for the backward
  return y;
}
