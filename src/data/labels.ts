// Label remapping: from the label values stored in a file (an atlas's region codes, a dataset's
// FreeSurfer-like numbers) to the contiguous class indices 0..K-1 a network predicts, with the
// class names travelling alongside. Three ways to build a map: a JSON file, an atlas text file
// (mricron's `index name [more]` lines, e.g. /usr/share/mricron/templates/aal.nii.txt), and a
// merge rule grouping an atlas's regions into fewer, larger classes (by name prefix or by lobe).
// Class 0 is always background; source label 0 maps to it unless the map says otherwise.
import { readFileSync } from 'node:fs';

export interface LabelMap {
  /** target class of each listed source label */
  table: Map<number, number>;
  /** class names, index = target class; classes[0] is the background */
  classes: string[];
  /** class of source labels not in `table` ('error' throws on the first one met) */
  unmapped: number | 'error';
}

export interface AtlasEntry {
  index: number;
  name: string;
  /** the rest of the line (AAL: its original region code), if any */
  extra: string[];
}

function fail(where: string, what: string): never {
  throw new Error(`${where}: ${what}`);
}

function checkMap(where: string, map: LabelMap): LabelMap {
  const K = map.classes.length;
  if (K < 1) fail(where, 'a label map needs at least one class (the background)');
  for (const [s, t] of map.table) {
    if (!Number.isInteger(s)) fail(where, `source label ${s} is not an integer`);
    if (!(Number.isInteger(t) && t >= 0 && t < K)) fail(where, `source label ${s} maps to ${t}, outside the ${K} classes [0, ${K})`);
  }
  const u = map.unmapped;
  if (u !== 'error' && !(Number.isInteger(u) && u >= 0 && u < K)) fail(where, `'unmapped' must be 'error' or a class in [0, ${K}), got ${u}`);
  return map;
}

// ------------------------------------------------------------------------------------------ JSON

/**
 * A map from a JSON object (or the file holding it). Two shapes are accepted:
 *   { "<source>": <target index> | "<class name>", ..., "classes"?: [...], "unmapped"?: ... }
 *   { "map": { "<source>": ... }, "classes"?: [...], "unmapped"?: <index> | "<name>" | "error" }
 * Without `classes`, names get indices in order of first appearance after 'background' (0), and
 * numeric targets without a name are called `class_<k>`. Default `unmapped`: 0 (background).
 */
export function labelMapFromJson(source: string | Record<string, unknown>): LabelMap {
  const where = typeof source === 'string' ? `label map ${source}` : 'label map';
  let obj: unknown = source;
  if (typeof source === 'string') {
    try {
      obj = JSON.parse(readFileSync(source, 'utf8'));
    } catch (e) {
      fail(where, `cannot read JSON (${(e as Error).message})`);
    }
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) fail(where, 'expected a JSON object');
  const o = obj as Record<string, unknown>;
  const entries: [string, unknown][] =
    'map' in o
      ? (() => {
          if (o.map === null || typeof o.map !== 'object' || Array.isArray(o.map)) fail(where, "'map' must be an object");
          return Object.entries(o.map as Record<string, unknown>);
        })()
      : Object.entries(o).filter(([k]) => k !== 'classes' && k !== 'unmapped');

  let classes: string[];
  const fixed = o.classes !== undefined;
  if (fixed) {
    if (!Array.isArray(o.classes) || o.classes.length === 0 || o.classes.some((c) => typeof c !== 'string')) {
      fail(where, "'classes' must be a non-empty array of names");
    }
    classes = [...(o.classes as string[])];
    if (new Set(classes).size !== classes.length) fail(where, `'classes' has duplicate names: ${classes.join(', ')}`);
  } else {
    classes = ['background'];
  }
  const byName = (name: string, what: string): number => {
    let i = classes.indexOf(name);
    if (i < 0) {
      if (fixed) fail(where, `${what}: class '${name}' is not among classes [${classes.join(', ')}]`);
      i = classes.push(name) - 1;
    }
    return i;
  };
  const table = new Map<number, number>();
  const numeric: number[] = [];
  for (const [k, v] of entries) {
    const s = Number(k);
    if (k.trim() === '' || !Number.isInteger(s)) fail(where, `source label "${k}" is not an integer`);
    if (table.has(s)) fail(where, `source label ${s} is listed twice`);
    if (typeof v === 'number') {
      if (!(Number.isInteger(v) && v >= 0)) fail(where, `source label ${s}: target must be a class index >= 0 or a class name, got ${v}`);
      table.set(s, v);
      numeric.push(v);
    } else if (typeof v === 'string') {
      table.set(s, byName(v, `source label ${s}`));
    } else {
      fail(where, `source label ${s}: target must be a class index or name, got ${JSON.stringify(v)}`);
    }
  }
  if (!fixed) {
    // unnamed numeric targets: give every index up to the largest one a name
    const top = Math.max(classes.length - 1, ...numeric);
    for (let c = classes.length; c <= top; c++) classes.push(`class_${c}`);
  } else {
    const bad = numeric.find((t) => t >= classes.length);
    if (bad !== undefined) fail(where, `target ${bad} is outside the ${classes.length} classes [${classes.join(', ')}]`);
  }
  let unmapped: number | 'error' = 0;
  if (o.unmapped !== undefined) {
    if (o.unmapped === 'error') unmapped = 'error';
    else if (typeof o.unmapped === 'string') unmapped = byName(o.unmapped, "'unmapped'");
    else if (typeof o.unmapped === 'number') unmapped = o.unmapped;
    else fail(where, `'unmapped' must be a class index, a class name or "error"`);
  }
  return checkMap(where, { table, classes, unmapped });
}

