// Data-layer timings (one core: all of this is plain TypeScript): phantom generation, NIfTI
// writing/reading, canonical reorientation. Run: node --import tsx bench/data.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { readNifti, readNiftiLabels, writeNifti } from '../src/data/nifti.js';
import { toCanonical } from '../src/data/orient.js';
import { generatePhantomSet, generatePhantomSubject, phantomVolumes, writePhantomSet } from '../src/data/phantom.js';
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

  const md = `# Data layer\n\n${mdTable(['operation', 'median ms'], rows.map(([n, ms]) => [n, ms.toFixed(1)]))}\n`;
  writeResults('data', { rows: rows.map(([name, ms]) => ({ name, ms })) }, md);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
