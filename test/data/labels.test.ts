import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import {
  aalLobe,
  applyLabelMap,
  hemisphereOf,
  labelMapFromAtlas,
  labelMapFromJson,
  loadLabelMap,
  mergeAtlas,
  parseAtlasText,
  readAtlasLabels,
  stripHemisphere,
} from '../../src/data/labels.js';

const dir = mkdtempSync(join(tmpdir(), 'scse-labels-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const AAL_TXT = '/usr/share/mricron/templates/aal.nii.txt';
const hasAal = existsSync(AAL_TXT);

// AAL's 116 region names in label order (as in mricron's aal.nii.txt), for when the file is absent.
const AAL_NAMES = (
  'Precentral_L Precentral_R Frontal_Sup_L Frontal_Sup_R Frontal_Sup_Orb_L Frontal_Sup_Orb_R Frontal_Mid_L Frontal_Mid_R ' +
  'Frontal_Mid_Orb_L Frontal_Mid_Orb_R Frontal_Inf_Oper_L Frontal_Inf_Oper_R Frontal_Inf_Tri_L Frontal_Inf_Tri_R Frontal_Inf_Orb_L ' +
  'Frontal_Inf_Orb_R Rolandic_Oper_L Rolandic_Oper_R Supp_Motor_Area_L Supp_Motor_Area_R Olfactory_L Olfactory_R ' +
  'Frontal_Sup_Medial_L Frontal_Sup_Medial_R Frontal_Med_Orb_L Frontal_Med_Orb_R Rectus_L Rectus_R Insula_L Insula_R ' +
  'Cingulum_Ant_L Cingulum_Ant_R Cingulum_Mid_L Cingulum_Mid_R Cingulum_Post_L Cingulum_Post_R Hippocampus_L Hippocampus_R ' +
  'ParaHippocampal_L ParaHippocampal_R Amygdala_L Amygdala_R Calcarine_L Calcarine_R Cuneus_L Cuneus_R Lingual_L Lingual_R ' +
  'Occipital_Sup_L Occipital_Sup_R Occipital_Mid_L Occipital_Mid_R Occipital_Inf_L Occipital_Inf_R Fusiform_L Fusiform_R ' +
  'Postcentral_L Postcentral_R Parietal_Sup_L Parietal_Sup_R Parietal_Inf_L Parietal_Inf_R SupraMarginal_L SupraMarginal_R ' +
  'Angular_L Angular_R Precuneus_L Precuneus_R Paracentral_Lobule_L Paracentral_Lobule_R Caudate_L Caudate_R Putamen_L ' +
  'Putamen_R Pallidum_L Pallidum_R Thalamus_L Thalamus_R Heschl_L Heschl_R Temporal_Sup_L Temporal_Sup_R Temporal_Pole_Sup_L ' +
  'Temporal_Pole_Sup_R Temporal_Mid_L Temporal_Mid_R Temporal_Pole_Mid_L Temporal_Pole_Mid_R Temporal_Inf_L Temporal_Inf_R ' +
  'Cerebelum_Crus1_L Cerebelum_Crus1_R Cerebelum_Crus2_L Cerebelum_Crus2_R Cerebelum_3_L Cerebelum_3_R Cerebelum_4_5_L ' +
  'Cerebelum_4_5_R Cerebelum_6_L Cerebelum_6_R Cerebelum_7b_L Cerebelum_7b_R Cerebelum_8_L Cerebelum_8_R Cerebelum_9_L ' +
  'Cerebelum_9_R Cerebelum_10_L Cerebelum_10_R Vermis_1_2 Vermis_3 Vermis_4_5 Vermis_6 Vermis_7 Vermis_8 Vermis_9 Vermis_10'
).split(' ');

const aalEntries = () => (hasAal ? readAtlasLabels(AAL_TXT) : AAL_NAMES.map((name, i) => ({ index: i + 1, name, extra: [] })));

describe('label maps from JSON', () => {
  it('maps source labels by index or class name, with the given class list', () => {
    const p = join(dir, 'map.json');
    writeFileSync(p, JSON.stringify({ classes: ['background', 'wm', 'gm'], '2': 'wm', '41': 'wm', '3': 2, '42': 'gm' }));
    const m = labelMapFromJson(p);
    expect(m.classes).toEqual(['background', 'wm', 'gm']);
    expect(applyLabelMap(Int32Array.of(0, 2, 41, 3, 42, 7), m)).toEqual(Int32Array.of(0, 1, 1, 2, 2, 0));
    expect(loadLabelMap(p).table).toEqual(m.table);
  });
  it("'map' form: names get indices in order of appearance, unnamed indices get class_<k>, unmapped can be an error", () => {
    const m = labelMapFromJson({ map: { '10': 'a', '11': 'b', '12': 'a', '13': 4 }, unmapped: 'error' });
    expect(m.classes).toEqual(['background', 'a', 'b', 'class_3', 'class_4']);
    expect(applyLabelMap(Int32Array.of(10, 11, 12, 13), m)).toEqual(Int32Array.of(1, 2, 1, 4));
    expect(() => applyLabelMap(Int32Array.of(10, 99), m)).toThrow(/label 99 at index 1 is not in the label map/);
    // a sparse source range takes the Map path
    expect(applyLabelMap(Int32Array.of(10, 2_000_000_000), { ...m, unmapped: 0 })).toEqual(Int32Array.of(1, 0));
  });
  it('rejects bad maps with the reason', () => {
    expect(() => labelMapFromJson({ classes: ['background', 'a'], '1': 'b' })).toThrow(/class 'b' is not among classes/);
    expect(() => labelMapFromJson({ classes: ['background', 'a'], '1': 5 })).toThrow(/target 5 is outside the 2 classes/);
    expect(() => labelMapFromJson({ x: 1 })).toThrow(/source label "x" is not an integer/);
    expect(() => labelMapFromJson({ '1': true } as never)).toThrow(/target must be a class index or name/);
    expect(() => labelMapFromJson(join(dir, 'missing.json'))).toThrow(/missing\.json: cannot read JSON/);
  });
});

describe('atlas text files', () => {
  it("parses mricron's `index name [more]` format (CRLF, tabs, blank lines, comments)", () => {
    const p = join(dir, 'atlas.nii.txt');
    writeFileSync(p, '1 Putamen_L 4011\r\n2 Putamen_R 4012\r\n\r\n# a comment\r\n5\tThalamus_L\r\n7 Vermis_3 9030 extra\r\n\r\n');
    const e = readAtlasLabels(p);
    expect(e).toEqual([
      { index: 1, name: 'Putamen_L', extra: ['4011'] },
      { index: 2, name: 'Putamen_R', extra: ['4012'] },
      { index: 5, name: 'Thalamus_L', extra: [] },
      { index: 7, name: 'Vermis_3', extra: ['9030', 'extra'] },
    ]);
    const m = loadLabelMap(p);
    expect(m.classes).toEqual(['background', 'Putamen_L', 'Putamen_R', 'Thalamus_L', 'Vermis_3']);
    expect(applyLabelMap(Int32Array.of(0, 7, 5, 2, 1), m)).toEqual(Int32Array.of(0, 4, 3, 2, 1));
    expect(() => applyLabelMap(Int32Array.of(3), m)).toThrow(/label 3 at index 0 is not in the label map \(known: 0, 1, 2, 5, 7\)/);
  });
  it('treats an index-0 entry as the background and rejects malformed lines', () => {
    const m = labelMapFromAtlas(parseAtlasText('0\tUnclassified\n1\tMiddle_cerebellar_peduncle\n'));
    expect(m.classes).toEqual(['background', 'Middle_cerebellar_peduncle']);
    expect(() => parseAtlasText('1 a\nfoo bar\n', 'x.txt')).toThrow(/x\.txt: line 2: expected "index name/);
    expect(() => parseAtlasText('1 a\n1 b\n')).toThrow(/index 1 is listed twice/);
    expect(() => parseAtlasText('\n\n')).toThrow(/no regions/);
  });
  it.runIf(hasAal)("reads mricron's aal.nii.txt: 116 regions numbered 1..116", () => {
    const e = readAtlasLabels(AAL_TXT);
    expect(e.length).toBe(116);
    expect(e.map((x) => x.index)).toEqual(Array.from({ length: 116 }, (_, i) => i + 1));
    expect(e.map((x) => x.name)).toEqual(AAL_NAMES);
    expect(labelMapFromAtlas(AAL_TXT).classes.length).toBe(117);
  });
});

describe('merging atlas regions', () => {
  it('strips hemisphere tags', () => {
    expect(['Precentral_L', 'Cerebelum_4_5_R', 'Vermis_4_5', 'Left-Putamen', 'rh.insula', 'Thalamus.R'].map(stripHemisphere)).toEqual([
      'Precentral',
      'Cerebelum_4_5',
      'Vermis_4_5',
      'Putamen',
      'insula',
      'Thalamus',
    ]);
    expect(['Precentral_L', 'Cerebelum_4_5_R', 'Vermis_4_5', 'Left-Putamen'].map(hemisphereOf)).toEqual(['L', 'R', '', 'L']);
  });
  it('by prefix: left/right pairs merge (116 AAL regions -> 54 pairs + 8 vermis parts), or by leading words', () => {
    const e = aalEntries();
    const m = mergeAtlas(e, { by: 'prefix' });
    expect(m.classes.length).toBe(1 + 54 + 8);
    const cls = (name: string): number => m.table.get(e.find((x) => x.name === name)!.index)!;
    expect(m.classes[cls('Precentral_L')]).toBe('Precentral');
    expect(cls('Precentral_L')).toBe(cls('Precentral_R'));
    expect(m.classes[cls('Cerebelum_4_5_R')]).toBe('Cerebelum_4_5');
    expect(cls('Vermis_3')).not.toBe(cls('Vermis_4_5'));
    const one = mergeAtlas(e, { by: 'prefix', tokens: 1 });
    expect(one.classes).toContain('Frontal');
    expect(one.classes).toContain('Cerebelum');
    expect(one.classes).not.toContain('Frontal_Sup');
    expect(mergeAtlas(e, { by: 'prefix', splitHemispheres: true }).classes.length).toBe(117);
  });
  it('by lobe on the real AAL names: every region gets one of the nine lobes', () => {
    const e = aalEntries();
    expect(e.length).toBe(116);
    expect(e.filter((x) => aalLobe(x.name) === null).map((x) => x.name)).toEqual([]);
    const m = mergeAtlas(e, { by: 'lobe' });
    expect(m.classes).toEqual(['background', 'Frontal', 'Temporal', 'Parietal', 'Occipital', 'Insula_Cingulum', 'Central', 'Limbic', 'Cerebellum', 'Vermis']);
    const lobe = (name: string): string => m.classes[m.table.get(e.find((x) => x.name === name)!.index)!]!;
    const expected: Record<string, string> = {
      Precentral_L: 'Frontal',
      Frontal_Inf_Tri_R: 'Frontal',
      Supp_Motor_Area_L: 'Frontal',
      Rectus_R: 'Frontal',
      Temporal_Pole_Mid_L: 'Temporal',
      Heschl_R: 'Temporal',
      Postcentral_L: 'Parietal',
      SupraMarginal_R: 'Parietal',
      Precuneus_L: 'Parietal',
      Calcarine_R: 'Occipital',
      Fusiform_L: 'Occipital',
      Insula_R: 'Insula_Cingulum',
      Cingulum_Post_L: 'Insula_Cingulum',
      Caudate_L: 'Central',
      Putamen_R: 'Central',
      Pallidum_L: 'Central',
      Thalamus_R: 'Central',
      Hippocampus_L: 'Limbic',
      ParaHippocampal_R: 'Limbic',
      Amygdala_L: 'Limbic',
      Cerebelum_Crus1_R: 'Cerebellum',
      Cerebelum_10_L: 'Cerebellum',
      Vermis_1_2: 'Vermis',
      Vermis_10: 'Vermis',
    };
    for (const [name, l] of Object.entries(expected)) expect(lobe(name), name).toBe(l);
    // count regions per lobe: 116 in all
    const per = new Map<string, number>();
    for (const x of e) per.set(lobe(x.name), (per.get(lobe(x.name)) ?? 0) + 1);
    expect(Object.fromEntries(per)).toEqual({ Frontal: 30, Temporal: 12, Parietal: 12, Occipital: 14, Insula_Cingulum: 8, Central: 8, Limbic: 6, Cerebellum: 18, Vermis: 8 });
    const h = mergeAtlas(e, { by: 'lobe', splitHemispheres: true });
    expect(h.classes.slice(0, 3)).toEqual(['background', 'Frontal_L', 'Frontal_R']);
    expect(h.classes).toContain('Vermis');
    expect(h.classes.length).toBe(1 + 8 * 2 + 1);
  });
  it("unlisted regions go to the background or to one 'other' class", () => {
    const names = ['Hippocampus_L', 'Mystery_L', 'Caudate_R', 'Unknown'];
    const bg = mergeAtlas(names, { by: 'lobe' });
    expect(bg.classes).toEqual(['background', 'Central', 'Limbic']);
    expect(applyLabelMap(Int32Array.of(0, 1, 2, 3, 4, 9), bg)).toEqual(Int32Array.of(0, 2, 0, 1, 0, 0));
    const other = mergeAtlas(names, { by: 'lobe', unlisted: 'other', unmapped: 'error' });
    expect(other.classes).toEqual(['background', 'Central', 'Limbic', 'other']);
    expect(applyLabelMap(Int32Array.of(0, 1, 2, 3, 4), other)).toEqual(Int32Array.of(0, 2, 3, 1, 3));
    expect(() => applyLabelMap(Int32Array.of(9), other)).toThrow(/label 9/);
    expect(() => mergeAtlas(names, { by: 'size' as never })).toThrow(/'by' must be 'prefix' or 'lobe'/);
  });
});