// ------------------------------------------------------------------------------------ atlas text

/**
 * Parses an atlas label list: one region per line, `index name [more...]`, separated by spaces or
 * tabs (mricron's .nii.txt files; CRLF line ends and blank lines are fine, `#` starts a comment).
 */
export function parseAtlasText(text: string, where = 'atlas labels'): AtlasEntry[] {
  const out: AtlasEntry[] = [];
  const seen = new Set<number>();
  text.split(/\r?\n|\r/).forEach((raw, n) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const parts = line.split(/\s+/);
    const index = Number(parts[0]);
    if (!Number.isInteger(index) || parts.length < 2) fail(where, `line ${n + 1}: expected "index name [...]", got ${JSON.stringify(raw.trim())}`);
    if (seen.has(index)) fail(where, `line ${n + 1}: index ${index} is listed twice`);
    seen.add(index);
    out.push({ index, name: parts[1]!, extra: parts.slice(2) });
  });
  if (out.length === 0) fail(where, 'no regions found');
  return out;
}

export function readAtlasLabels(path: string): AtlasEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    fail(`atlas labels ${path}`, `cannot read file (${(e as Error).message})`);
  }
  return parseAtlasText(text, `atlas labels ${path}`);
}

/** Names alone are numbered 1, 2, ... (AAL's convention: the line number is the label value). */
function toEntries(names: readonly (AtlasEntry | string)[]): AtlasEntry[] {
  return names.map((n, i) => (typeof n === 'string' ? { index: i + 1, name: n, extra: [] } : n));
}

/**
 * One class per atlas region, in file order after the background: region with index v -> class
 * 1 + (its position in the list). An entry with index 0 (e.g. JHU's 'Unclassified') is the
 * background. Values not listed raise an error unless `unmapped` says otherwise.
 */
export function labelMapFromAtlas(source: string | readonly (AtlasEntry | string)[], opts: { unmapped?: number | 'error' } = {}): LabelMap {
  const entries = typeof source === 'string' ? readAtlasLabels(source) : toEntries(source);
  const table = new Map<number, number>([[0, 0]]);
  const classes = ['background'];
  for (const e of entries) {
    if (e.index === 0) continue;
    table.set(e.index, classes.push(e.name) - 1);
  }
  return checkMap('labelMapFromAtlas', { table, classes, unmapped: opts.unmapped ?? 'error' });
}

/** A map by file type: .json -> labelMapFromJson, anything else -> an atlas text file. */
export function loadLabelMap(path: string): LabelMap {
  return path.toLowerCase().endsWith('.json') ? labelMapFromJson(path) : labelMapFromAtlas(path);
}

