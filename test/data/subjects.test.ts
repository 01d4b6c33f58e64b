import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { labelMapFromAtlas, labelMapFromJson } from '../../src/data/labels.js';
import { writeNifti } from '../../src/data/nifti.js';
import { fromCanonical } from '../../src/data/orient.js';
import { restack, sliceSubjects } from '../../src/data/slices.js';
import {
  absentFromTraining,
  assignSplits,
  interleavedSplit,
  loadFolder,
  loadManifest,
  loadSingleVolume,
  partVoxelMask,
  phantomSubjects,
  restrictToPart,
  type Subject,
} from '../../src/data/subjects.js';
import type { Vec3 } from '../../src/data/volume.js';

const dir = mkdtempSync(join(tmpdir(), 'scse-subjects-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RAS = [2, 0, 0, -10, 0, 2, 0, -12, 0, 0, 2, -8, 0, 0, 0, 1];
// voxel axes L, P, S (a radiological LPS-like file): canonical = x and y reversed
const LPS = [-1, 0, 0, 10, 0, -1, 0, 12, 0, 0, 1, -8, 0, 0, 0, 1];

/** Writes <id>_image / <id>_label with values derived from `seed`; returns the data. */
function writePair(folder: string, id: string, seed: number, dims: Vec3 = [4, 5, 6], affine = RAS, ext = '.nii.gz'): { image: Float32Array; labels: Int32Array } {
  const n = dims[0] * dims[1] * dims[2];
  const image = Float32Array.from({ length: n }, (_, i) => seed * 1000 + i);
  const labels = Int32Array.from({ length: n }, (_, i) => (i + seed) % 3);
  mkdirSync(folder, { recursive: true });
  writeNifti(join(folder, `${id}_image${ext}`), { data: image, dims, affine });
  writeNifti(join(folder, `${id}_label${ext}`), { data: labels, dims, affine }, { datatype: 'uint8' });
  return { image, labels };
}

describe('loadManifest', () => {
  const m = join(dir, 'manifest');
  const a = writePair(m, 'a', 1);
  const b = writePair(join(m, 'sub'), 'b', 2, [4, 5, 6], LPS);
  writePair(m, 'c', 3, [4, 5, 7]);

  it('reads a JSON manifest: paths relative to it, ids, splits, classes, canonical reorientation', () => {
    const p = join(m, 'manifest.json');
    writeFileSync(
      p,
      JSON.stringify({
        classes: ['background', 'one', 'two'],
        subjects: [
          { id: 'A', image: 'a_image.nii.gz', label: 'a_label.nii.gz', split: 'train' },
          { image: 'sub/b_image.nii.gz', label: join(m, 'sub/b_label.nii.gz'), split: 'test' },
        ],
      }),
    );
    const s = loadManifest(p);
    expect(s.map((x) => [x.id, x.split])).toEqual([
      ['A', 'train'],
      ['b', 'test'],
    ]);
    expect(s[0]!.classes).toEqual(['background', 'one', 'two']);
    expect(s[0]!.image).toEqual(a.image);
    expect(s[0]!.labels).toEqual(a.labels);
    expect(s[0]!.imagePath).toBe(join(m, 'a_image.nii.gz'));
    // b was L, P, S: canonical is RAS with x and y reversed, and maps back exactly
    expect(s[1]!.canonical!.flip).toEqual([true, true, false]);
    expect(s[1]!.image[0]).toBe(b.image[3 + 4 * 4]); // canonical (0,0,0) = file (3,4,0)
    expect(s[1]!.affine.slice(0, 3)).toEqual([1, 0, 0]);
    expect(fromCanonical(s[1]!.labels, s[1]!.canonical!)).toEqual(b.labels);
    expect(s[1]!.original!.affine).toEqual(LPS);
  });

  it('reads a CSV manifest (any column order, optional id, quotes) and applies a label map', () => {
    const p = join(m, 'list.csv');
    writeFileSync(p, 'split,label,image,id\r\nval,a_label.nii.gz,a_image.nii.gz,\r\n# comment\r\ntrain,"sub/b_label.nii.gz","sub/b_image.nii.gz",bee\r\n\r\n');
    const s = loadManifest(p, { labelMap: labelMapFromJson({ '0': 0, '1': 'x', '2': 'x' }) });
    expect(s.map((x) => [x.id, x.split])).toEqual([
      ['a', 'val'],
      ['bee', 'train'],
    ]);
    expect(s[0]!.labels).toEqual(a.labels.map((l) => (l > 0 ? 1 : 0)));
    expect(s[0]!.classes).toEqual(['background', 'x']);
  });

  it('reports bad manifests and mismatched pairs', () => {
    const w = (name: string, text: string): string => {
      writeFileSync(join(m, name), text);
      return join(m, name);
    };
    expect(() => loadManifest(w('bad1.csv', 'image,label\na,b\n'))).toThrow(/header must name columns image,label,split/);
    expect(() => loadManifest(w('bad2.csv', 'image,label,split\na_image.nii.gz,a_label.nii.gz,training\n'))).toThrow(/line 2: split must be one of train, val, test/);
    expect(() => loadManifest(w('bad3.json', '{"subjects": [{"image": "a_image.nii.gz", "split": "train"}]}'))).toThrow(/subjects\[0\]: 'label' must be a path/);
    expect(() => loadManifest(w('bad4.json', '{"subjects": [{"image":"a_image.nii.gz","label":"c_label.nii.gz","split":"train"}]}'))).toThrow(
      /a_image\.nii\.gz and .*c_label\.nii\.gz are not on the same voxel grid: dims differ/,
    );
    expect(() => loadManifest(w('bad5.csv', 'image,label,split\na_image.nii.gz,a_label.nii.gz,train\na_image.nii.gz,a_label.nii.gz,test\n'))).toThrow(/subject id 'a' appears twice/);
    expect(() => loadManifest(w('bad6.csv', 'image,label,split\nnope.nii.gz,a_label.nii.gz,train\n'))).toThrow(/nope\.nii\.gz: cannot read file/);
  });
});

describe('loadFolder', () => {
  const f = join(dir, 'folder');
  const ids = ['s01', 's02', 's03', 's04', 's05', 's06', 's07', 's08', 's09', 's10'];
  ids.forEach((id, i) => writePair(f, id, i, [3, 3, 3], RAS, i % 2 ? '.nii' : '.nii.gz'));
  writeFileSync(join(f, 'notes.txt'), 'ignored');

  it('pairs <id>_image / <id>_label (.nii and .nii.gz) and splits by a seeded shuffle, deterministically', () => {
    const s = loadFolder(f, { valFraction: 0.2, testFraction: 0.3, seed: 7 });
    expect(s.map((x) => x.id)).toEqual(ids);
    const count = (k: string): number => s.filter((x) => x.split === k).length;
    expect([count('train'), count('val'), count('test')]).toEqual([5, 2, 3]);
    expect(loadFolder(f, { valFraction: 0.2, testFraction: 0.3, seed: 7 }).map((x) => x.split)).toEqual(s.map((x) => x.split));
    // the split is a function of the ids and the seed, not of the listing order
    const again = assignSplits([...ids].reverse(), { valFraction: 0.2, testFraction: 0.3, seed: 7 });
    expect(s.map((x) => again.get(x.id))).toEqual(s.map((x) => x.split));
    // another seed gives another split
    const other = [1, 2, 3, 4].map((seed) => loadFolder(f, { valFraction: 0.2, testFraction: 0.3, seed }).map((x) => x.split).join());
    expect(other.some((o) => o !== s.map((x) => x.split).join())).toBe(true);
    expect(s[3]!.image).toEqual(Float32Array.from({ length: 27 }, (_, i) => 3000 + i));
  });

  it('names subjects without a partner, and refuses to leave no training subject', () => {
    const g = join(dir, 'folder2');
    writePair(g, 'x', 1, [3, 3, 3]);
    writeNifti(join(g, 'y_image.nii.gz'), { data: new Float32Array(27), dims: [3, 3, 3], affine: RAS });
    expect(() => loadFolder(g)).toThrow(/no <id>_label\.nii\[\.gz\] for: y/);
    expect(() => loadFolder(f, { valFraction: 0.5, testFraction: 0.5 })).toThrow(/leave none for training/);
    expect(() => loadFolder(join(dir, 'nothing'))).toThrow(/cannot list/);
  });
});

describe('single volume, interleaved blocks of slices', () => {
  it('holds out every holdOutEvery-th block, with margins, and optional validation blocks', () => {
    const s = interleavedSplit(64, { block: 8, margin: 2, holdOutEvery: 4 });
    const at = (k: string | null): number[] => s.flatMap((v, i) => (v === k ? [i] : []));
    const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);
    expect(at('test')).toEqual([...range(24, 32), ...range(56, 64)]);
    expect(at(null)).toEqual([22, 23, 32, 33, 54, 55]);
    expect(at('train')).toEqual([...range(0, 22), ...range(34, 54)]);
    // valEvery 2: non-test blocks 0 1 2 4 5 6 -> every 2nd (1, 4, 6) is validation
    const v = interleavedSplit(64, { block: 8, margin: 1, holdOutEvery: 4, valEvery: 2 });
    const vat = (k: string | null): number[] => v.flatMap((x, i) => (x === k ? [i] : []));
    expect(vat('val')).toEqual([...range(8, 16), ...range(32, 40), ...range(48, 56)]);
    expect(vat('train')).toEqual([...range(0, 7), ...range(17, 23), ...range(41, 47)]);
    // a partial last block
    expect(interleavedSplit(13, { block: 3, margin: 0, holdOutEvery: 2 }).join()).toBe('train,train,train,test,test,test,train,train,train,test,test,test,train');
    expect(() => interleavedSplit(10, { holdOutEvery: 1 })).toThrow(/holdOutEvery must be an integer >= 2/);
  });

  // A synthetic "atlas": 12 slabs of labels along y (each 10 slices thick), plus a sphere.
  const dims: Vec3 = [10, 120, 9];
  const n = dims[0] * dims[1] * dims[2];
  const labels = new Int32Array(n);
  const image = new Float32Array(n);
  for (let z = 0; z < 9; z++) {
    for (let y = 0; y < 120; y++) {
      for (let x = 0; x < 10; x++) {
        const i = x + 10 * (y + 120 * z);
        labels[i] = x < 2 ? 0 : 1 + Math.floor(y / 10);
        image[i] = labels[i]! * 10 + x;
      }
    }
  }
  const sd = join(dir, 'single');
  mkdirSync(sd);
  writeNifti(join(sd, 'atlas_t1.nii.gz'), { data: image, dims, affine: RAS });
  writeNifti(join(sd, 'atlas_labels.nii.gz'), { data: labels, dims, affine: RAS }, { datatype: 'uint8' });

  it('returns parts sharing the volume with disjoint slice masks; every class in training and test', () => {
    const parts = loadSingleVolume(join(sd, 'atlas_t1.nii.gz'), join(sd, 'atlas_labels.nii.gz'), { axis: 'coronal', block: 4, margin: 1, holdOutEvery: 3 });
    expect(parts.map((p) => [p.id, p.split])).toEqual([
      ['atlas:train', 'train'],
      ['atlas:test', 'test'],
    ]);
    const [train, test] = parts as [Subject, Subject];
    expect(train.image).toBe(test.image); // shared, not copied
    const tm = train.part!.mask;
    const hm = test.part!.mask;
    for (let i = 0; i < 120; i++) {
      expect(tm[i]! & hm[i]!, `slice ${i}`).toBe(0);
      // no training slice touches a test slice
      if (tm[i]) expect((hm[i - 1] ?? 0) | (hm[i + 1] ?? 0), `slice ${i}`).toBe(0);
    }
    expect(absentFromTraining(parts)).toEqual([]);
    // slicing the parts along their axis gives exactly their slices
    const trainSet = sliceSubjects([train], { axis: 'coronal' });
    const testSet = sliceSubjects([test], { axis: 'coronal' });
    expect(Array.from(trainSet.position)).toEqual(Array.from(tm).flatMap((v, i) => (v ? [i] : [])));
    expect(Array.from(testSet.position)).toEqual(Array.from(hm).flatMap((v, i) => (v ? [i] : [])));
    expect(() => sliceSubjects([train], { axis: 'axial' })).toThrow(/slice part along axis 1; it can only be sliced along that axis/);
    // 3-D evaluation over the held-out slices: a perfect prediction restacks to the reference there
    const pred = restack(testSet.labels, testSet, 0);
    expect(pred).toEqual(restrictToPart(test.labels, test));
    const vm = partVoxelMask(test)!;
    expect(vm.reduce((a, b) => a + b, 0)).toBe(hm.reduce((a, b) => a + b, 0) * 90);
  });

  it('reports structures that are in test but not in training', () => {
    // a structure (label 20) only inside one test block
    const lab = labels.slice();
    for (let z = 3; z < 6; z++) for (let x = 4; x < 7; x++) lab[x + 10 * (13 + 120 * z)] = 20; // y = 13: block 3 (12..15)
    writeNifti(join(sd, 'atlas2_labels.nii.gz'), { data: lab, dims, affine: RAS }, { datatype: 'uint8' });
    const parts = loadSingleVolume(join(sd, 'atlas_t1.nii.gz'), join(sd, 'atlas2_labels.nii.gz'), { axis: 1, block: 4, margin: 1, holdOutEvery: 4, valEvery: 2 });
    expect(parts.map((p) => p.split)).toEqual(['train', 'val', 'test']);
    expect(absentFromTraining(parts, { classes: Array.from({ length: 21 }, (_, i) => `c${i}`) })).toEqual([{ label: 20, name: 'c20', heldOutVoxels: 9, splits: ['test'] }]);
    // large blocks starve training of whole structures
    const coarse = loadSingleVolume(join(sd, 'atlas_t1.nii.gz'), join(sd, 'atlas_labels.nii.gz'), { axis: 1, block: 30, margin: 0, holdOutEvery: 2 });
    expect(absentFromTraining(coarse).map((a) => a.label)).toEqual([4, 5, 6, 10, 11, 12]);
    expect(() => loadSingleVolume(join(sd, 'atlas_t1.nii.gz'), join(sd, 'atlas_labels.nii.gz'), { axis: 2, block: 16, holdOutEvery: 2 })).toThrow(/no test slices: 9 slices along axis 2/);
  });
});

const T = '/usr/share/mricron/templates/';
describe.runIf(existsSync(`${T}aal.nii.txt`) && existsSync(`${T}ch2.nii.gz`) && existsSync(`${T}aal.nii.gz`))('Colin27 + AAL (mricron-data)', () => {
  it('the default coronal blocks put all 116 regions in training and test; sagittal blocks miss the thin vermis', () => {
    const labelMap = labelMapFromAtlas(`${T}aal.nii.txt`);
    const coronal = loadSingleVolume(`${T}ch2.nii.gz`, `${T}aal.nii.gz`, { axis: 'coronal', labelMap });
    expect(coronal.map((p) => p.id)).toEqual(['ch2:train', 'ch2:test']);
    expect(coronal[0]!.classes!.length).toBe(117);
    expect(absentFromTraining(coronal)).toEqual([]);
    const sagittal = loadSingleVolume(`${T}ch2.nii.gz`, `${T}aal.nii.gz`, { axis: 'sagittal', labelMap });
    expect(absentFromTraining(sagittal).map((a) => a.name)).toEqual(['Vermis_3']);
  });
});

describe('phantomSubjects', () => {
  it('wraps generatePhantomSet: canonical grids, the set split, class names', () => {
    const s = phantomSubjects({ subjects: 4, size: 24, seed: 3, classes: 4 });
    expect(s.map((x) => x.split)).toEqual(['train', 'train', 'val', 'test']);
    expect(s[0]!.classes).toEqual(['background', 'skull', 'brain', 'ventricle_left']);
    expect(s[0]!.dims).toEqual([24, 24, 24]);
    expect(s[0]!.canonical).toEqual({ perm: [0, 1, 2], flip: [false, false, false], dims: [24, 24, 24], canonicalDims: [24, 24, 24] });
    expect(Math.max(...s[0]!.labels)).toBe(3);
  });
});
