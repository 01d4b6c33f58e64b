// Volumes -> 2-D slices for a slice-wise CNN, and back.
//
// Slice layout (canonical RAS grid, dims [nx, ny, nz], index = x + nx*(y + ny*z)):
//   axial    (axis 2, slice at z): rows = y (posterior -> anterior), cols = x (left -> right)
//   coronal  (axis 1, slice at y): rows = z (inferior -> superior),  cols = x (left -> right)
//   sagittal (axis 0, slice at x): rows = z (inferior -> superior),  cols = y (posterior -> anterior)
// i.e. row 0 is the posterior / inferior edge (shown upside down next to radiological viewers;
// the network does not care, and restack undoes it exactly). Each slice of h x w is centre-padded
// (or cropped) to the set's H x W: source pixel (r, c) lands at (r + offset[0], c + offset[1]),
// offset = floor((H - h) / 2) per dimension, negative when cropping. Padding is 0 in the image
// (after normalization), 0 (background) in the labels and 0 in the weights (padding is not data).
import { writeNifti } from './nifti.js';
import { fromCanonical } from './orient.js';
import { AXES, axisIndex, type AxisIndex, type Subject } from './subjects.js';

export type AxisName = keyof typeof AXES;

export interface SliceOptions {
  /** slicing axis; default 'coronal' (the paper's) */
  axis?: AxisName | AxisIndex;
  /** H and W are the largest slice dims rounded up to a multiple of this (default 16: four 2x2 poolings) */
  multiple?: number;
  /** fixed [H, W] instead (larger slices are centre-cropped) */
  size?: readonly [number, number];
  /** leave out slices whose labels are all background (0); default false */
  dropEmpty?: boolean;
  /** 'minmax' (default): each volume scaled to [0, 1] by its own min and max; 'none': raw values */
  normalize?: 'minmax' | 'none';
}

/** Where one subject's slices are in the set and how they were cut. */
export interface SliceGeometry {
  axis: AxisIndex;
  /** [h, w] of the subject's slices before padding / cropping */
  sliceShape: [number, number];
  /** where the source slice's pixel (0, 0) lands in the H x W slice (negative: cropped) */
  offset: [number, number];
  /** the subject's slices are set indices start .. start + count - 1, in increasing position */
  start: number;
  count: number;
  /** the volume's min and max used by 'minmax' (null for 'none') */
  range: [number, number] | null;
}

export interface SliceSet {
  H: number;
  W: number;
  count: number;
  /** count x H x W, row-major per slice */
  images: Float32Array;
  labels: Int32Array;
  /** per-pixel loss weights (classWeights.ts fills them), or null */
  weights: Float32Array | null;
  /** subject index (into `subjects`) of each slice */
  subject: Int32Array;
  /** slice position along the axis within its volume */
  position: Int32Array;
  subjects: Subject[];
  geometry: SliceGeometry[];
}

function fail(what: string): never {
  throw new Error(`sliceSubjects: ${what}`);
}

/** Volume axes forming rows and columns of a slice along `axis` (see the file comment). */
export function sliceAxes(axis: AxisIndex): [number, number] {
  return axis === 2 ? [1, 0] : axis === 1 ? [2, 0] : [2, 1];
}

/** [h, w] of slices along `axis` of a volume with these dims. */
export function sliceShape(dims: readonly number[], axis: AxisIndex): [number, number] {
  const [ra, ca] = sliceAxes(axis);
  return [dims[ra]!, dims[ca]!];
}

const strides = (dims: readonly number[]): [number, number, number] => [1, dims[0]!, dims[0]! * dims[1]!];

/** Source and destination index arithmetic of one slice copy (see copySlice). */
interface Cut {
  r0: number;
  r1: number;
  c0: number;
  c1: number;
  sr: number;
  sc: number;
  base: number;
  oy: number;
  ox: number;
  W: number;
  at: number;
}

function cutOf(dims: readonly number[], axis: AxisIndex, pos: number, offset: readonly [number, number], H: number, W: number, at: number): Cut {
  const st = strides(dims);
  const [ra, ca] = sliceAxes(axis);
  const [oy, ox] = offset;
  return {
    r0: Math.max(0, -oy),
    r1: Math.min(dims[ra]!, H - oy),
    c0: Math.max(0, -ox),
    c1: Math.min(dims[ca]!, W - ox),
    sr: st[ra]!,
    sc: st[ca]!,
    base: pos * st[axis]!,
    oy,
    ox,
    W,
    at,
  };
}