// ------------------------------------------------------------------------------------- merging

const HEMI_SUFFIX = /([_.\- ](L|R|Left|Right|lh|rh|l|r))$/;
const HEMI_PREFIX = /^((L|R|Left|Right|lh|rh|ctx-lh|ctx-rh)[_.\- ])/;

/** The region name without its hemisphere tag: Precentral_L -> Precentral, Left-Putamen -> Putamen. */
export function stripHemisphere(name: string): string {
  const s = name.replace(HEMI_SUFFIX, '');
  return s === name ? name.replace(HEMI_PREFIX, '') : s;
}

/** 'L', 'R' or '' from the same tags stripHemisphere removes. */
export function hemisphereOf(name: string): 'L' | 'R' | '' {
  const m = HEMI_SUFFIX.exec(name) ?? HEMI_PREFIX.exec(name);
  if (!m) return '';
  return /^(L|Left|lh|l|ctx-lh)$/.test(m[2]!) ? 'L' : 'R';
}

/**
 * Lobes of AAL's 116 regions, matched on the name without hemisphere tag (case-insensitive, by
 * whole `_` tokens: 'Frontal' matches Frontal_Sup_Orb). Atlases' lobe tables differ at the
 * edges; the choices here: Precentral, Rolandic operculum and the paracentral lobule are
 * Frontal; Postcentral is Parietal; Heschl is Temporal; Fusiform is Occipital (its place in
 * AAL's own ordering); Insula and the cingulum form one class.
 */
export const AAL_LOBES: readonly { lobe: string; prefixes: readonly string[] }[] = [
  { lobe: 'Frontal', prefixes: ['Precentral', 'Frontal', 'Rolandic_Oper', 'Supp_Motor_Area', 'Olfactory', 'Rectus', 'Paracentral_Lobule'] },
  { lobe: 'Temporal', prefixes: ['Heschl', 'Temporal'] },
  { lobe: 'Parietal', prefixes: ['Postcentral', 'Parietal', 'SupraMarginal', 'Angular', 'Precuneus'] },
  { lobe: 'Occipital', prefixes: ['Calcarine', 'Cuneus', 'Lingual', 'Occipital', 'Fusiform'] },
  { lobe: 'Insula_Cingulum', prefixes: ['Insula', 'Cingulum', 'Cingulate'] },
  { lobe: 'Central', prefixes: ['Caudate', 'Putamen', 'Pallidum', 'Thalamus'] },
  { lobe: 'Limbic', prefixes: ['Hippocampus', 'ParaHippocampal', 'Amygdala'] },
  { lobe: 'Cerebellum', prefixes: ['Cerebelum', 'Cerebellum'] },
  { lobe: 'Vermis', prefixes: ['Vermis'] },
];

/** The lobe of a region name per AAL_LOBES, or null. */
export function aalLobe(name: string): string | null {
  const base = stripHemisphere(name).toLowerCase();
  for (const { lobe, prefixes } of AAL_LOBES) {
    for (const p of prefixes) {
      const q = p.toLowerCase();
      if (base === q || base.startsWith(`${q}_`)) return lobe;
    }
  }
  return null;
}

export interface MergeOptions {
  /** 'prefix': drop the hemisphere tag (and keep the first `tokens` `_`-separated words);
   *  'lobe': AAL_LOBES. */
  by: 'prefix' | 'lobe';
  /** 'prefix' only: keep this many leading words after the hemisphere tag is dropped
   *  (1: Frontal_Sup_Orb_L -> Frontal). Default: all. */
  tokens?: number;
  /** Keep left and right apart ('Frontal_L', 'Frontal_R'); default false. */
  splitHemispheres?: boolean;
  /** Regions no rule covers ('lobe' mode): the background (default) or one merged 'other' class. */
  unlisted?: 'background' | 'other';
  /** Source values absent from the atlas list: background (default), 'other' or 'error'. */
  unmapped?: 'background' | 'other' | 'error';
}

