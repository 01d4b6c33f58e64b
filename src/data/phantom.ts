// Synthetic head-like phantoms: labelled ellipsoids (a skull shell around a brain, left/right
// pairs, a structure nested in another, touching structures, a small one beside large ones) in a
// template frame, seen through a random pose and a smooth deformation, imaged with overlapping
// class intensities, a multiplicative bias field and Gaussian noise. Everything is drawn from one
// seeded Rng: the same seed gives bit-identical volumes.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { Rng } from '../random.js';
import { writeNifti } from './nifti.js';
import type { LabelVolume, Vec3, Volume } from './volume.js';

/** Default classes, index = label value. Prefixes keep left/right pairs together. */
export const PHANTOM_CLASSES = [
  'background',
  'skull',
  'brain',
  'ventricle_left',
  'ventricle_right',
  'cerebellum',
  'brainstem',
  'thalamus_left',
  'thalamus_right',
  'cerebellar_nucleus',
] as const;

interface Structure {
  name: string;
  /** Class that takes this structure's voxels when it is not among the chosen classes. */
  parent: string;
  center: Vec3; // template frame: x Left->Right, y Posterior->Anterior, z Inferior->Superior
  radii: Vec3;
  /** Keep only x <= 0 (-1) or x >= 0 (+1): the two thalami meet on the midline. */
  side: -1 | 0 | 1;
  mean: number; // image intensity before bias and noise
}

// Head radius ~0.8 in units of half the smallest volume side. Painted in this order (later wins),
// everything after 'brain' only inside the brain.
const TEMPLATE: Structure[] = [
  { name: 'skull', parent: 'background', center: [0, 0, 0.02], radii: [0.7, 0.86, 0.78], side: 0, mean: 0.3 },
  { name: 'brain', parent: 'skull', center: [0, 0, 0.04], radii: [0.62, 0.78, 0.68], side: 0, mean: 0.6 },
  { name: 'cerebellum', parent: 'brain', center: [0, -0.4, -0.34], radii: [0.34, 0.2, 0.17], side: 0, mean: 0.55 },
  // overlaps the front of the cerebellum by 0.04: the two share a boundary surface
  { name: 'brainstem', parent: 'brain', center: [0, -0.12, -0.36], radii: [0.11, 0.12, 0.26], side: 0, mean: 0.7 },
  // small, nested inside the cerebellum
  { name: 'cerebellar_nucleus', parent: 'cerebellum', center: [0, -0.44, -0.35], radii: [0.08, 0.07, 0.06], side: 0, mean: 0.45 },
  { name: 'thalamus_left', parent: 'brain', center: [-0.1, -0.08, 0], radii: [0.15, 0.14, 0.12], side: -1, mean: 0.66 },
  { name: 'thalamus_right', parent: 'brain', center: [0.1, -0.08, 0], radii: [0.15, 0.14, 0.12], side: 1, mean: 0.66 },
  { name: 'ventricle_left', parent: 'brain', center: [-0.15, 0.08, 0.17], radii: [0.08, 0.3, 0.12], side: 0, mean: 0.18 },
  { name: 'ventricle_right', parent: 'brain', center: [0.15, 0.08, 0.17], radii: [0.08, 0.3, 0.12], side: 0, mean: 0.18 },
];

export interface PhantomOptions {
  /** Volume side in voxels (cube) or [nx, ny, nz]; default 96. At least 24. */
  size?: number | readonly number[];
  /** The first K default classes, or a list of names including 'background' (default: all 10).
   *  Structures left out are labelled as their parent (e.g. a nucleus as the cerebellum). */
  classes?: number | readonly string[];
  /** Gaussian noise sd (intensities are ~0..0.7); default 0.05. */
  noise?: number;
}

export interface PhantomSubject {
  id: string;
  seed: number;
  /** Intensities, x fastest (NIfTI order), voxel axes R, A, S. */
  image: Float32Array;
  labels: Int32Array;
  dims: Vec3;
  spacing: Vec3;
  /** 1 mm voxels, RAS, world origin at the volume centre. */
  affine: number[];
  classes: string[];
}

export type Split = 'train' | 'val' | 'test';

export interface PhantomSetOptions extends PhantomOptions {
  subjects: number;
  seed: number;
  /** Fractions of subjects for validation and test (default 0.15 each, at least one each when
   *  there are 3+ subjects). */
  split?: { val: number; test: number };
}

export interface PhantomSet {
  classes: string[];
  dims: Vec3;
  seed: number;
  subjects: (PhantomSubject & { split: Split })[];
}

