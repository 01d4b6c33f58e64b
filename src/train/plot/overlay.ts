// Segmentation overlays (the paper's Fig. 4): a row of panels (input, ground truth, predictions),
// each a grey image with its label map blended on top in a fixed palette (background
// transparent), scaled up by an integer factor (nearest neighbour) so that small slices stay
// readable. Titles and legend are SVG; the pixels are written straight into the raster, so the
// colours are exact: out = round((1 − α)·255·clamp(image) + α·colour) for labelled pixels,
// round(255·clamp(image)) elsewhere.
import { PNG } from 'pngjs';
import { rasterize, rect, svgDoc, text, textWidth } from './svg.js';
import { hexToRgb, labelColor, LABEL_PALETTE, type RGB } from './palette.js';

export interface OverlayPanel {
  title: string;
  /** H*W grey values in [0, 1] (clamped), row-major */
  image: ArrayLike<number>;
  /** H*W labels; 0 (and negative values) are background and leave the image as it is */
  labels?: ArrayLike<number>;
  /** opacity of the label colours, 0..1 (default 0.5) */
  alpha?: number;
}

export interface OverlaySpec {
  panels: readonly OverlayPanel[];
  H: number;
  W: number;
  /** colour of each label (index = label, entry 0 unused); default LABEL_PALETTE, extended by hue */
  palette?: readonly string[];
  /** integer upscale factor; default: the smallest making the longer side ≥ 256 px */
  scale?: number;
  /** figure title above the panels */
  title?: string;
  /**
   * draw row H−1 at the top: slices of the canonical (RAS) volume have rows running inferior →
   * superior (coronal, sagittal) or posterior → anterior (axial), so flipping shows superior /
   * anterior up, as viewers do
   */
  flipRows?: boolean;
  /** names of the labels (index = label): a legend of the labels present is drawn below */
  classNames?: readonly string[];
}

export interface OverlayLayout {
  width: number;
  height: number;
  scale: number;
  /** top-left pixel of each panel's image */
  panels: { x: number; y: number }[];
  colors: RGB[];
}

const GAP = 12;
const TITLE_H = 26;

function check(spec: OverlaySpec): void {
  const { H, W } = spec;
  if (!Number.isInteger(H) || !Number.isInteger(W) || H <= 0 || W <= 0) throw new RangeError(`overlayFigure: H and W must be positive integers, got ${H} × ${W}`);
  if (!Array.isArray(spec.panels) || spec.panels.length === 0) throw new RangeError('overlayFigure: needs at least one panel');
  spec.panels.forEach((p, i) => {
    if (p.image.length !== H * W) throw new RangeError(`overlayFigure: panel ${i} ('${p.title}') image has ${p.image.length} values, expected H*W = ${H * W}`);
    if (p.labels && p.labels.length !== H * W) throw new RangeError(`overlayFigure: panel ${i} ('${p.title}') labels have ${p.labels.length} values, expected H*W = ${H * W}`);
    if (p.alpha !== undefined && !(p.alpha >= 0 && p.alpha <= 1)) throw new RangeError(`overlayFigure: panel ${i} alpha must be in [0, 1], got ${p.alpha}`);
  });
  if (spec.scale !== undefined && !(Number.isInteger(spec.scale) && spec.scale >= 1)) throw new RangeError(`overlayFigure: scale must be an integer >= 1, got ${spec.scale}`);
}

function presentLabels(spec: OverlaySpec): number[] {
  const seen = new Set<number>();
  for (const p of spec.panels) if (p.labels) for (let i = 0; i < p.labels.length; i++) if (p.labels[i]! > 0) seen.add(p.labels[i]!);
  return [...seen].sort((a, b) => a - b);
}

/** Legend items laid out in rows that fit the figure width. */
function legendRows(labels: number[], names: readonly string[] | undefined, width: number): { label: number; name: string; x: number; row: number }[] {
  const out: { label: number; name: string; x: number; row: number }[] = [];
  let x = GAP;
  let row = 0;
  for (const k of labels) {
    const name = names?.[k] ?? `label ${k}`;
    const w = 20 + textWidth(name, 11) + 14;
    if (x + w > width - GAP && x > GAP) {
      row++;
      x = GAP;
    }
    out.push({ label: k, name, x, row });
    x += w;
  }
  return out;
}

