// Where subjects come from: a manifest (JSON or CSV), a folder of <id>_image / <id>_label pairs,
// one atlas volume cut into interleaved blocks of slices, or the phantom generator. Every source
// returns Subject[] on the canonical RAS grid (voxel axis 0/1/2 = sagittal/coronal/axial), with
// what is needed to map predictions back onto the file's own grid.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';

import { Rng } from '../random.js';
import { applyLabelMap, type LabelMap } from './labels.js';
import { readNifti, readNiftiLabels } from './nifti.js';
import { closestCanonical, toCanonical, type CanonicalInfo } from './orient.js';
import { generatePhantomSet, type PhantomSetOptions, type Split } from './phantom.js';
import { checkVolumesMatch, type LabelVolume, type NiftiHeader, type Vec3, type Volume } from './volume.js';

export type { Split } from './phantom.js';
export type AxisIndex = 0 | 1 | 2;

/**
 * A subset of one volume's slices along one canonical axis. Subjects made by loadSingleVolume
 * share one image and label volume and differ only in this mask: slicing takes only the slices
 * whose mask is 1 (and must be along `axis`), and 3-D Dice over a held-out part is computed on
 * the voxels of its slices (partVoxelMask / restrictToPart).
 */
export interface SlicePart {
  axis: AxisIndex;
  /** 1 for each slice position along `axis` that belongs to this subject */
  mask: Uint8Array;
  /** id of the volume the part was cut from */
  source: string;
}

export interface Subject {
  id: string;
  /** intensities on the canonical grid, x fastest: index = x + nx*(y + ny*z) */
  image: Float32Array;
  /** class labels on the canonical grid (after any label map) */
  labels: Int32Array;
  /** canonical dims */
  dims: Vec3;
  /** canonical voxel -> world (RAS mm), row-major 4x4 */
  affine: number[];
  split: Split;
  imagePath?: string;
  labelPath?: string;
  /** how the canonical grid was made from the file's grid (toOriginalGrid uses it) */
  canonical?: CanonicalInfo;
  /** the label file's own affine and header, to write predictions on its grid */
  original?: { affine: number[]; header: NiftiHeader | null };
  /** class names, when the source knows them */
  classes?: string[];
  /** set when the subject is only some slices of a volume (loadSingleVolume) */
  part?: SlicePart;
}

export interface LoadOptions {
  /** applied to every label volume after reading */
  labelMap?: LabelMap;
}

const SPLITS: readonly Split[] = ['train', 'val', 'test'];

function fail(where: string, what: string): never {
  throw new Error(`${where}: ${what}`);
}

/** Reorients a pair to canonical RAS; no copy when the grid already is canonical. */
function canonicalize(image: Volume, labels: LabelVolume): { image: Volume; labels: LabelVolume; info: CanonicalInfo } {
  const { perm, flip } = closestCanonical(image.affine);
  if (perm[0] === 0 && perm[1] === 1 && perm[2] === 2 && !flip.some(Boolean)) {
    const dims = [...image.dims] as Vec3;
    return { image, labels, info: { perm, flip, dims, canonicalDims: [...dims] as Vec3 } };
  }
  const a = toCanonical(image);
  const b = toCanonical(labels);
  return { image: a.volume, labels: b.volume, info: a.info };
}

/** Reads, checks and reorients one image/label pair. */
export function loadPair(imagePath: string, labelPath: string, id: string, split: Split, opts: LoadOptions = {}): Subject {
  const image = readNifti(imagePath);
  const rawLabels = readNiftiLabels(labelPath);
  checkVolumesMatch(image, rawLabels);
  const original = { affine: [...rawLabels.affine], header: rawLabels.header };
  const labelData = opts.labelMap ? applyLabelMap(rawLabels.data, opts.labelMap) : rawLabels.data;
  const c = canonicalize(image, { ...rawLabels, data: labelData });
  return {
    id,
    image: c.image.data,
    labels: c.labels.data,
    dims: c.image.dims,
    affine: c.image.affine,
    split,
    imagePath,
    labelPath,
    canonical: c.info,
    original,
    ...(opts.labelMap ? { classes: opts.labelMap.classes } : {}),
  };
}

/** 'foo_image.nii.gz' -> 'foo'. */
function idFromPath(path: string): string {
  return basename(path)
    .replace(/\.nii(\.gz)?$/i, '')
    .replace(/[_-](image|img|t1|t1w)$/i, '');
}