/**
 * Groups an atlas's regions into fewer classes. `names` are atlas entries (readAtlasLabels) or
 * plain names numbered 1, 2, ... Classes come in a fixed order: background, then the groups in
 * order of first appearance ('prefix') or of AAL_LOBES ('lobe'; only lobes that occur), then
 * 'other' if used.
 */
export function mergeAtlas(names: readonly (AtlasEntry | string)[], opts: MergeOptions): LabelMap {
  const where = 'mergeAtlas';
  const entries = toEntries(names);
  const { by } = opts;
  if (by !== 'prefix' && by !== 'lobe') fail(where, `'by' must be 'prefix' or 'lobe', got ${String(by)}`);
  const tokens = opts.tokens;
  if (tokens !== undefined && !(Number.isInteger(tokens) && tokens >= 1)) fail(where, `'tokens' must be an integer >= 1, got ${tokens}`);
  const unlisted = opts.unlisted ?? 'background';
  const unmappedOpt = opts.unmapped ?? 'background';
  const hemi = opts.splitHemispheres ?? false;

  const group = (name: string): string | null => {
    let g: string | null;
    if (by === 'lobe') g = aalLobe(name);
    else {
      const base = stripHemisphere(name);
      g = tokens === undefined ? base : base.split('_').slice(0, tokens).join('_');
    }
    if (g === null) return null;
    const h = hemi ? hemisphereOf(name) : '';
    return h ? `${g}_${h}` : g;
  };
  const groups = entries.filter((e) => e.index !== 0).map((e) => ({ e, g: group(e.name) }));
  let order: string[];
  if (by === 'lobe') {
    const present = new Set(groups.map((x) => x.g));
    order = [];
    for (const { lobe } of AAL_LOBES) {
      for (const name of hemi ? [lobe, `${lobe}_L`, `${lobe}_R`] : [lobe]) if (present.has(name)) order.push(name);
    }
  } else {
    order = [...new Set(groups.map((x) => x.g!))];
  }
  const classes = ['background', ...order];
  const needOther = (unlisted === 'other' && groups.some((x) => x.g === null)) || unmappedOpt === 'other';
  const other = needOther ? classes.push('other') - 1 : 0;
  const table = new Map<number, number>([[0, 0]]);
  for (const { e, g } of groups) table.set(e.index, g === null ? (unlisted === 'other' ? other : 0) : classes.indexOf(g));
  const unmapped = unmappedOpt === 'error' ? 'error' : unmappedOpt === 'other' ? other : 0;
  return checkMap(where, { table, classes, unmapped });
}

// ------------------------------------------------------------------------------------- applying

/** The identity map for labels already in 0..K-1 (anything else is an error). */
export function identityLabelMap(classes: readonly string[]): LabelMap {
  return checkMap('identityLabelMap', { table: new Map(classes.map((_, i) => [i, i])), classes: [...classes], unmapped: 'error' });
}

/** Maps every value through `map`; a dense lookup table when the source range is small. */
export function applyLabelMap(labels: ArrayLike<number>, map: LabelMap): Int32Array {
  const n = labels.length;
  const out = new Int32Array(n);
  if (n === 0) return out;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = labels[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const unmappedAt = (i: number): never => {
    const v = labels[i]!;
    const known = [...map.table.keys()].sort((a, b) => a - b);
    const shown = known.length > 12 ? `${known.slice(0, 12).join(', ')}, ...` : known.join(', ');
    throw new Error(`applyLabelMap: label ${v} at index ${i} is not in the label map (known: ${shown})`);
  };
  const U = map.unmapped === 'error' ? -1 : map.unmapped;
  if (hi - lo <= 1 << 20) {
    const lut = new Int32Array(hi - lo + 1).fill(U);
    for (const [s, t] of map.table) if (s >= lo && s <= hi) lut[s - lo] = t;
    for (let i = 0; i < n; i++) {
      const t = lut[labels[i]! - lo]!;
      if (t < 0) unmappedAt(i);
      out[i] = t;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const t = map.table.get(labels[i]!) ?? U;
      if (t < 0) unmappedAt(i);
      out[i] = t;
    }
  }
  return out;
}
