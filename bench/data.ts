// Data-layer timings (one core: all of this is plain TypeScript): phantom generation, NIfTI
// writing/reading, canonical reorientation. Run: node --import tsx bench/data.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { readNifti, readNiftiLabels, writeNifti } from '../src/data/nifti.js';
import { toCanonical } from '../src/data/orient.js';
import { generatePhantomSet, generatePhantomSubject, phantomVolumes, writePhantomSet } from '../src/data/phantom.js';
import { computeClassWeights } from '../src/data/classWeights.js';
import { batches, type AugmentOptions } from '../src/data/loader.js';
import { sliceSubjects } from '../src/data/slices.js';
import { phantomSubjects } from '../src/data/subjects.js';
import { mdTable, medianMs, writeResults } from './common.js';

const dir = mkdtempSync(join(tmpdir(), 'scse-bench-data-'));
try {
  const rows: [string, number][] = [];
  const time = (name: string, fn: () => void, reps = 5, warmup = 1): void => {
    rows.push([name, medianMs(fn, reps, warmup)]);
  };

  time('generatePhantomSet 20 x 96³', () => generatePhantomSet({ subjects: 20, size: 96, seed: 1 }), 3, 1);
  time('generatePhantomSubject 1 x 128³', () => generatePhantomSubject(1, { size: 128 }), 3, 1);
  const set = generatePhantomSet({ subjects: 4, size: 96, seed: 1 });
  time('writePhantomSet 4 x 96³, gzip level 6', () => writePhantomSet(join(dir, 'l6'), set), 3, 0);
  time('writePhantomSet 4 x 96³, gzip level 1', () => writePhantomSet(join(dir, 'l1'), set, { compressionLevel: 1 }), 3, 0);
  const { image } = phantomVolumes(set.subjects[0]!);
  writeNifti(join(dir, 'img.nii'), image);
  time('readNifti 96³ float32 .nii.gz', () => readNifti(join(dir, 'l6', 'phantom_000_image.nii.gz')));
  time('readNifti 96³ float32 .nii', () => readNifti(join(dir, 'img.nii')));
  time('readNiftiLabels 96³ uint8 .nii.gz', () => readNiftiLabels(join(dir, 'l6', 'phantom_000_label.nii.gz')));
  const lps = { ...image, affine: [0, 0, -1, 0, -1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1] };
  time('toCanonical 96³ (permute + 2 flips)', () => toCanonical(lps));

  // Slicing and batching the whole 20 x 96³ set (1920 slices of 96 x 96 per axis).
  const subjects = phantomSubjects({ subjects: 20, size: 96, seed: 1 });
  for (const axis of ['sagittal', 'coronal', 'axial'] as const) time(`sliceSubjects 20 x 96³ ${axis}`, () => sliceSubjects(subjects, { axis }), 3, 1);
  time('sliceSubjects 20 x 96³ coronal, padded to 256 x 256', () => sliceSubjects(subjects, { axis: 'coronal', size: [256, 256] }), 3, 1);
  const trainSet = sliceSubjects(subjects.filter((s) => s.split === 'train'), { axis: 'coronal' });
  time(`computeClassWeights ${trainSet.count} training slices (no cache)`, () => computeClassWeights(trainSet), 3, 1);
  const cacheDir = join(dir, 'weights');
  computeClassWeights(trainSet, { cacheDir });
  time('computeClassWeights, cache hit (hash + read)', () => computeClassWeights(trainSet, { cacheDir }), 3, 1);
  const weighted = { ...trainSet, weights: computeClassWeights(trainSet).weights };
  const epoch = (augment?: AugmentOptions): void => {
    for (const b of batches(weighted, { batchSize: 4, seed: 1, ...(augment ? { augment } : {}) })) void b;
  };
  time('one epoch of batches (B = 4)', () => epoch(), 3, 1);
  time('one epoch of batches (B = 4), translate 8 + intensity', () => epoch({ translate: 8, intensity: { scale: 0.1, shift: 0.1 } }), 3, 1);

  const md = `# Data layer\n\n${mdTable(['operation', 'median ms'], rows.map(([n, ms]) => [n, ms.toFixed(1)]))}\n`;
  writeResults('data', { rows: rows.map(([name, ms]) => ({ name, ms })) }, md);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