function checkSplit(where: string, s: unknown): Split {
  if (typeof s !== 'string' || !SPLITS.includes(s as Split)) fail(where, `split must be one of ${SPLITS.join(', ')}, got ${JSON.stringify(s)}`);
  return s as Split;
}

// -------------------------------------------------------------------------------------- manifest

interface ManifestRow {
  id?: string;
  image: string;
  label: string;
  split: Split;
}

/** RFC-4180-ish: commas, optional double quotes ("" inside quotes is a quote). */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  out.push(cur.trim());
  return out;
}

function parseCsv(where: string, text: string): ManifestRow[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const rows = lines.map((l, n) => ({ l, n: n + 1 })).filter(({ l }) => l !== '' && !l.startsWith('#'));
  if (rows.length === 0) fail(where, 'empty CSV');
  const header = csvFields(rows[0]!.l).map((h) => h.toLowerCase());
  const col = (name: string, required: boolean): number => {
    const i = header.indexOf(name);
    if (i < 0 && required) fail(where, `CSV header must name columns image,label,split[,id]; got ${header.join(',')}`);
    return i;
  };
  const [ci, cl, cs, cid] = [col('image', true), col('label', true), col('split', true), col('id', false)];
  return rows.slice(1).map(({ l, n }) => {
    const f = csvFields(l);
    if (f.length !== header.length) fail(where, `line ${n}: ${f.length} fields, the header has ${header.length}`);
    return { image: f[ci]!, label: f[cl]!, split: checkSplit(`${where} line ${n}`, f[cs]), ...(cid >= 0 && f[cid] ? { id: f[cid] } : {}) };
  });
}

function parseJson(where: string, text: string): { rows: ManifestRow[]; classes?: string[] } {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    fail(where, `invalid JSON (${(e as Error).message})`);
  }
  const m = o as { classes?: unknown; subjects?: unknown };
  if (m === null || typeof m !== 'object' || !Array.isArray(m.subjects)) fail(where, "expected an object with a 'subjects' array");
  let classes: string[] | undefined;
  if (m.classes !== undefined) {
    if (!Array.isArray(m.classes) || m.classes.some((c) => typeof c !== 'string')) fail(where, "'classes' must be an array of names");
    classes = m.classes as string[];
  }
  const rows = (m.subjects as unknown[]).map((s, i) => {
    const r = s as Record<string, unknown>;
    const w = `${where} subjects[${i}]`;
    if (r === null || typeof r !== 'object') fail(w, 'expected an object {id, image, label, split}');
    for (const k of ['image', 'label']) if (typeof r[k] !== 'string' || r[k] === '') fail(w, `'${k}' must be a path`);
    if (r.id !== undefined && typeof r.id !== 'string') fail(w, "'id' must be a string");
    return { image: r.image as string, label: r.label as string, split: checkSplit(w, r.split), ...(r.id ? { id: r.id as string } : {}) };
  });
  return { rows, ...(classes ? { classes } : {}) };
}

/**
 * Subjects listed in a manifest: JSON `{classes?, subjects: [{id?, image, label, split}]}` or CSV
 * with header `image,label,split[,id]` (by extension; otherwise sniffed). Relative paths are
 * relative to the manifest's folder. Ids default to the image file name without `_image.nii.gz`.
 */
export function loadManifest(path: string, opts: LoadOptions = {}): Subject[] {
  const where = `manifest ${path}`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    fail(where, `cannot read file (${(e as Error).message})`);
  }
  const json = /\.json$/i.test(path) || (!/\.csv$/i.test(path) && text.trimStart().startsWith('{'));
  const { rows, classes } = json ? parseJson(where, text) : { rows: parseCsv(where, text), classes: undefined };
  if (rows.length === 0) fail(where, 'lists no subjects');
  const base = dirname(resolve(path));
  const at = (p: string): string => (isAbsolute(p) ? p : join(base, p));
  const ids = new Set<string>();
  return rows.map((r) => {
    const id = r.id ?? idFromPath(r.image);
    if (ids.has(id)) fail(where, `subject id '${id}' appears twice`);
    ids.add(id);
    const s = loadPair(at(r.image), at(r.label), id, r.split, opts);
    const cls = opts.labelMap?.classes ?? classes;
    return cls ? { ...s, classes: cls } : s;
  });
}

