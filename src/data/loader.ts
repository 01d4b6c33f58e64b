// Mini-batches of slices for training. Everything random is derived from (seed, epoch[, batch]),
// never from state carried between calls: the order of epoch e is a function of (seed, e) and the
// augmentation of batch b a function of (seed, e, b), so a run resumed at epoch e, batch b
// (startBatch) sees exactly the batches it would have seen, without replaying the earlier ones.
import { Rng } from '../random.js';
import type { SliceSet } from './slices.js';

export interface AugmentOptions {
  /** random integer shift of up to ±translate pixels per axis (zero fill; labels background,
   *  weights 0) */
  translate?: number;
  /** image-only intensity change x -> x·a + b, a uniform in [1 - scale, 1 + scale], b uniform
   *  in [-shift, shift] (before the translation, so the fill stays 0) */
  intensity?: { scale?: number; shift?: number };
}

export interface BatchOptions {
  /** default 4 (the paper's) */
  batchSize?: number;
  /** shuffle the order each epoch (default true) */
  shuffle?: boolean;
  /** default 0 */
  seed?: number;
  /** default 0 */
  epoch?: number;
  /** only these slice indices (default: all), e.g. a subset for a quick run */
  indices?: readonly number[];
  /** skip the first startBatch batches of the epoch (cheap: nothing is built for them) */
  startBatch?: number;
  augment?: AugmentOptions;
}

export interface Batch {
  /** [n, H, W, 1] NHWC */
  x: Float32Array;
  /** [n, H, W] */
  y: Int32Array;
  /** [n, H, W] or null when the set has no weights */
  w: Float32Array | null;
  n: number;
  /** slice indices (into the set) of the batch's samples */
  indices: number[];
  /** batch number within the epoch */
  batch: number;
}

function fail(what: string): never {
  throw new Error(`batches: ${what}`);
}