// One loop per array type: a loop fed both Float32Array and Int32Array runs several times slower
// (polymorphic element access), and a subarray per row would allocate a view per row.
function copyF32(src: Float32Array, out: Float32Array, k: Cut, scale: number, shift: number): void {
  for (let r = k.r0; r < k.r1; r++) {
    let s = k.base + r * k.sr + k.c0 * k.sc;
    let o = k.at + (r + k.oy) * k.W + k.c0 + k.ox;
    for (let c = k.c0; c < k.c1; c++, s += k.sc) out[o++] = src[s]! * scale + shift;
  }
}

function copyI32(src: Int32Array, out: Int32Array, k: Cut): void {
  for (let r = k.r0; r < k.r1; r++) {
    let s = k.base + r * k.sr + k.c0 * k.sc;
    let o = k.at + (r + k.oy) * k.W + k.c0 + k.ox;
    for (let c = k.c0; c < k.c1; c++, s += k.sc) out[o++] = src[s]!;
  }
}

function copyAny(src: ArrayLike<number>, out: Float32Array | Int32Array, k: Cut, scale: number, shift: number): void {
  for (let r = k.r0; r < k.r1; r++) {
    let s = k.base + r * k.sr + k.c0 * k.sc;
    let o = k.at + (r + k.oy) * k.W + k.c0 + k.ox;
    for (let c = k.c0; c < k.c1; c++, s += k.sc) out[o++] = src[s]! * scale + shift;
  }
}

/**
 * Copies slice `pos` of `src` into out[at .. at + H*W) with the given geometry: out(r + oy, c +
 * ox) = scale * src(r, c) + shift for every source pixel that lands inside; the rest is left as
 * is (callers pass zeroed memory). Shared by images, labels and weights so they line up exactly.
 */
export function copySlice(
  src: Float32Array | Int32Array,
  dims: readonly number[],
  axis: AxisIndex,
  pos: number,
  offset: readonly [number, number],
  H: number,
  W: number,
  out: Float32Array | Int32Array,
  at: number,
  scale = 1,
  shift = 0,
): void {
  const k = cutOf(dims, axis, pos, offset, H, W, at);
  if (src instanceof Float32Array && out instanceof Float32Array) copyF32(src, out, k, scale, shift);
  else if (src instanceof Int32Array && out instanceof Int32Array && scale === 1 && shift === 0) copyI32(src, out, k);
  else copyAny(src, out, k, scale, shift);
}

// Sagittal slices read the volume with stride nx: one cache line per voxel. Reading the volume
// in memory order and scattering each x to its slice instead keeps both sides cache-friendly.
function sagittalF32(src: Float32Array, dims: readonly number[], slot: Int32Array, k: Cut, HW: number, out: Float32Array, scale: number, shift: number): void {
  const [nx, ny] = [dims[0]!, dims[1]!];
  for (let z = k.r0; z < k.r1; z++) {
    for (let y = k.c0; y < k.c1; y++) {
      const s = nx * (y + ny * z);
      const o = k.at + (z + k.oy) * k.W + y + k.ox;
      for (let x = 0; x < nx; x++) {
        const j = slot[x]!;
        if (j >= 0) out[o + j * HW] = src[s + x]! * scale + shift;
      }
    }
  }
}

function sagittalI32(src: Int32Array, dims: readonly number[], slot: Int32Array, k: Cut, HW: number, out: Int32Array): void {
  const [nx, ny] = [dims[0]!, dims[1]!];
  for (let z = k.r0; z < k.r1; z++) {
    for (let y = k.c0; y < k.c1; y++) {
      const s = nx * (y + ny * z);
      const o = k.at + (z + k.oy) * k.W + y + k.ox;
      for (let x = 0; x < nx; x++) {
        const j = slot[x]!;
        if (j >= 0) out[o + j * HW] = src[s + x]!;
      }
    }
  }
}

/** copySlice for the slices at `positions` (in order) into consecutive H x W slots from `at`. */
export function copySlices(
  src: Float32Array | Int32Array,
  dims: readonly number[],
  axis: AxisIndex,
  positions: ArrayLike<number>,
  offset: readonly [number, number],
  H: number,
  W: number,
  out: Float32Array | Int32Array,
  at: number,
  scale = 1,
  shift = 0,
): void {
  const HW = H * W;
  const f32 = src instanceof Float32Array && out instanceof Float32Array;
  const i32 = src instanceof Int32Array && out instanceof Int32Array && scale === 1 && shift === 0;
  if (axis === 0 && positions.length > 1 && (f32 || i32)) {
    const slot = new Int32Array(dims[0]!).fill(-1);
    for (let j = 0; j < positions.length; j++) slot[positions[j]!] = j;
    const k = cutOf(dims, 0, 0, offset, H, W, at);
    if (f32) sagittalF32(src as Float32Array, dims, slot, k, HW, out as Float32Array, scale, shift);
    else sagittalI32(src as Int32Array, dims, slot, k, HW, out as Int32Array);
    return;
  }
  for (let j = 0; j < positions.length; j++) copySlice(src, dims, axis, positions[j]!, offset, H, W, out, at + j * HW, scale, shift);
}