function resolveDims(size: PhantomOptions['size']): Vec3 {
  const d = typeof size === 'number' || size === undefined ? [size ?? 96, size ?? 96, size ?? 96] : [...size];
  if (d.length !== 3 || d.some((v) => !(Number.isInteger(v) && v >= 24 && v <= 1024))) {
    throw new Error(`phantom: 'size' must be an integer or 3 integers in 24..1024, got ${JSON.stringify(size)}`);
  }
  return d as Vec3;
}

export function resolveClasses(classes: PhantomOptions['classes']): string[] {
  const all: string[] = [...PHANTOM_CLASSES];
  if (classes === undefined) return all;
  if (typeof classes === 'number') {
    if (!(Number.isInteger(classes) && classes >= 2 && classes <= all.length)) {
      throw new Error(`phantom: 'classes' must be an integer in 2..${all.length}, got ${classes}`);
    }
    return all.slice(0, classes);
  }
  const bad = classes.filter((c) => !all.includes(c));
  if (bad.length > 0) throw new Error(`phantom: unknown classes ${bad.join(', ')}; known: ${all.join(', ')}`);
  if (classes[0] !== 'background') throw new Error(`phantom: 'classes' must start with 'background', got ${classes.join(', ')}`);
  if (new Set(classes).size !== classes.length) throw new Error(`phantom: 'classes' has duplicates: ${classes.join(', ')}`);
  return [...classes];
}

/** Label value of each structure: its own class, else the nearest chosen ancestor's. */
function structureLabels(classes: string[]): number[] {
  return TEMPLATE.map((s) => {
    let name = s.name;
    while (!classes.includes(name)) name = TEMPLATE.find((t) => t.name === name)?.parent ?? 'background';
    return classes.indexOf(name);
  });
}

/** f(u) = sin(freq*u + phase) sampled at the normalized coordinates of one axis. */
function sineTable(coords: Float64Array, freq: number, phase: number): Float64Array {
  return coords.map((u) => Math.sin(freq * u + phase));
}

export function phantomAffine(dims: Vec3): number[] {
  return [1, 0, 0, -(dims[0] - 1) / 2, 0, 1, 0, -(dims[1] - 1) / 2, 0, 0, 1, -(dims[2] - 1) / 2, 0, 0, 0, 1];
}

