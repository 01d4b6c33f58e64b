// Loss weights of the paper's training protocol: median frequency balancing per class, and
// QuickNAT's per-voxel map w_class[label] + ω0 · [voxel on a label boundary].
//
// Definitions (and the two reference-code bugs they avoid):
// - Median frequency balancing (Eigen & Fergus 2015), over a set of label images (2-D slices or
//   3-D volumes, each one array):
//     f_c = (pixels of class c) / (total pixels of the images in which c appears)
//     w_c = median_{k present} f_k / f_c        (real division; the reference code used floor
//                                                division, giving 0 to every class above the median)
//   Classes that appear in no image get weight 0 and are left out of the median. The median of an
//   even number of values is the mean of the two middle ones (numpy.median). Per volume (as
//   QuickNAT's preprocessing) = the same with a one-element set, where f_c ∝ the class's count.
// - Boundary term: ω0 · 1[∇L ≠ 0], with ∇L the gradient of the 3-D label volume on ALL THREE axes
//   (the reference code summed the squares of only the first two of numpy.gradient's three
//   outputs). 'gradient' (default) is numpy.gradient's stencil per axis: central difference
//   (L[i+1] − L[i−1])/2 inside, one-sided L[1] − L[0] and L[n−1] − L[n−2] at the ends; an axis of
//   length 1 contributes nothing (numpy would refuse it). Note this stencil skips the middle of a
//   one-voxel-thick structure whose two sides carry the same label (L[i−1] = L[i+1] ≠ L[i]);
//   'neighbors' instead marks every voxel whose label differs from one of its 6 face neighbours.
// Volumes are flat arrays with x fastest (NIfTI order): index = x + nx·(y + ny·z), dims [nx, ny, nz].
import { OpArgumentError } from '../errors.js';

export type Dims3 = readonly [number, number, number];
export type BoundaryMethod = 'gradient' | 'neighbors';

export interface MedianFrequencyWeights {
  /** w_c per class (0 for classes never present) */
  weights: Float64Array;
  /** f_c per class (0 for classes never present) */
  frequency: Float64Array;
  /** the median of f over the present classes */
  median: number;
  /** whether each class appears in at least one image */
  present: boolean[];
}

function checkLabels(op: string, arg: string, labels: ArrayLike<number>, numClasses: number): void {
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (!Number.isInteger(l) || l < 0 || l >= numClasses) {
      throw new OpArgumentError(op, `argument '${arg}' has ${l} at ${i}, outside the class range [0, ${numClasses})`);
    }
  }
}

function checkNumClasses(op: string, numClasses: unknown): number {
  if (typeof numClasses !== 'number' || !Number.isInteger(numClasses) || numClasses < 1) {
    throw new OpArgumentError(op, `argument 'numClasses' must be an integer >= 1, got ${String(numClasses)}`);
  }
  return numClasses;
}

/** numpy.median of a non-empty list. */
function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Median frequency balancing weights over a set of label images (slices or volumes; pass one
 * volume alone for per-volume weights). Labels must be integers in [0, numClasses).
 */
export function medianFrequencyWeights(images: readonly ArrayLike<number>[], numClasses: number): MedianFrequencyWeights {
  const OP = 'medianFrequencyWeights';
  const K = checkNumClasses(OP, numClasses);
  if (!Array.isArray(images) || images.length === 0) throw new OpArgumentError(OP, "argument 'images' must be a non-empty array of label arrays");
  const count = new Float64Array(K); // pixels of class c
  const support = new Float64Array(K); // total pixels of the images containing c
  const inImage = new Float64Array(K);
  images.forEach((img, n) => {
    checkLabels(OP, `images[${n}]`, img, K);
    inImage.fill(0);
    for (let i = 0; i < img.length; i++) inImage[img[i]!]!++;
    for (let c = 0; c < K; c++) {
      if (inImage[c]! > 0) {
        count[c]! += inImage[c]!;
        support[c]! += img.length;
      }
    }
  });
  const present = Array.from(count, (n) => n > 0);
  const frequency = Float64Array.from(count, (n, c) => (n > 0 ? n / support[c]! : 0));
  const presentF = Array.from(frequency).filter((_, c) => present[c]);
  if (presentF.length === 0) throw new OpArgumentError(OP, "argument 'images' holds no pixels");
  const med = median(presentF);
  const weights = Float64Array.from(frequency, (f, c) => (present[c] ? med / f : 0));
  return { weights, frequency, median: med, present };
}