function minMax(a: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
    if (v !== v) throw new Error(`sliceSubjects: image has a NaN at voxel ${i}`);
  }
  if (!(Number.isFinite(lo) && Number.isFinite(hi))) throw new Error(`sliceSubjects: image has non-finite values (min ${lo}, max ${hi})`);
  return [lo, hi];
}

/** Positions along `axis` whose slice has a non-zero label. */
function nonEmptyPositions(s: Subject, axis: AxisIndex): Uint8Array {
  const n = s.dims[axis];
  const st = strides(s.dims)[axis];
  const out = new Uint8Array(n);
  const L = s.labels;
  for (let i = 0; i < L.length; i++) if (L[i] !== 0) out[Math.floor(i / st) % n] = 1;
  return out;
}

function checkSubject(s: Subject, i: number): void {
  const n = s.dims[0] * s.dims[1] * s.dims[2];
  if (s.image.length !== n || s.labels.length !== n) {
    fail(`subject ${i} (${s.id}): dims [${s.dims.join(', ')}] need ${n} voxels, image has ${s.image.length}, labels ${s.labels.length}`);
  }
}

/** The slices of the subjects along one axis, padded / cropped to one H x W (see the file comment). */
export function sliceSubjects(subjects: readonly Subject[], opts: SliceOptions = {}): SliceSet {
  if (subjects.length === 0) fail('no subjects');
  const axis = axisIndex(opts.axis ?? 'coronal', 'sliceSubjects');
  const multiple = opts.multiple ?? 16;
  if (!(Number.isInteger(multiple) && multiple >= 1)) fail(`'multiple' must be an integer >= 1, got ${multiple}`);
  const normalize = opts.normalize ?? 'minmax';
  if (normalize !== 'minmax' && normalize !== 'none') fail(`'normalize' must be 'minmax' or 'none', got ${String(normalize)}`);
  subjects.forEach(checkSubject);

  let H: number;
  let W: number;
  if (opts.size) {
    const [h, w] = opts.size;
    if (!(Number.isInteger(h) && Number.isInteger(w) && h >= 1 && w >= 1)) fail(`'size' must be two positive integers, got [${opts.size.join(', ')}]`);
    [H, W] = [h, w];
  } else {
    const shapes = subjects.map((s) => sliceShape(s.dims, axis));
    H = Math.ceil(Math.max(...shapes.map((x) => x[0])) / multiple) * multiple;
    W = Math.ceil(Math.max(...shapes.map((x) => x[1])) / multiple) * multiple;
  }

  // Positions first (so the arrays are allocated once), then the copies.
  const chosen: number[][] = subjects.map((s, i) => {
    const n = s.dims[axis];
    const p = s.part;
    if (p) {
      if (p.axis !== axis) fail(`subject ${i} (${s.id}) is a slice part along axis ${p.axis}; it can only be sliced along that axis, not ${axis}`);
      if (p.mask.length !== n) fail(`subject ${i} (${s.id}): part mask has ${p.mask.length} slices, the volume ${n}`);
    }
    const keep = opts.dropEmpty ? nonEmptyPositions(s, axis) : null;
    const out: number[] = [];
    for (let z = 0; z < n; z++) if ((!p || p.mask[z]) && (!keep || keep[z])) out.push(z);
    return out;
  });
  const count = chosen.reduce((a, c) => a + c.length, 0);
  const HW = H * W;
  if (count * HW > 2 ** 32 - 1) fail(`${count} slices of ${H}x${W} exceed the largest typed array; slice fewer subjects at a time`);
  const images = new Float32Array(count * HW);
  const labels = new Int32Array(count * HW);
  const subject = new Int32Array(count);
  const position = new Int32Array(count);
  const geometry: SliceGeometry[] = [];
  let k = 0;
  subjects.forEach((s, i) => {
    const [h, w] = sliceShape(s.dims, axis);
    const offset: [number, number] = [Math.floor((H - h) / 2), Math.floor((W - w) / 2)];
    let scale = 1;
    let shift = 0;
    let range: [number, number] | null = null;
    if (normalize === 'minmax') {
      range = minMax(s.image);
      const d = range[1] - range[0];
      // a constant volume becomes all zeros
      scale = d > 0 ? 1 / d : 0;
      shift = d > 0 ? -range[0] / d : 0;
    }
    geometry.push({ axis, sliceShape: [h, w], offset, start: k, count: chosen[i]!.length, range });
    const pos = chosen[i]!;
    copySlices(s.image, s.dims, axis, pos, offset, H, W, images, k * HW, scale, shift);
    copySlices(s.labels, s.dims, axis, pos, offset, H, W, labels, k * HW);
    for (const z of pos) {
      subject[k] = i;
      position[k] = z;
      k++;
    }
  });
  return { H, W, count, images, labels, weights: null, subject, position, subjects: [...subjects], geometry };
}

