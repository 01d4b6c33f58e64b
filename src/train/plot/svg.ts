// Small SVG builders and the rasteriser shared by the plots: charts are written as SVG strings
// (no plotting library) and turned into pixels by resvg, which ships prebuilt in its npm package
// and needs no browser. Text needs a font file: DejaVu Sans (Debian's fonts-dejavu-core) when it
// is there, else whatever the system has.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ResvgRenderOptions, Resvg as ResvgClass } from '@resvg/resvg-js';

// Loaded on first use: importing scse must not fail (or pay ~20 ms) on a platform where resvg's
// prebuilt binary is missing, when no figure is drawn.
let ResvgCtor: typeof ResvgClass | undefined;
function resvg(svg: string, opts: ResvgRenderOptions): ResvgClass {
  if (!ResvgCtor) {
    try {
      ResvgCtor = (createRequire(import.meta.url)('@resvg/resvg-js') as { Resvg: typeof ResvgClass }).Resvg;
    } catch (e) {
      throw new Error(`scse plots: could not load @resvg/resvg-js (its prebuilt binary for ${process.platform}-${process.arch}): ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return new ResvgCtor(svg, opts);
}

export const FONT_FAMILY = 'DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif';

const DEJAVU = ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf'];

let fontOptions: ResvgRenderOptions['font'] | undefined;

/**
 * Loading only the two DejaVu files takes ~1 ms; scanning every system font (the fallback) can
 * take much longer, so it is done only when DejaVu is missing. SCSE_FONT names a font file to use
 * instead (its family must then be one of FONT_FAMILY's or the default family).
 */
function fonts(): ResvgRenderOptions['font'] {
  if (fontOptions) return fontOptions;
  const custom = process.env.SCSE_FONT;
  if (custom && existsSync(custom)) fontOptions = { loadSystemFonts: false, fontFiles: [custom] };
  else {
    const files = DEJAVU.filter((f) => existsSync(f));
    fontOptions = files.length ? { loadSystemFonts: false, fontFiles: files, defaultFontFamily: 'DejaVu Sans' } : { loadSystemFonts: true };
  }
  return fontOptions;
}

const renderOptions = (): ResvgRenderOptions => ({ font: fonts(), background: 'white', logLevel: 'off' });

export interface Raster {
  width: number;
  height: number;
  /** RGBA, 4 bytes a pixel, rows top to bottom; opaque (every figure has a white background) */
  pixels: Buffer;
}

/** Renders an SVG document to RGBA pixels at its own size (1 SVG unit = 1 pixel). */
export function rasterize(svg: string): Raster {
  const img = resvg(svg, renderOptions()).render();
  return { width: img.width, height: img.height, pixels: Buffer.from(img.pixels) };
}

/** Renders an SVG document to a PNG file's bytes. */
export function svgToPng(svg: string): Buffer {
  return Buffer.from(resvg(svg, renderOptions()).render().asPng());
}

// ---- elements ----------------------------------------------------------------------------

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Numbers in SVG attributes: at most two decimals (sub-pixel precision is invisible). */
export const n2 = (v: number): string => String(Math.round(v * 100) / 100);

export function svgDoc(width: number, height: number, body: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.ceil(width)}" height="${Math.ceil(height)}" ` +
    `viewBox="0 0 ${Math.ceil(width)} ${Math.ceil(height)}" font-family="${FONT_FAMILY}">` +
    `<rect width="100%" height="100%" fill="white"/>${body}</svg>`
  );
}

export interface TextOptions {
  size?: number;
  anchor?: 'start' | 'middle' | 'end';
  weight?: 'normal' | 'bold';
  fill?: string;
  /** degrees, about (x, y) */
  rotate?: number;
  /** 'middle' centres the text vertically on y; default: y is the baseline */
  baseline?: 'alphabetic' | 'middle';
}

export function text(x: number, y: number, s: string, o: TextOptions = {}): string {
  const size = o.size ?? 12;
  // resvg does not honour dominant-baseline everywhere: centre by shifting the baseline instead
  const yy = o.baseline === 'middle' ? y + size * 0.36 : y;
  const rot = o.rotate ? ` transform="rotate(${n2(o.rotate)} ${n2(x)} ${n2(y)})"` : '';
  return (
    `<text x="${n2(x)}" y="${n2(yy)}" font-size="${size}" text-anchor="${o.anchor ?? 'start'}"` +
    `${o.weight === 'bold' ? ' font-weight="bold"' : ''} fill="${o.fill ?? '#222'}"${rot}>${esc(s)}</text>`
  );
}

export function line(x1: number, y1: number, x2: number, y2: number, stroke: string, width = 1, dash?: string): string {
  return `<line x1="${n2(x1)}" y1="${n2(y1)}" x2="${n2(x2)}" y2="${n2(y2)}" stroke="${stroke}" stroke-width="${width}"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`;
}

export function rect(x: number, y: number, w: number, h: number, fill: string, stroke?: string, strokeWidth = 1): string {
  return `<rect x="${n2(x)}" y="${n2(y)}" width="${n2(w)}" height="${n2(h)}" fill="${fill}"${stroke ? ` stroke="${stroke}" stroke-width="${strokeWidth}"` : ''}/>`;
}

export function circle(cx: number, cy: number, r: number, fill: string, stroke?: string): string {
  return `<circle cx="${n2(cx)}" cy="${n2(cy)}" r="${n2(r)}" fill="${fill}"${stroke ? ` stroke="${stroke}"` : ''}/>`;
}

export function polyline(points: readonly (readonly [number, number])[], stroke: string, width = 2, dash?: string): string {
  const pts = points.map(([x, y]) => `${n2(x)},${n2(y)}`).join(' ');
  return `<polyline points="${pts}" fill="none" stroke="${stroke}" stroke-width="${width}" stroke-linejoin="round" stroke-linecap="round"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`;
}

/**
 * Estimated width of a string in DejaVu Sans at `size` px, for layout only (margins, label
 * rotation, legend columns): 0.62 em for digits and most letters, narrower for i, l, punctuation.
 */
export function textWidth(s: string, size = 12): number {
  let em = 0;
  for (const ch of s) {
    if ('il.,:;|!\'ijt()[] '.includes(ch)) em += 0.34;
    else if ('mwMW'.includes(ch)) em += 0.9;
    else if (ch >= 'A' && ch <= 'Z') em += 0.7;
    else em += 0.62;
  }
  return em * size;
}

// ---- scales ------------------------------------------------------------------------------

export interface Ticks {
  lo: number;
  hi: number;
  step: number;
  values: number[];
  /** decimals that show every tick distinctly */
  decimals: number;
}

/**
 * Round-number ticks (steps of 1, 2 or 5 × 10^k) covering [lo, hi] with about `target`
 * intervals; the returned lo/hi are widened to whole steps. A degenerate range is widened first.
 */
export function niceTicks(lo: number, hi: number, target = 5): Ticks {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    lo = 0;
    hi = 1;
  }
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi - lo < 1e-12 * Math.max(1, Math.abs(lo))) {
    const pad = lo === 0 ? 0.5 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const values: number[] = [];
  for (let k = first; k <= last; k++) values.push(Number((k * step).toFixed(decimals + 2)));
  return { lo: values[0]!, hi: values[values.length - 1]!, step, values, decimals };
}

/**
 * The value axis of a chart: a fixed domain (with the ticks inside it only), or the data's range
 * (asked for only then) widened to whole ticks.
 */
export function valueAxis(fixed: readonly [number, number] | undefined, dataRange: () => [number, number]): { domain: [number, number]; ticks: Ticks } {
  if (fixed) {
    const domain: [number, number] = [fixed[0], fixed[1]];
    const t = niceTicks(domain[0], domain[1], 5);
    return { domain, ticks: { ...t, values: t.values.filter((v) => v >= domain[0] - 1e-9 && v <= domain[1] + 1e-9) } };
  }
  const ticks = niceTicks(...dataRange(), 5);
  return { domain: [ticks.lo, ticks.hi], ticks };
}

/** Linear map of [d0, d1] onto [r0, r1]. */
export function linear(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Horizontal grid lines, y tick labels and the y-axis label of a plot area. */
export function yAxis(plot: Rect, ticks: Ticks, y: (v: number) => number, label: string, labelX: number): string {
  let s = '';
  for (const v of ticks.values) {
    const yy = y(v);
    s += line(plot.x, yy, plot.x + plot.w, yy, '#e3e3e3');
    s += text(plot.x - 6, yy, v.toFixed(ticks.decimals), { anchor: 'end', baseline: 'middle', size: 11, fill: '#444' });
  }
  s += text(labelX, plot.y + plot.h / 2, label, { anchor: 'middle', rotate: -90, size: 13 });
  return s;
}

/** Legend entries stacked from (x, y): a colour swatch (line or box) and the name. */
export function legend(x: number, y: number, items: readonly { name: string; color: string; kind: 'line' | 'box'; dash?: string }[]): string {
  let s = '';
  items.forEach((it, i) => {
    const yy = y + i * 20;
    s += it.kind === 'line' ? line(x, yy, x + 22, yy, it.color, 2.5, it.dash) : rect(x + 4, yy - 6, 14, 12, it.color, '#333', 0.8);
    s += text(x + 28, yy, it.name, { baseline: 'middle', size: 12 });
  });
  return s;
}

export const legendWidth = (names: readonly string[]): number => (names.length ? 28 + Math.max(...names.map((n) => textWidth(n, 12))) + 8 : 0);