// ---------------------------------------------------------------------------------------- folder

export interface SplitOptions {
  /** fraction of subjects for validation (default 0.15) */
  valFraction?: number;
  /** fraction of subjects for test (default 0.15) */
  testFraction?: number;
  /** seed of the shuffle that assigns subjects to splits (default 0) */
  seed?: number;
}

/** Subject counts per split: rounded, at least one each when the fraction is > 0 and n >= 3. */
export function splitCounts(n: number, valFraction: number, testFraction: number, where = 'split'): { val: number; test: number; train: number } {
  for (const [k, f] of [
    ['valFraction', valFraction],
    ['testFraction', testFraction],
  ] as const) {
    if (!(f >= 0 && f < 1)) fail(where, `${k} must be in [0, 1), got ${f}`);
  }
  const one = (f: number): number => (f > 0 && n >= 3 ? Math.max(1, Math.round(n * f)) : Math.round(n * f));
  const val = one(valFraction);
  const test = one(testFraction);
  if (val + test >= n) fail(where, `${n} subjects leave none for training (${val} val, ${test} test)`);
  return { val, test, train: n - val - test };
}

/**
 * Assigns ids to splits by a seeded shuffle of the sorted ids: the first `test` shuffled ids are
 * test, the next `val` validation, the rest training. Same ids + seed -> same split, whatever
 * order the ids come in.
 */
export function assignSplits(ids: readonly string[], opts: SplitOptions = {}): Map<string, Split> {
  const seed = opts.seed ?? 0;
  if (!(Number.isInteger(seed) && seed >= 0)) fail('assignSplits', `seed must be a non-negative integer, got ${seed}`);
  const { val, test } = splitCounts(ids.length, opts.valFraction ?? 0.15, opts.testFraction ?? 0.15, 'assignSplits');
  const order = new Rng(seed).shuffle([...ids].sort());
  return new Map(order.map((id, i) => [id, i < test ? 'test' : i < test + val ? 'val' : 'train']));
}

/** `<id>_image.nii.gz` / `<id>_label.nii.gz` pairs (or .nii) in `dir`, split by subject. */
export function loadFolder(dir: string, opts: SplitOptions & LoadOptions = {}): Subject[] {
  const where = `folder ${dir}`;
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch (e) {
    fail(where, `cannot list (${(e as Error).message})`);
  }
  const images = new Map<string, string>();
  const labels = new Map<string, string>();
  for (const f of files) {
    const m = /^(.+)_(image|label)\.nii(\.gz)?$/.exec(f);
    if (!m) continue;
    const into = m[2] === 'image' ? images : labels;
    if (into.has(m[1]!)) fail(where, `two ${m[2]} files for subject '${m[1]}': ${into.get(m[1]!)} and ${f}`);
    into.set(m[1]!, f);
  }
  if (images.size === 0) fail(where, 'no <id>_image.nii[.gz] files');
  const noLabel = [...images.keys()].filter((id) => !labels.has(id));
  if (noLabel.length > 0) fail(where, `no <id>_label.nii[.gz] for: ${noLabel.sort().join(', ')}`);
  const noImage = [...labels.keys()].filter((id) => !images.has(id));
  if (noImage.length > 0) fail(where, `no <id>_image.nii[.gz] for: ${noImage.sort().join(', ')}`);
  const splits = assignSplits([...images.keys()], opts);
  return [...images.keys()].sort().map((id) => loadPair(join(dir, images.get(id)!), join(dir, labels.get(id)!), id, splits.get(id)!, opts));
}

// --------------------------------------------------------------------------------- single volume

export interface SingleVolumeOptions extends LoadOptions {
  /** canonical axis the blocks run along: 0/'sagittal', 1/'coronal' (default), 2/'axial' */
  axis?: AxisIndex | 'sagittal' | 'coronal' | 'axial';
  /** slices per block (default 8) */
  block?: number;
  /** training slices dropped on each side of a held-out block (default 2) */
  margin?: number;
  /** every holdOutEvery-th block (blocks holdOutEvery-1, 2*holdOutEvery-1, ...) is test (default 4) */
  holdOutEvery?: number;
  /** if set, every valEvery-th block among the non-test blocks is validation */
  valEvery?: number;
  /** id of the volume (default: from the image file name) */
  id?: string;
}