/**
 * Per-voxel data of one subject (a 3-D weight map, say) cut exactly like the set's slices of that
 * subject: geometry.count slices of H x W, padding 0.
 */
export function sliceVolumeLike(set: SliceSet, subjectIndex: number, data: Float32Array | Int32Array, out?: Float32Array, at = 0): Float32Array {
  const g = set.geometry[subjectIndex];
  const s = set.subjects[subjectIndex];
  if (!g || !s) throw new Error(`sliceVolumeLike: subjectIndex ${subjectIndex} is outside [0, ${set.subjects.length})`);
  const HW = set.H * set.W;
  if (data.length !== s.labels.length) throw new Error(`sliceVolumeLike: data has ${data.length} values, subject ${s.id} has ${s.labels.length} voxels`);
  const dst = out ?? new Float32Array(g.count * HW);
  copySlices(data, s.dims, g.axis, set.position.subarray(g.start, g.start + g.count), g.offset, set.H, set.W, dst, at);
  return dst;
}

/**
 * Stacks one subject's predicted slices (its geometry.count slices, H x W each, in position
 * order = set order) back into a volume on its canonical grid: padding dropped, cropped borders
 * and positions that were not sliced (dropEmpty, other parts) left 0.
 */
export function restack<T extends Int32Array | Float32Array>(pred: T, set: SliceSet, subjectIndex: number): T {
  const g = set.geometry[subjectIndex];
  const s = set.subjects[subjectIndex];
  if (!g || !s) throw new Error(`restack: subjectIndex ${subjectIndex} is outside [0, ${set.subjects.length})`);
  const { H, W } = set;
  const HW = H * W;
  if (pred.length !== g.count * HW) {
    throw new Error(`restack: subject ${subjectIndex} (${s.id}) has ${g.count} slices of ${H}x${W} = ${g.count * HW} values, pred has ${pred.length}`);
  }
  const dims = s.dims;
  const out = new (pred.constructor as new (n: number) => T)(dims[0] * dims[1] * dims[2]);
  const st = strides(dims);
  const [ra, ca] = sliceAxes(g.axis);
  const [h, w] = g.sliceShape;
  const [sr, sc] = [st[ra]!, st[ca]!];
  const [oy, ox] = g.offset;
  const r0 = Math.max(0, -oy);
  const r1 = Math.min(h, H - oy);
  const c0 = Math.max(0, -ox);
  const c1 = Math.min(w, W - ox);
  for (let j = 0; j < g.count; j++) {
    const base = set.position[g.start + j]! * st[g.axis]!;
    for (let r = r0; r < r1; r++) {
      let d = base + r * sr + c0 * sc;
      let p = j * HW + (r + oy) * W + c0 + ox;
      for (let c = c0; c < c1; c++, d += sc) out[d] = pred[p++]!;
    }
  }
  return out;
}

/** Canonical-grid data of a subject mapped back onto the voxel grid of its input file. */
export function toOriginalGrid<T extends Int32Array | Float32Array>(volumeData: T, subject: Subject): T {
  const n = subject.dims[0] * subject.dims[1] * subject.dims[2];
  if (volumeData.length !== n) throw new Error(`toOriginalGrid: data has ${volumeData.length} values, subject ${subject.id} has ${n} voxels`);
  return subject.canonical ? fromCanonical(volumeData, subject.canonical) : volumeData;
}

/** Writes a canonical-grid label map (e.g. restack's output) aligned with the subject's label file. */
export function writePrediction(path: string, labels: Int32Array, subject: Subject): void {
  const data = toOriginalGrid(labels, subject);
  const dims = subject.canonical?.dims ?? subject.dims;
  const original = subject.original ?? { affine: subject.affine, header: null };
  writeNifti(path, { data, dims, affine: original.affine, header: original.header }, { intentCode: 1002 });
}
