// Per-pixel loss weights of a slice set, computed once per training set: median frequency class
// weights over the training subjects, plus QuickNAT's boundary term ω0·[3-D label gradient ≠ 0]
// computed on each whole volume (all three axes: a boundary between two slices counts too), then
// cut exactly like the images (sliceVolumeLike: same offsets, padding weight 0). The result can
// be cached in <cacheDir>/weights-<sha256>.bin, the hash covering every label voxel of the
// subjects, the slicing geometry and the options, so a hit returns the very same bytes.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';

import { medianFrequencyWeights, pixelWeightMap, type BoundaryMethod } from '../train/weights.js';
import { copySlice, sliceShape, sliceVolumeLike, type SliceSet } from './slices.js';
import { partVoxelMask, type Subject } from './subjects.js';

export interface ClassWeightOptions {
  /** median frequency balancing (default true); false: every class weighs 1 */
  medianFrequency?: boolean;
  /** boundary weight ω0 (default 2; 0 turns the boundary term off) */
  omega0?: number;
  /** boundary definition (default 'gradient': numpy.gradient on all three axes) */
  boundary?: BoundaryMethod;
  /** default: the subjects' class list length, or the largest label + 1 */
  numClasses?: number;
  /** the "images" of median frequency balancing: whole training volumes (default; a slice
   *  part counts only its own slices) or their individual (unpadded) slices */
  frequencyOver?: 'volumes' | 'slices';
  /** use these class weights instead of computing them (e.g. the training set's, for a
   *  validation set) */
  classWeights?: ArrayLike<number>;
  /** cache directory; no caching when absent */
  cacheDir?: string;
}

export interface ClassWeightResult {
  /** w_c per class */
  classWeights: Float64Array;
  /** set.count x H x W per-pixel weights */
  weights: Float32Array;
  numClasses: number;
  cacheHit: boolean;
  cachePath: string | null;
}

const VERSION = 'scse-weights-v1';
const MAGIC = Buffer.from('SCSEWGT1');

function fail(what: string): never {
  throw new Error(`classWeights: ${what}`);
}

/** The subjects whose labels define the class weights: the training ones, else all. */
function trainingSubjects(set: SliceSet): Subject[] {
  const t = set.subjects.filter((s) => s.split === 'train');
  return t.length > 0 ? t : set.subjects;
}

function inferNumClasses(set: SliceSet): number {
  let top = 0;
  for (const s of set.subjects) for (let i = 0; i < s.labels.length; i++) if (s.labels[i]! > top) top = s.labels[i]!;
  const named = Math.max(0, ...set.subjects.map((s) => s.classes?.length ?? 0));
  return Math.max(top + 1, named);
}

/** A part's labels only on its own slices; a whole subject's volume as is. */
function partLabels(s: Subject): Int32Array {
  const m = partVoxelMask(s);
  if (!m) return s.labels;
  let n = 0;
  for (let i = 0; i < m.length; i++) n += m[i]!;
  const out = new Int32Array(n);
  for (let i = 0, k = 0; i < m.length; i++) if (m[i]) out[k++] = s.labels[i]!;
  return out;
}

/** Every slice (unpadded) of a subject along the set's axis that belongs to it. */
function subjectSlices(set: SliceSet, s: Subject): Int32Array[] {
  const axis = set.geometry[0]!.axis;
  const [h, w] = sliceShape(s.dims, axis);
  const out: Int32Array[] = [];
  for (let z = 0; z < s.dims[axis]; z++) {
    if (s.part && !s.part.mask[z]) continue;
    const sl = new Int32Array(h * w);
    copySlice(s.labels, s.dims, axis, z, [0, 0], h, w, sl, 0);
    out.push(sl);
  }
  return out;
}

function resolveOptions(set: SliceSet, opts: ClassWeightOptions) {
  const medianFrequency = opts.medianFrequency ?? true;
  const omega0 = opts.omega0 ?? 2;
  const boundary = opts.boundary ?? 'gradient';
  const frequencyOver = opts.frequencyOver ?? 'volumes';
  if (!(Number.isFinite(omega0) && omega0 >= 0)) fail(`'omega0' must be a finite number >= 0, got ${omega0}`);
  if (boundary !== 'gradient' && boundary !== 'neighbors') fail(`'boundary' must be 'gradient' or 'neighbors', got ${String(boundary)}`);
  if (frequencyOver !== 'volumes' && frequencyOver !== 'slices') fail(`'frequencyOver' must be 'volumes' or 'slices', got ${String(frequencyOver)}`);
  const numClasses = opts.numClasses ?? inferNumClasses(set);
  if (!(Number.isInteger(numClasses) && numClasses >= 1)) fail(`'numClasses' must be an integer >= 1, got ${numClasses}`);
  const given = opts.classWeights ? Array.from(opts.classWeights) : null;
  if (given && given.length !== numClasses) fail(`'classWeights' has ${given.length} entries, numClasses is ${numClasses}`);
  return { medianFrequency, omega0, boundary, frequencyOver, numClasses, given };
}