export const AXES = { sagittal: 0, coronal: 1, axial: 2 } as const;

export function axisIndex(axis: AxisIndex | 'sagittal' | 'coronal' | 'axial', where: string): AxisIndex {
  const a = typeof axis === 'string' ? AXES[axis] : axis;
  if (a !== 0 && a !== 1 && a !== 2) fail(where, `axis must be 'sagittal', 'coronal', 'axial' or 0..2, got ${JSON.stringify(axis)}`);
  return a;
}

/**
 * The split of each slice position 0..n-1 along the axis (null = dropped margin). Blocks are
 * consecutive runs of `block` slices (the last may be shorter). Block b is test when
 * b % holdOutEvery == holdOutEvery - 1; with valEvery, the non-test blocks are counted k = 0, 1,
 * ... and block k is validation when k % valEvery == valEvery - 1. Training slices within
 * `margin` of any held-out slice are dropped.
 * Example (n = 40, block 4, margin 1, holdOutEvery 3, no val): slices 0..6 train, 7 dropped,
 * 8..11 test, 12 dropped, 13..18 train, 19 dropped, 20..23 test, ...
 */
export function interleavedSplit(
  n: number,
  opts: { block?: number; margin?: number; holdOutEvery?: number; valEvery?: number } = {},
): (Split | null)[] {
  const where = 'interleavedSplit';
  const block = opts.block ?? 8;
  const margin = opts.margin ?? 2;
  const every = opts.holdOutEvery ?? 4;
  const valEvery = opts.valEvery;
  if (!(Number.isInteger(n) && n >= 1)) fail(where, `volume depth must be a positive integer, got ${n}`);
  if (!(Number.isInteger(block) && block >= 1)) fail(where, `block must be an integer >= 1, got ${block}`);
  if (!(Number.isInteger(margin) && margin >= 0)) fail(where, `margin must be an integer >= 0, got ${margin}`);
  if (!(Number.isInteger(every) && every >= 2)) fail(where, `holdOutEvery must be an integer >= 2, got ${every}`);
  if (valEvery !== undefined && !(Number.isInteger(valEvery) && valEvery >= 2)) fail(where, `valEvery must be an integer >= 2, got ${valEvery}`);
  const out: (Split | null)[] = new Array<Split | null>(n).fill('train');
  let k = 0;
  for (let b = 0; b * block < n; b++) {
    let s: Split = 'train';
    if (b % every === every - 1) s = 'test';
    else if (valEvery !== undefined && k++ % valEvery === valEvery - 1) s = 'val';
    if (s === 'train') continue;
    for (let i = b * block; i < Math.min(n, (b + 1) * block); i++) out[i] = s;
  }
  const held = out.map((s) => s !== 'train');
  for (let i = 0; i < n; i++) {
    if (held[i]) continue;
    for (let d = 1; d <= margin; d++) {
      if ((i - d >= 0 && held[i - d]) || (i + d < n && held[i + d])) {
        out[i] = null;
        break;
      }
    }
  }
  return out;
}

/** Cuts one subject into train / val / test parts along an axis (see interleavedSplit). */
export function splitSubjectBySlices(subject: Subject, opts: Omit<SingleVolumeOptions, keyof LoadOptions | 'id'> = {}): Subject[] {
  const where = 'loadSingleVolume';
  const axis = axisIndex(opts.axis ?? 'coronal', where);
  const n = subject.dims[axis];
  const per = interleavedSplit(n, opts);
  const parts: Subject[] = [];
  for (const split of SPLITS) {
    const mask = Uint8Array.from(per, (s) => (s === split ? 1 : 0));
    if (!mask.some((v) => v === 1)) {
      if (split === 'val' && opts.valEvery === undefined) continue;
      fail(where, `no ${split} slices: ${n} slices along axis ${axis} with block ${opts.block ?? 8}, margin ${opts.margin ?? 2}, holdOutEvery ${opts.holdOutEvery ?? 4}`);
    }
    const { part: _ignored, ...rest } = subject;
    parts.push({ ...rest, id: `${subject.id}:${split}`, split, part: { axis, mask, source: subject.id } });
  }
  return parts;
}