export function generatePhantomSubject(seed: number, opts: PhantomOptions & { id?: string } = {}): PhantomSubject {
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`phantom: 'seed' must be a non-negative integer, got ${seed}`);
  const dims = resolveDims(opts.size);
  const classes = resolveClasses(opts.classes);
  const noiseSd = opts.noise ?? 0.05;
  if (!(noiseSd >= 0)) throw new Error(`phantom: 'noise' must be >= 0, got ${noiseSd}`);
  const rng = new Rng(seed);
  const uni = (lo: number, hi: number): number => lo + (hi - lo) * rng.float();
  const [nx, ny, nz] = dims;
  const scale = Math.min(nx, ny, nz) / 2; // voxels per template unit

  // Per-subject anatomy: jittered sizes and positions; pairs jitter mirror-symmetrically in
  // position but independently (a little) in size.
  const S = TEMPLATE.length;
  const par = new Float64Array(S * 7); // cx, cy, cz, 1/rx, 1/ry, 1/rz, side
  const mean = new Float64Array(S);
  const pairShift: Vec3 = [0, 0, 0];
  const pairGrow: Vec3 = [1, 1, 1];
  const meanJitter = new Map<number, number>();
  // Skull and brain share one size factor and vary little per axis, so the shell stays closed.
  const head = uni(0.97, 1.03);
  for (let s = 0; s < S; s++) {
    const t = TEMPLATE[s]!;
    const paired = t.name.endsWith('_right');
    if (!paired) {
      for (let a = 0; a < 3; a++) pairShift[a] = uni(-0.015, 0.015);
      for (let a = 0; a < 3; a++) pairGrow[a] = uni(0.94, 1.06);
    }
    const shift: Vec3 = paired ? [-pairShift[0], pairShift[1], pairShift[2]] : [...pairShift];
    for (let a = 0; a < 3; a++) {
      par[s * 7 + a] = t.center[a]! + (s < 2 ? 0 : shift[a]!);
      const grow = s < 2 ? head * uni(0.98, 1.02) : pairGrow[a]! * (paired ? uni(0.98, 1.02) : 1);
      par[s * 7 + 3 + a] = 1 / (t.radii[a]! * grow);
    }
    par[s * 7 + 6] = t.side;
    // Same mean for structures with the same template mean (pairs), jittered per subject.
    if (!meanJitter.has(t.mean)) meanJitter.set(t.mean, uni(-0.02, 0.02));
    mean[s] = t.mean + meanJitter.get(t.mean)!;
  }
  const labelOf = Int32Array.from(structureLabels(classes));

  // Pose: template point q = M (p - t) with M = (R diag(s))^-1 = diag(1/s) R^T, p in template units.
  const ax = uni(-0.14, 0.14);
  const ay = uni(-0.14, 0.14);
  const az = uni(-0.14, 0.14);
  const [ca, sa, cb, sb, cc, sc] = [Math.cos(ax), Math.sin(ax), Math.cos(ay), Math.sin(ay), Math.cos(az), Math.sin(az)];
  // R = Rz Ry Rx
  const R = [
    [cc * cb, cc * sb * sa - sc * ca, cc * sb * ca + sc * sa],
    [sc * cb, sc * sb * sa + cc * ca, sc * sb * ca - cc * sa],
    [-sb, cb * sa, cb * ca],
  ];
  const iso = uni(0.94, 1.04);
  const sAxis = [iso * uni(0.97, 1.03), iso * uni(0.97, 1.03), iso * uni(0.97, 1.03)];
  const M = [0, 1, 2].map((r) => [0, 1, 2].map((c) => R[c]![r]! / sAxis[r]!));
  const tr = [uni(-0.05, 0.05), uni(-0.05, 0.05), uni(-0.05, 0.05)];

  // Normalized voxel coordinates per axis (template units, origin at the volume centre).
  const coord = (n: number): Float64Array => Float64Array.from({ length: n }, (_, i) => (i - (n - 1) / 2) / scale);
  const ux = coord(nx);
  const uy = coord(ny);
  const uz = coord(nz);

  // Smooth deformation: each displacement component is a sum of two separable products of
  // low-frequency sines (about 0.5..1 cycle across the head), amplitude ~0.015..0.035 units
  // (1..2 voxels at 96³); gentle enough that local volumes change by ~10 % at most.
  const TERMS = 2;
  const defX: Float64Array[] = [];
  const defY: Float64Array[] = [];
  const defZ: Float64Array[] = [];
  const defAmp = new Float64Array(3 * TERMS);
  for (let c = 0; c < 3 * TERMS; c++) {
    defAmp[c] = uni(0.015, 0.035) * (rng.float() < 0.5 ? -1 : 1);
    defX.push(sineTable(ux, uni(1.5, 3.5), uni(0, 2 * Math.PI)));
    defY.push(sineTable(uy, uni(1.5, 3.5), uni(0, 2 * Math.PI)));
    defZ.push(sineTable(uz, uni(1.5, 3.5), uni(0, 2 * Math.PI)));
  }

  // Bias field: exp of a quadratic per axis, so a product of three 1-D tables (~±20 %).
  const biasTable = (u: Float64Array): Float64Array => {
    const a = uni(-0.12, 0.12);
    const b = uni(-0.08, 0.08);
    return u.map((v) => Math.exp(a * v + b * v * v));
  };
  const bx = biasTable(ux);
  const by = biasTable(uy);
  const bz = biasTable(uz);

  const n = nx * ny * nz;
  const image = new Float32Array(n);
  const labels = new Int32Array(n);
  const rowDef = new Float64Array(3 * TERMS);
  let spare = 0; // second Box-Muller draw
  let haveSpare = false;
  let idx = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let c = 0; c < 3 * TERMS; c++) rowDef[c] = defAmp[c]! * defY[c]![j]! * defZ[c]![k]!;
      const py = uy[j]! - tr[1]!;
      const pz = uz[k]! - tr[2]!;
      const byz = by[j]! * bz[k]!;
      for (let i = 0; i < nx; i++, idx++) {
        const px = ux[i]! - tr[0]!;
        let qx = M[0]![0]! * px + M[0]![1]! * py + M[0]![2]! * pz;
        let qy = M[1]![0]! * px + M[1]![1]! * py + M[1]![2]! * pz;
        let qz = M[2]![0]! * px + M[2]![1]! * py + M[2]![2]! * pz;
        for (let t = 0; t < TERMS; t++) {
          qx += rowDef[t]! * defX[t]![i]!;
          qy += rowDef[TERMS + t]! * defX[TERMS + t]![i]!;
          qz += rowDef[2 * TERMS + t]! * defX[2 * TERMS + t]![i]!;
        }
        // Painter's order; the first two tests also stop the search early outside the head.
        let st = -1;
        for (let s = 0; s < S; s++) {
          const o = s * 7;
          const dx = (qx - par[o]!) * par[o + 3]!;
          const dy = (qy - par[o + 1]!) * par[o + 4]!;
          const dz = (qz - par[o + 2]!) * par[o + 5]!;
          const inside = dx * dx + dy * dy + dz * dz <= 1 && par[o + 6]! * qx >= 0;
          if (inside) st = s;
          else if (s < 2) break;
        }
        if (!haveSpare) {
          const r = Math.sqrt(-2 * Math.log(1 - rng.float()));
          const th = 2 * Math.PI * rng.float();
          spare = r * Math.sin(th);
          haveSpare = true;
          image[idx] = (st < 0 ? 0 : mean[st]! * bx[i]! * byz) + noiseSd * r * Math.cos(th);
        } else {
          haveSpare = false;
          image[idx] = (st < 0 ? 0 : mean[st]! * bx[i]! * byz) + noiseSd * spare;
        }
        labels[idx] = st < 0 ? 0 : labelOf[st]!;
      }
    }
  }
  return {
    id: opts.id ?? `phantom_${seed}`,
    seed,
    image,
    labels,
    dims,
    spacing: [1, 1, 1],
    affine: phantomAffine(dims),
    classes,
  };
}

