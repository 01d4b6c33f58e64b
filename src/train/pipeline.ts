// From a data argument to slice sets ready for training: the phantom generator, a manifest
// (JSON/CSV), a folder of <id>_image/<id>_label pairs, or one volume (+ its label file) split into
// interleaved blocks; labels remapped (JSON map or atlas text, optionally merged), sliced along
// the chosen axis, weighted by median frequency + boundary term (class weights from training).
import { existsSync, statSync } from 'node:fs';

import { computeClassWeights } from '../data/classWeights.js';
import { loadLabelMap, mergeAtlas, readAtlasLabels, type LabelMap } from '../data/labels.js';
import { PHANTOM_CLASSES } from '../data/phantom.js';
import { sliceSubjects, type SliceSet } from '../data/slices.js';
import { loadFolder, loadManifest, loadSingleVolume, phantomSubjects, type Subject } from '../data/subjects.js';

export type Axis = 'sagittal' | 'coronal' | 'axial';

export interface DataOptions {
  /** 'phantom' | manifest.json/.csv | folder | image.nii(.gz) (with `label`) */
  data: string;
  label?: string;
  /** label map: a JSON map or an atlas text file (e.g. mricron's aal.nii.txt) */
  labels?: string;
  /** merge an atlas's regions into larger classes */
  merge?: 'lobe' | 'prefix';
  axis: Axis;
  seed: number;
  /** phantom only */
  subjects?: number;
  size?: number;
  classes?: number;
  /** single volume only */
  block?: number;
  margin?: number;
  holdOutEvery?: number;
  dropEmpty?: boolean;
  /** median-frequency + boundary weights (default true) */
  weights?: boolean;
  cacheDir?: string;
}

export interface PreparedData {
  classes: string[];
  subjects: Subject[];
  train: SliceSet;
  val: SliceSet | null;
  test: SliceSet;
  classWeights: number[] | null;
  description: string;
}

function labelMapFor(o: DataOptions): LabelMap | undefined {
  if (!o.labels) return undefined;
  if (o.merge) return mergeAtlas(readAtlasLabels(o.labels), { by: o.merge, unlisted: 'background' });
  return loadLabelMap(o.labels);
}

export function loadSubjects(o: DataOptions): { subjects: Subject[]; classes: string[] | null; description: string } {
  if (o.data === 'phantom') {
    const subjects = phantomSubjects({ subjects: o.subjects ?? 12, size: o.size ?? 64, classes: o.classes, seed: o.seed });
    const classes = subjects[0]?.classes ?? PHANTOM_CLASSES.slice();
    return { subjects, classes, description: `phantom: ${subjects.length} subjects of ${o.size ?? 64}³, ${classes.length} classes, seed ${o.seed}` };
  }
  if (!existsSync(o.data)) throw new Error(`--data: '${o.data}' does not exist (expected 'phantom', a manifest, a folder or a NIfTI image)`);
  const labelMap = labelMapFor(o);
  let subjects: Subject[];
  let description: string;
  if (statSync(o.data).isDirectory()) {
    subjects = loadFolder(o.data, { seed: o.seed, labelMap });
    description = `folder ${o.data}: ${subjects.length} subjects`;
  } else if (/\.(json|csv)$/i.test(o.data)) {
    subjects = loadManifest(o.data, { labelMap });
    description = `manifest ${o.data}: ${subjects.length} subjects`;
  } else if (/\.nii(\.gz)?$/i.test(o.data)) {
    if (!o.label) throw new Error(`--data ${o.data} is a single volume: give its label map with --label <file>`);
    subjects = loadSingleVolume(o.data, o.label, { axis: o.axis, block: o.block, margin: o.margin, holdOutEvery: o.holdOutEvery, valEvery: 5, labelMap });
    description = `single volume ${o.data} with ${o.label}, interleaved blocks of ${o.block ?? 8} slices along the ${o.axis} axis (margin ${o.margin ?? 2}, every ${o.holdOutEvery ?? 4}th block held out)`;
  } else {
    throw new Error(`--data: cannot tell what '${o.data}' is (expected 'phantom', a .json/.csv manifest, a folder or a .nii/.nii.gz image)`);
  }
  const classes = labelMap?.classes ?? subjects.find((s) => s.classes)?.classes ?? null;
  return { subjects, classes, description };
}

export function prepareData(o: DataOptions): PreparedData {
  const { subjects, classes: named, description } = loadSubjects(o);
  const bySplit = (s: string) => subjects.filter((x) => x.split === s);
  const train = bySplit('train');
  const test = bySplit('test');
  if (!train.length) throw new Error(`${description}: no training subjects`);
  if (!test.length) throw new Error(`${description}: no test subjects (the split left none)`);
  let maxLabel = 0;
  for (const s of subjects) for (let i = 0; i < s.labels.length; i++) if (s.labels[i]! > maxLabel) maxLabel = s.labels[i]!;
  const classes = named ?? Array.from({ length: maxLabel + 1 }, (_, i) => (i === 0 ? 'background' : `class_${i}`));
  if (maxLabel >= classes.length) throw new Error(`${description}: label ${maxLabel} found but only ${classes.length} classes are named`);
  const slice = (list: Subject[]) => sliceSubjects(list, { axis: o.axis, dropEmpty: o.dropEmpty ?? false });
  let trainSet = slice(train);
  let classWeights: number[] | null = null;
  const val = bySplit('val');
  let valSet = val.length ? slice(val) : null;
  let testSet = slice(test);
  if (o.weights ?? true) {
    const w = computeClassWeights(trainSet, { numClasses: classes.length, cacheDir: o.cacheDir });
    classWeights = Array.from(w.classWeights);
    trainSet = { ...trainSet, weights: w.weights };
    // held-out sets are weighted with the training set's class weights (never their own)
    const heldOut = (s: SliceSet) => ({ ...s, weights: computeClassWeights(s, { numClasses: classes.length, classWeights: w.classWeights }).weights });
    valSet = valSet ? heldOut(valSet) : null;
    testSet = heldOut(testSet);
  }
  return { classes, subjects, train: trainSet, val: valSet, test: testSet, classWeights, description };
}