/** sha256 over the options, the slicing geometry and every subject's labels and slice mask. */
export function weightCacheKey(set: SliceSet, opts: ClassWeightOptions = {}): string {
  const o = resolveOptions(set, opts);
  const h = createHash('sha256');
  const json = (v: unknown): void => void h.update(`${JSON.stringify(v)}\n`);
  const bytes = (a: ArrayBufferView): void => void h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  // the geometry without the image range: intensities do not change the weights
  const geometry = set.geometry.map(({ axis, sliceShape, offset, start, count }) => ({ axis, sliceShape, offset, start, count }));
  json({ VERSION, ...o, H: set.H, W: set.W, count: set.count, geometry });
  bytes(set.subject);
  bytes(set.position);
  set.subjects.forEach((s) => {
    json({ dims: s.dims, split: s.split, part: s.part ? s.part.axis : null });
    if (s.part) bytes(s.part.mask);
    bytes(s.labels);
  });
  return h.digest('hex');
}

function compute(set: SliceSet, o: ReturnType<typeof resolveOptions>): { classWeights: Float64Array; weights: Float32Array } {
  let classWeights: Float64Array;
  if (o.given) classWeights = Float64Array.from(o.given);
  else if (!o.medianFrequency) classWeights = new Float64Array(o.numClasses).fill(1);
  else {
    const train = trainingSubjects(set);
    const images = o.frequencyOver === 'volumes' ? train.map(partLabels) : train.flatMap((s) => subjectSlices(set, s));
    classWeights = medianFrequencyWeights(images, o.numClasses).weights;
  }
  const HW = set.H * set.W;
  const weights = new Float32Array(set.count * HW);
  // Slice parts of one volume share its labels: one 3-D map serves them all.
  const maps = new Map<Int32Array, Float32Array>();
  set.subjects.forEach((s, i) => {
    if (set.geometry[i]!.count === 0) return;
    let map = maps.get(s.labels);
    if (!map) {
      map = pixelWeightMap(s.labels, s.dims, classWeights, { omega0: o.omega0, boundary: o.boundary });
      maps.set(s.labels, map);
    }
    sliceVolumeLike(set, i, map, weights, set.geometry[i]!.start * HW);
  });
  return { classWeights, weights };
}

function readCache(path: string, K: number, n: number): { classWeights: Float64Array; weights: Float32Array } | null {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch {
    return null;
  }
  const want = 16 + 8 * K + 4 * n;
  if (buf.length !== want || !buf.subarray(0, 8).equals(MAGIC) || buf.readUInt32LE(8) !== K || buf.readUInt32LE(12) !== n) return null;
  // copy into aligned, owned memory
  const classWeights = new Float64Array(K);
  new Uint8Array(classWeights.buffer).set(buf.subarray(16, 16 + 8 * K));
  const weights = new Float32Array(n);
  new Uint8Array(weights.buffer).set(buf.subarray(16 + 8 * K));
  return { classWeights, weights };
}

function writeCache(path: string, classWeights: Float64Array, weights: Float32Array): void {
  const head = Buffer.alloc(16);
  MAGIC.copy(head, 0);
  head.writeUInt32LE(classWeights.length, 8);
  head.writeUInt32LE(weights.length, 12);
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, Buffer.concat([head, Buffer.from(classWeights.buffer, classWeights.byteOffset, classWeights.byteLength), Buffer.from(weights.buffer, weights.byteOffset, weights.byteLength)]));
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // never created
    }
    throw new Error(`classWeights: cannot write cache ${path} (${(e as Error).message})`);
  }
}

/**
 * Class weights and the per-pixel weight map of a slice set (see the file comment). The class
 * weights come from the set's training subjects (all subjects when none is 'train') unless given.
 */
export function computeClassWeights(set: SliceSet, opts: ClassWeightOptions = {}): ClassWeightResult {
  if (set.count === 0 || set.subjects.length === 0) fail('the slice set is empty');
  const o = resolveOptions(set, opts);
  const n = set.count * set.H * set.W;
  // Raw little-endian floats on disk: a big-endian host just does not cache.
  const cachePath = opts.cacheDir && endianness() === 'LE' ? join(opts.cacheDir, `weights-${weightCacheKey(set, opts)}.bin`) : null;
  if (cachePath) {
    const hit = readCache(cachePath, o.numClasses, n);
    if (hit) return { ...hit, numClasses: o.numClasses, cacheHit: true, cachePath };
  }
  const r = compute(set, o);
  if (cachePath) {
    mkdirSync(opts.cacheDir!, { recursive: true });
    writeCache(cachePath, r.classWeights, r.weights);
  }
  return { ...r, numClasses: o.numClasses, cacheHit: false, cachePath };
}

/** The set with `weights` filled in (same arrays otherwise), plus the class weights used. */
export function withClassWeights(set: SliceSet, opts: ClassWeightOptions = {}): SliceSet & { classWeights: Float64Array } {
  const r = computeClassWeights(set, opts);
  return { ...set, weights: r.weights, classWeights: r.classWeights };
}