export function overlayLayout(spec: OverlaySpec): OverlayLayout & { legend: ReturnType<typeof legendRows>; top: number } {
  check(spec);
  const scale = spec.scale ?? Math.max(1, Math.ceil(256 / Math.max(spec.H, spec.W)));
  const pw = spec.W * scale;
  const ph = spec.H * scale;
  const top = spec.title ? 34 : 4;
  const width = GAP + spec.panels.length * (pw + GAP);
  const panels = spec.panels.map((_, i) => ({ x: GAP + i * (pw + GAP), y: top + TITLE_H }));
  const labels = presentLabels(spec);
  const legend = spec.classNames ? legendRows(labels, spec.classNames, width) : [];
  const legendH = legend.length ? (legend[legend.length - 1]!.row + 1) * 20 + 8 : 0;
  const height = top + TITLE_H + ph + GAP + legendH;
  const maxLabel = Math.max(0, ...labels);
  const colors = Array.from({ length: maxLabel + 1 }, (_, k) => hexToRgb(labelColor(k, spec.palette ?? LABEL_PALETTE)));
  return { width, height, scale, panels, colors, legend, top };
}

/** The figure's pixels (RGBA) before PNG encoding. */
export function overlayRaster(spec: OverlaySpec): { width: number; height: number; pixels: Buffer; layout: OverlayLayout } {
  const L = overlayLayout(spec);
  const { H, W } = spec;
  const s = L.scale;
  let body = '';
  if (spec.title) body += text(L.width / 2, 22, spec.title, { anchor: 'middle', size: 15, weight: 'bold' });
  spec.panels.forEach((p, i) => {
    const { x, y } = L.panels[i]!;
    body += text(x + (W * s) / 2, y - 8, p.title, { anchor: 'middle', size: 13 });
    body += rect(x - 1, y - 1, W * s + 2, H * s + 2, 'none', '#999');
  });
  const legendTop = L.top + TITLE_H + H * s + GAP;
  for (const it of L.legend) {
    const c = L.colors[it.label]!;
    const yy = legendTop + it.row * 20;
    body += rect(it.x, yy, 14, 14, `rgb(${c[0]},${c[1]},${c[2]})`, '#333', 0.8);
    body += text(it.x + 20, yy + 7, it.name, { size: 11, baseline: 'middle' });
  }
  const r = rasterize(svgDoc(L.width, L.height, body));
  const px = r.pixels;
  spec.panels.forEach((p, i) => {
    const { x: ox, y: oy } = L.panels[i]!;
    const a = p.alpha ?? 0.5;
    for (let yy = 0; yy < H; yy++) {
      for (let xx = 0; xx < W; xx++) {
        const j = yy * W + xx;
        const g = 255 * Math.min(1, Math.max(0, Number(p.image[j]) || 0));
        const k = p.labels ? p.labels[j]! : 0;
        let rgb: [number, number, number];
        if (k > 0) {
          const c = L.colors[k]!;
          rgb = [Math.round((1 - a) * g + a * c[0]), Math.round((1 - a) * g + a * c[1]), Math.round((1 - a) * g + a * c[2])];
        } else rgb = [Math.round(g), Math.round(g), Math.round(g)];
        const row = spec.flipRows ? H - 1 - yy : yy;
        for (let dy = 0; dy < s; dy++) {
          let o = ((oy + row * s + dy) * r.width + ox + xx * s) * 4;
          for (let dx = 0; dx < s; dx++, o += 4) {
            px[o] = rgb[0];
            px[o + 1] = rgb[1];
            px[o + 2] = rgb[2];
            px[o + 3] = 255;
          }
        }
      }
    }
  });
  return { width: r.width, height: r.height, pixels: px, layout: L };
}

/** RGBA pixels to PNG bytes. */
export function encodePng(width: number, height: number, pixels: Buffer): Buffer {
  const png = new PNG({ width, height });
  pixels.copy(png.data);
  return PNG.sync.write(png);
}

/** The overlay figure as PNG bytes. */
export function overlayFigure(spec: OverlaySpec): Buffer {
  const r = overlayRaster(spec);
  return encodePng(r.width, r.height, r.pixels);
}
