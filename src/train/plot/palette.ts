// Fixed colours: one categorical palette for label maps (index = label; 0 = background, drawn
// transparent) and one for the series of a chart (networks, SE variants, train/val curves).
// Fixed so that a structure has the same colour in every figure of every run.

export type RGB = readonly [number, number, number];

/**
 * Label colours 1..30: saturated, mutually distinct hues first (the first ten are the most
 * distinguishable on a grey image), then lighter and darker variants. Entry 0 is background.
 */
export const LABEL_PALETTE: readonly string[] = [
  '#000000', // 0: background (never drawn)
  '#e6194b', '#3cb44b', '#ffe119', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#bfef45', '#fabed4',
  '#469990', '#dcbeff', '#9a6324', '#fffac8', '#800000', '#aaffc3', '#808000', '#ffd8b1', '#000075', '#ff6f61',
  '#00a676', '#b5651d', '#6a5acd', '#ff1493', '#00ced1', '#adff2f', '#c71585', '#1e90ff', '#ffa500', '#7cfc00',
];

/** Series colours: readable on white, in the order series are listed. */
export const SERIES_COLORS: readonly string[] = [
  '#1f5fa8', '#e07b24', '#2c9a45', '#c8312f', '#7b52ae', '#8c5a43', '#d45fb4', '#6f6f6f', '#a3a318', '#1aa3b8',
];

export function hexToRgb(hex: string): RGB {
  const h = hex.replace('#', '');
  const full = h.length === 3 ? [...h].map((c) => c + c).join('') : h;
  if (!/^[0-9a-fA-F]{6}$/.test(full)) throw new Error(`colour must be #rrggbb or #rgb, got '${hex}'`);
  return [parseInt(full.slice(0, 2), 16), parseInt(full.slice(2, 4), 16), parseInt(full.slice(4, 6), 16)];
}

const toHex = (c: RGB): string => '#' + c.map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');

/** HSL (h in degrees, s and l in [0,1]) to RGB 0..255. */
function hsl(h: number, s: number, l: number): RGB {
  const a = s * Math.min(l, 1 - l);
  const f = (k: number): number => {
    const t = (k + h / 30) % 12;
    return 255 * (l - a * Math.max(-1, Math.min(t - 3, 9 - t, 1)));
  };
  return [f(0), f(8), f(4)];
}

/** Colour of label k ≥ 1: the fixed palette, then golden-angle hues for labels past it. */
export function labelColor(k: number, palette: readonly string[] = LABEL_PALETTE): string {
  if (k < palette.length) return palette[k]!;
  return toHex(hsl((k * 137.508) % 360, 0.75, k % 2 ? 0.5 : 0.62));
}

export function seriesColor(i: number): string {
  if (i < SERIES_COLORS.length) return SERIES_COLORS[i]!;
  return toHex(hsl((i * 137.508) % 360, 0.6, 0.42));
}