/** A 32-bit seed mixed from several integers (murmur3's finalizer over a running hash). */
export function deriveSeed(...parts: number[]): number {
  let h = 0x9747b28c;
  for (const p of parts) {
    let k = Math.imul(p >>> 0, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    // high bits of seeds above 2^32 still count
    h ^= Math.floor(p / 4294967296) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

// Domain tags keep the shuffle and augmentation streams apart.
const SHUFFLE = 1;
const AUGMENT = 2;

function checkInt(name: string, v: number, min: number): number {
  if (!(Number.isInteger(v) && v >= min)) fail(`'${name}' must be an integer >= ${min}, got ${v}`);
  return v;
}

/** The slice order of one epoch: `indices` (or 0..count-1), shuffled by (seed, epoch) if asked. */
export function epochOrder(count: number, opts: Pick<BatchOptions, 'shuffle' | 'seed' | 'epoch' | 'indices'> = {}): number[] {
  const seed = checkInt('seed', opts.seed ?? 0, 0);
  const epoch = checkInt('epoch', opts.epoch ?? 0, 0);
  const order = opts.indices ? [...opts.indices] : Array.from({ length: count }, (_, i) => i);
  for (const i of order) if (!(Number.isInteger(i) && i >= 0 && i < count)) fail(`index ${i} in 'indices' is outside [0, ${count})`);
  if (opts.shuffle ?? true) new Rng(deriveSeed(seed, epoch, SHUFFLE)).shuffle(order);
  return order;
}

/** Number of batches of an epoch (the last partial batch counts). */
export function batchCount(set: SliceSet, opts: Pick<BatchOptions, 'batchSize' | 'indices'> = {}): number {
  const B = checkInt('batchSize', opts.batchSize ?? 4, 1);
  return Math.ceil((opts.indices?.length ?? set.count) / B);
}

/**
 * out[o0 + (r + dy) * W + c + dx] = src[s0 + r * W + c] * a + b for every (r, c) that stays inside
 * the H x W image; the rest of out keeps its zeros. One loop per array type (monomorphic element
 * access), no per-row views.
 */
function shiftF32(src: Float32Array, s0: number, out: Float32Array, o0: number, H: number, W: number, dy: number, dx: number, a: number, b: number): void {
  const c0 = Math.max(0, -dx);
  const c1 = Math.min(W, W - dx);
  for (let r = Math.max(0, -dy); r < Math.min(H, H - dy); r++) {
    let s = s0 + r * W + c0;
    let o = o0 + (r + dy) * W + c0 + dx;
    for (let c = c0; c < c1; c++) out[o++] = src[s++]! * a + b;
  }
}

function shiftI32(src: Int32Array, s0: number, out: Int32Array, o0: number, H: number, W: number, dy: number, dx: number): void {
  const c0 = Math.max(0, -dx);
  const c1 = Math.min(W, W - dx);
  for (let r = Math.max(0, -dy); r < Math.min(H, H - dy); r++) {
    let s = s0 + r * W + c0;
    let o = o0 + (r + dy) * W + c0 + dx;
    for (let c = c0; c < c1; c++) out[o++] = src[s++]!;
  }
}

function checkAugment(a: AugmentOptions): void {
  if (a.translate !== undefined) checkInt('augment.translate', a.translate, 0);
  const { scale = 0, shift = 0 } = a.intensity ?? {};
  if (!(Number.isFinite(scale) && scale >= 0 && scale < 1)) fail(`'augment.intensity.scale' must be in [0, 1), got ${scale}`);
  if (!(Number.isFinite(shift) && shift >= 0)) fail(`'augment.intensity.shift' must be a finite number >= 0, got ${shift}`);
}

/**
 * The batches of one epoch, in order, starting at `startBatch`. Each batch owns fresh arrays.
 * Augmentation draws, per sample in batch order: dy, dx (if translate), then a, b (if intensity).
 */
export function* batches(set: SliceSet, opts: BatchOptions = {}): Generator<Batch> {
  const B = checkInt('batchSize', opts.batchSize ?? 4, 1);
  const seed = checkInt('seed', opts.seed ?? 0, 0);
  const epoch = checkInt('epoch', opts.epoch ?? 0, 0);
  const start = checkInt('startBatch', opts.startBatch ?? 0, 0);
  const aug = opts.augment;
  if (aug) checkAugment(aug);
  if (set.weights && set.weights.length !== set.images.length) fail(`set.weights has ${set.weights.length} values, images ${set.images.length}`);
  const order = epochOrder(set.count, opts);
  const { H, W } = set;
  const HW = H * W;
  const t = aug?.translate ?? 0;
  const scale = aug?.intensity?.scale ?? 0;
  const shift = aug?.intensity?.shift ?? 0;
  for (let b = start; b * B < order.length; b++) {
    const indices = order.slice(b * B, (b + 1) * B);
    const n = indices.length;
    const x = new Float32Array(n * HW);
    const y = new Int32Array(n * HW);
    const w = set.weights ? new Float32Array(n * HW) : null;
    const rng = aug ? new Rng(deriveSeed(seed, epoch, b, AUGMENT)) : null;
    indices.forEach((idx, j) => {
      const s0 = idx * HW;
      const o0 = j * HW;
      let dy = 0;
      let dx = 0;
      let a = 1;
      let c = 0;
      if (rng) {
        if (t > 0) {
          dy = rng.int(2 * t + 1) - t;
          dx = rng.int(2 * t + 1) - t;
        }
        if (aug?.intensity) {
          a = 1 + scale * (2 * rng.float() - 1);
          c = shift * (2 * rng.float() - 1);
        }
      }
      if (dy === 0 && dx === 0 && a === 1 && c === 0) {
        x.set(set.images.subarray(s0, s0 + HW), o0);
        y.set(set.labels.subarray(s0, s0 + HW), o0);
        if (w) w.set(set.weights!.subarray(s0, s0 + HW), o0);
      } else {
        shiftF32(set.images, s0, x, o0, H, W, dy, dx, a, c);
        shiftI32(set.labels, s0, y, o0, H, W, dy, dx);
        if (w) shiftF32(set.weights!, s0, w, o0, H, W, dy, dx, 1, 0);
      }
    });
    yield { x, y, w, n, indices, batch: b };
  }
}