function splitCounts(n: number, split: { val: number; test: number }): { val: number; test: number } {
  for (const k of ['val', 'test'] as const) {
    if (!(split[k] >= 0 && split[k] < 1)) throw new Error(`phantom: split.${k} must be in [0, 1), got ${split[k]}`);
  }
  const atLeastOne = (f: number): number => (f > 0 && n >= 3 ? Math.max(1, Math.round(n * f)) : Math.round(n * f));
  const val = atLeastOne(split.val);
  const test = atLeastOne(split.test);
  if (val + test >= n && n > 0) throw new Error(`phantom: split leaves no training subjects (${n} subjects, ${val} val, ${test} test)`);
  return { val, test };
}

/** Subjects phantom_000.. with seeds drawn from `seed`; the last ones are test, before them val. */
export function generatePhantomSet(opts: PhantomSetOptions): PhantomSet {
  const { subjects: count, seed } = opts;
  if (!(Number.isInteger(count) && count >= 1)) throw new Error(`phantom: 'subjects' must be a positive integer, got ${count}`);
  if (!(Number.isInteger(seed) && seed >= 0)) throw new Error(`phantom: 'seed' must be a non-negative integer, got ${seed}`);
  const { val, test } = splitCounts(count, opts.split ?? { val: 0.15, test: 0.15 });
  const rng = new Rng(seed);
  const subjects: PhantomSet['subjects'] = [];
  for (let i = 0; i < count; i++) {
    const id = `phantom_${String(i).padStart(3, '0')}`;
    const split: Split = i >= count - test ? 'test' : i >= count - test - val ? 'val' : 'train';
    subjects.push({ ...generatePhantomSubject(rng.uint32(), { ...opts, id }), split });
  }
  return { classes: resolveClasses(opts.classes), dims: resolveDims(opts.size), seed, subjects };
}

/** The subject as image and label volumes (for the slicing and writing code). */
export function phantomVolumes(s: PhantomSubject): { image: Volume; labels: LabelVolume } {
  const common = { dims: s.dims, spacing: s.spacing, affine: s.affine, header: null };
  return {
    image: { ...common, data: s.image, datatype: 'float32' },
    labels: { ...common, data: s.labels, datatype: 'int32' },
  };
}

export interface PhantomManifest {
  classes: string[];
  subjects: { id: string; image: string; label: string; split: Split }[];
}

/**
 * Writes <id>_image.nii.gz (float32) and <id>_label.nii.gz (uint8, or int16 beyond 255 classes)
 * per subject and manifest.json (paths relative to dir). Returns the manifest.
 */
export function writePhantomSet(dir: string, set: PhantomSet, opts: { compressionLevel?: number } = {}): PhantomManifest {
  mkdirSync(dir, { recursive: true });
  const manifest: PhantomManifest = { classes: set.classes, subjects: [] };
  for (const s of set.subjects) {
    const image = `${s.id}_image.nii.gz`;
    const label = `${s.id}_label.nii.gz`;
    const vols = phantomVolumes(s);
    const level = opts.compressionLevel;
    writeNifti(join(dir, image), vols.image, { datatype: 'float32', compressionLevel: level, description: `scse phantom ${s.id}` });
    writeNifti(join(dir, label), vols.labels, {
      datatype: set.classes.length <= 256 ? 'uint8' : 'int16',
      compressionLevel: level,
      description: `scse phantom ${s.id} labels`,
      intentCode: 1002, // NIFTI_INTENT_LABEL
    });
    manifest.subjects.push({ id: s.id, image, label, split: s.split });
  }
  const path = join(dir, 'manifest.json');
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(tmp, path);
  return manifest;
}