function checkVolume(op: string, labels: ArrayLike<number>, dims: Dims3): void {
  if (!Array.isArray(dims) || dims.length !== 3 || dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new OpArgumentError(op, `argument 'dims' must be [nx, ny, nz] with positive integers, got ${JSON.stringify(dims)}`);
  }
  const n = dims[0] * dims[1] * dims[2];
  if (labels.length !== n) throw new OpArgumentError(op, `argument 'labels' has ${labels.length} voxels, dims [${dims.join(', ')}] need ${n}`);
}

/**
 * 1 where the voxel is on a label boundary (see the file comment for the two methods), else 0.
 * Every axis of the 3-D volume is used.
 */
export function boundaryMask(labels: ArrayLike<number>, dims: Dims3, method: BoundaryMethod = 'gradient'): Uint8Array {
  const OP = 'boundaryMask';
  checkVolume(OP, labels, dims);
  if (method !== 'gradient' && method !== 'neighbors') throw new OpArgumentError(OP, `argument 'method' must be 'gradient' or 'neighbors', got ${String(method)}`);
  const [nx, ny, nz] = dims;
  const out = new Uint8Array(labels.length);
  const gradient = method === 'gradient';
  // Is voxel i (coordinate p along an axis of length n, stride s) on a boundary along that axis?
  const along = (i: number, l: number, p: number, n: number, s: number): boolean => {
    if (n < 2) return false;
    if (gradient) {
      // numpy.gradient: one-sided at the ends, central inside
      const lo = p === 0 ? l : labels[i - s]!;
      const hi = p === n - 1 ? l : labels[i + s]!;
      return hi !== lo;
    }
    return (p > 0 && labels[i - s] !== l) || (p < n - 1 && labels[i + s] !== l);
  };
  for (let z = 0, i = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        const l = labels[i]!;
        out[i] = along(i, l, x, nx, 1) || along(i, l, y, ny, nx) || along(i, l, z, nz, nx * ny) ? 1 : 0;
      }
    }
  }
  return out;
}

export interface WeightMapOptions {
  /** weight added on label boundaries; default 2 (QuickNAT) */
  omega0?: number;
  /** boundary definition; default 'gradient' (numpy.gradient on all three axes) */
  boundary?: BoundaryMethod;
}

/**
 * Per-voxel loss weights of a 3-D label volume: classWeights[label] + ω0 · boundary. Returns a
 * Float32Array in the volume's order, to be sliced alongside the labels.
 */
export function pixelWeightMap(labels: ArrayLike<number>, dims: Dims3, classWeights: ArrayLike<number>, opts: WeightMapOptions = {}): Float32Array {
  const OP = 'pixelWeightMap';
  checkVolume(OP, labels, dims);
  const K = classWeights.length;
  if (K < 1) throw new OpArgumentError(OP, "argument 'classWeights' must have one weight per class");
  for (let c = 0; c < K; c++) {
    if (!Number.isFinite(classWeights[c]) || classWeights[c]! < 0) throw new OpArgumentError(OP, `argument 'classWeights' has ${classWeights[c]} at ${c}; weights must be finite and >= 0`);
  }
  checkLabels(OP, 'labels', labels, K);
  const omega0 = opts.omega0 ?? 2;
  if (typeof omega0 !== 'number' || !Number.isFinite(omega0) || omega0 < 0) throw new OpArgumentError(OP, `argument 'omega0' must be a finite number >= 0, got ${String(omega0)}`);
  const edge = omega0 === 0 ? null : boundaryMask(labels, dims, opts.boundary ?? 'gradient');
  const out = new Float32Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[i] = classWeights[labels[i]!]! + (edge && edge[i] ? omega0 : 0);
  return out;
}

/**
 * QuickNAT's per-volume weight map in one call: median frequency weights of this volume alone,
 * then pixelWeightMap. Returns the map and the class weights used.
 */
export function volumeWeightMap(
  labels: ArrayLike<number>,
  dims: Dims3,
  numClasses: number,
  opts: WeightMapOptions = {},
): { map: Float32Array; classWeights: Float64Array } {
  checkVolume('volumeWeightMap', labels, dims);
  const { weights } = medianFrequencyWeights([labels], numClasses);
  return { map: pixelWeightMap(labels, dims, weights, opts), classWeights: weights };
}