/**
 * A single labelled volume (an atlas such as Colin27 + AAL) as interleaved train / val / test
 * parts: Subjects sharing the same image and labels, each with a `part` slice mask along `axis`.
 * Slice them along that axis; evaluate a held-out part with 3-D Dice over its slices (the voxels
 * of partVoxelMask, e.g. via restrictToPart on prediction and reference).
 */
export function loadSingleVolume(imagePath: string, labelPath: string, opts: SingleVolumeOptions = {}): Subject[] {
  const s = loadPair(imagePath, labelPath, opts.id ?? idFromPath(imagePath), 'train', opts);
  return splitSubjectBySlices(s, opts);
}

/** Per-voxel mask (1 = the voxel lies in one of the subject's slices), or null for a whole volume. */
export function partVoxelMask(subject: Subject): Uint8Array | null {
  const p = subject.part;
  if (!p) return null;
  const [nx, ny, nz] = subject.dims;
  const out = new Uint8Array(nx * ny * nz);
  const stride = [1, nx, nx * ny][p.axis]!;
  for (let i = 0; i < out.length; i++) out[i] = p.mask[Math.floor(i / stride) % subject.dims[p.axis]]!;
  return out;
}

/** A copy of canonical-grid data with the voxels outside the subject's slices set to 0. */
export function restrictToPart<T extends Int32Array | Float32Array>(data: T, subject: Subject): T {
  const m = partVoxelMask(subject);
  const out = data.slice() as T;
  if (m) for (let i = 0; i < out.length; i++) if (!m[i]) out[i] = 0;
  return out;
}

/** Labels of the voxels a subject contributes (its part's slices only), counted per value. */
function labelCounts(s: Subject): Map<number, number> {
  const m = partVoxelMask(s);
  const c = new Map<number, number>();
  for (let i = 0; i < s.labels.length; i++) {
    if (m && !m[i]) continue;
    const l = s.labels[i]!;
    c.set(l, (c.get(l) ?? 0) + 1);
  }
  return c;
}

export interface AbsentStructure {
  label: number;
  name?: string;
  /** voxels of the structure in the held-out subjects (or parts) */
  heldOutVoxels: number;
  /** which held-out splits contain it */
  splits: Split[];
}

/**
 * Structures (label values) present in the test (and validation) subjects or parts but in no
 * training voxel: a model cannot learn them, so their test Dice measures nothing. Empty when
 * every held-out structure is also in training.
 */
export function absentFromTraining(subjects: readonly Subject[], opts: { classes?: readonly string[]; splits?: readonly Split[] } = {}): AbsentStructure[] {
  const heldSplits = opts.splits ?? ['test', 'val'];
  const train = new Set<number>();
  const held = new Map<number, { n: number; splits: Set<Split> }>();
  for (const s of subjects) {
    const c = labelCounts(s);
    if (s.split === 'train') for (const l of c.keys()) train.add(l);
    else if (heldSplits.includes(s.split)) {
      for (const [l, n] of c) {
        const h = held.get(l) ?? { n: 0, splits: new Set<Split>() };
        h.n += n;
        h.splits.add(s.split);
        held.set(l, h);
      }
    }
  }
  const classes = opts.classes ?? subjects.find((s) => s.classes)?.classes;
  return [...held.entries()]
    .filter(([l]) => !train.has(l))
    .sort(([a], [b]) => a - b)
    .map(([label, h]) => ({
      label,
      ...(classes?.[label] !== undefined ? { name: classes[label] } : {}),
      heldOutVoxels: h.n,
      splits: SPLITS.filter((s) => h.splits.has(s)),
    }));
}

// --------------------------------------------------------------------------------------- phantoms

/** Phantom subjects (already RAS: no reorientation), split as generatePhantomSet splits them. */
export function phantomSubjects(opts: PhantomSetOptions): Subject[] {
  const set = generatePhantomSet(opts);
  return set.subjects.map((p) => ({
    id: p.id,
    image: p.image,
    labels: p.labels,
    dims: [...p.dims] as Vec3,
    affine: p.affine,
    split: p.split,
    canonical: { perm: [0, 1, 2], flip: [false, false, false], dims: [...p.dims] as Vec3, canonicalDims: [...p.dims] as Vec3 },
    original: { affine: [...p.affine], header: null },
    classes: set.classes,
  }));
}
