// Prediction on whole volumes: a model from a checkpoint, an image reoriented to canonical RAS,
// sliced along the training axis, segmented slice by slice in batches, restacked, argmax'd, and
// mapped back to the input's grid so the label map aligns with it in any viewer.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { noGrad } from '../autograd/tape.js';
import { readNifti } from '../data/nifti.js';
import { closestCanonical, toCanonical } from '../data/orient.js';
import { restack, sliceSubjects, writePrediction } from '../data/slices.js';
import type { Subject } from '../data/subjects.js';
import { createModel, type FCNN, type ModelName, type ModelOptions } from '../models/index.js';
import { Tensor } from '../tensor.js';
import { loadModelState, readCheckpoint, type CheckpointMeta } from './checkpoint.js';
import { argmaxLast } from './dice.js';
import type { Axis } from './pipeline.js';

export interface LoadedModel {
  model: FCNN;
  meta: CheckpointMeta;
  /** the slice axis the model was trained on (from the run's config.json), if known */
  axis?: Axis;
}

/** The model of a checkpoint, in eval mode, on `device` (default the CPU). */
export function modelFromCheckpoint(path: string, device = 'cpu'): LoadedModel {
  const ck = readCheckpoint(path);
  const model = createModel(ck.meta.model.name as ModelName, ck.meta.model.config as unknown as ModelOptions);
  loadModelState(model, ck);
  model.to(device);
  model.eval();
  const cfgPath = join(dirname(path), 'config.json');
  const axis = existsSync(cfgPath) ? ((JSON.parse(readFileSync(cfgPath, 'utf8')) as { data?: { axis?: Axis } }).data?.axis ?? undefined) : undefined;
  return { model, meta: ck.meta, axis };
}

/** An image without labels as a Subject (labels all background), reoriented to canonical RAS. */
export function subjectFromImage(path: string): Subject {
  const image = readNifti(path);
  const { perm, flip } = closestCanonical(image.affine);
  const identity = perm[0] === 0 && perm[1] === 1 && perm[2] === 2 && !flip.some(Boolean);
  const c = identity ? { volume: image, info: { perm, flip, dims: [...image.dims], canonicalDims: [...image.dims] } } : toCanonical(image);
  return {
    id: path,
    image: c.volume.data,
    labels: new Int32Array(c.volume.data.length),
    dims: c.volume.dims,
    affine: c.volume.affine,
    split: 'test',
    imagePath: path,
    canonical: c.info as Subject['canonical'],
    original: { affine: [...image.affine], header: image.header },
  };
}

/** Segments one subject: labels in its canonical grid. */
export function predictSubject(model: FCNN, subject: Subject, axis: Axis, batchSize = 4): Int32Array {
  const set = sliceSubjects([subject], { axis });
  const { H, W, count } = set;
  const K = model.config.numClasses;
  const pred = new Int32Array(count * H * W);
  const device = model.device;
  noGrad(() => {
    for (let s = 0; s < count; s += batchSize) {
      const n = Math.min(batchSize, count - s);
      const x = Tensor.fromArray(set.images.subarray(s * H * W, (s + n) * H * W), [n, H, W, 1], { device });
      const logits = model.forward(x);
      pred.set(argmaxLast(logits.dataSync() as Float32Array, K), s * H * W);
      x.dispose();
      logits.dispose();
    }
  });
  return restack(pred, set, 0);
}

/** Reads `imagePath`, segments it and writes the label map aligned with the input to `outPath`. */
export function predictFile(loaded: LoadedModel, imagePath: string, outPath: string, axis: Axis, batchSize = 4): { labels: Int32Array; subject: Subject } {
  const subject = subjectFromImage(imagePath);
  const labels = predictSubject(loaded.model, subject, axis, batchSize);
  writePrediction(outPath, labels, subject);
  return { labels, subject };
}
