// Box plots of Dice distributions (the paper's Fig. 2/3): one cluster of boxes per category
// (structure or network), one box per series (SE variant) with a legend. Tukey boxes: quartiles,
// median line, whiskers to the furthest value within 1.5 IQR of the box, outliers as dots.
import { circle, legend, legendWidth, line, linear, rect, svgDoc, svgToPng, text, textWidth, valueAxis, yAxis, type Rect, type Ticks } from './svg.js';
import { seriesColor } from './palette.js';

export interface BoxGroup {
  /** category on the x axis (e.g. the structure); boxes with the same label stand side by side */
  label: string;
  /** null / NaN values are left out (a structure absent from a volume) */
  values: ArrayLike<number | null>;
  /** which series (e.g. SE variant) the box belongs to; omitted: the single unnamed series */
  series?: string;
}

export interface BoxPlotSpec {
  title: string;
  yLabel: string;
  xLabel?: string;
  groups: readonly BoxGroup[];
  /** series order and colours (legend); series named by groups but not listed here follow */
  series?: readonly { name: string; color?: string }[];
  /** default: the data's range widened to round ticks */
  yDomain?: readonly [number, number];
  /** plot height in pixels (default 420); the width follows from the number of boxes */
  height?: number;
  /** minimum width in pixels (default 480) */
  minWidth?: number;
}

export interface BoxStats {
  n: number;
  q1: number;
  median: number;
  q3: number;
  /** whisker ends: the extreme values within [q1 − 1.5 IQR, q3 + 1.5 IQR] */
  low: number;
  high: number;
  outliers: number[];
  mean: number;
}

/** Quantile by linear interpolation between order statistics (numpy's default, R type 7). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const i = Math.floor(pos);
  const f = pos - i;
  return i + 1 < sorted.length ? sorted[i]! * (1 - f) + sorted[i + 1]! * f : sorted[i]!;
}

export function boxStats(values: ArrayLike<number | null>): BoxStats {
  const v = Array.from(values).filter((x): x is number => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  const q1 = quantile(v, 0.25);
  const q3 = quantile(v, 0.75);
  const iqr = q3 - q1;
  const inside = v.filter((x) => x >= q1 - 1.5 * iqr && x <= q3 + 1.5 * iqr);
  return {
    n: v.length,
    q1,
    median: quantile(v, 0.5),
    q3,
    low: inside.length ? inside[0]! : NaN,
    high: inside.length ? inside[inside.length - 1]! : NaN,
    outliers: v.filter((x) => x < q1 - 1.5 * iqr || x > q3 + 1.5 * iqr),
    mean: v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN,
  };
}

export interface BoxLayout {
  width: number;
  height: number;
  plot: Rect;
  yDomain: [number, number];
  y: (v: number) => number;
  categories: string[];
  series: { name: string; color: string }[];
  boxes: { label: string; series: string; color: string; cx: number; w: number; stats: BoxStats }[];
}

export function boxPlotLayout(spec: BoxPlotSpec): BoxLayout & { yTicks: Ticks; rotateLabels: boolean; slotW: number } {
  if (!spec || !Array.isArray(spec.groups)) throw new TypeError('boxPlot: spec.groups must be an array');
  const categories = [...new Set(spec.groups.map((g) => g.label))];
  const names = [...(spec.series ?? []).map((s) => s.name)];
  for (const g of spec.groups) if (!names.includes(g.series ?? '')) names.push(g.series ?? '');
  const series = names.map((name, i) => ({ name, color: spec.series?.find((s) => s.name === name)?.color ?? seriesColor(i) }));
  // merge groups with the same (label, series)
  const values = new Map<string, number[]>();
  for (const g of spec.groups) {
    const key = `${g.label}\u0000${g.series ?? ''}`;
    const arr = values.get(key) ?? [];
    for (let i = 0; i < g.values.length; i++) {
      const v = g.values[i];
      if (typeof v === 'number' && Number.isFinite(v)) arr.push(v);
    }
    values.set(key, arr);
  }
  const all = [...values.values()].flat();
  const { domain: yDomain, ticks: yTicks } = valueAxis(spec.yDomain, () => (all.length ? [Math.min(...all), Math.max(...all)] : [0, 1]));

  const nS = Math.max(1, series.length);
  const bw = nS > 1 ? 16 : 28;
  const left = Math.round(22 + Math.max(...yTicks.values.map((v) => textWidth(v.toFixed(yTicks.decimals), 11))) + 10);
  const named = series.filter((s) => s.name);
  const right = named.length ? legendWidth(named.map((s) => s.name)) + 16 : 16;
  let slotW = nS * bw + (nS - 1) * 3 + 18;
  const minPlotW = (spec.minWidth ?? 480) - left - right;
  if (categories.length * slotW < minPlotW) slotW = minPlotW / Math.max(1, categories.length);
  const labelW = Math.max(0, ...categories.map((c) => textWidth(c, 11)));
  const rotateLabels = labelW > slotW - 6;
  const labelH = rotateLabels ? labelW * Math.sin((40 * Math.PI) / 180) + 8 : 16;
  const plotH = (spec.height ?? 420) - 40 - 48;
  const plot: Rect = { x: left, y: 40, w: categories.length * slotW, h: plotH };
  const height = plot.y + plot.h + labelH + 8 + (spec.xLabel ? 26 : 6);
  const width = left + plot.w + right;
  const y = linear(yDomain[0], yDomain[1], plot.y + plot.h, plot.y);
  const boxes: BoxLayout['boxes'] = [];
  categories.forEach((label, ci) => {
    const cluster = nS * bw + (nS - 1) * 3;
    const x0 = plot.x + ci * slotW + (slotW - cluster) / 2;
    series.forEach((s, si) => {
      const v = values.get(`${label}\u0000${s.name}`);
      if (!v || v.length === 0) return;
      boxes.push({ label, series: s.name, color: s.color, cx: x0 + si * (bw + 3) + bw / 2, w: bw, stats: boxStats(v) });
    });
  });
  return { width, height, plot, yDomain, y, categories, series, boxes, yTicks, rotateLabels, slotW };
}

/** Pale version of a colour for the box fill (the median line and whiskers stay dark). */
function tint(hex: string, amount = 0.45): string {
  const h = hex.replace('#', '');
  const c = [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16));
  return '#' + c.map((v) => Math.round(v + (255 - v) * amount).toString(16).padStart(2, '0')).join('');
}

export function boxPlotSvg(spec: BoxPlotSpec): { svg: string; layout: BoxLayout } {
  const L = boxPlotLayout(spec);
  const { plot } = L;
  let s = text(L.width / 2, 24, spec.title, { anchor: 'middle', size: 15, weight: 'bold' });
  s += yAxis(plot, L.yTicks, L.y, spec.yLabel, 14);
  L.categories.forEach((c, ci) => {
    const cx = plot.x + (ci + 0.5) * L.slotW;
    if (ci > 0) s += line(plot.x + ci * L.slotW, plot.y, plot.x + ci * L.slotW, plot.y + plot.h, '#f0f0f0');
    s += L.rotateLabels
      ? text(cx + 4, plot.y + plot.h + 12, c, { anchor: 'end', size: 11, rotate: -40, fill: '#333' })
      : text(cx, plot.y + plot.h + 16, c, { anchor: 'middle', size: 11, fill: '#333' });
  });
  for (const b of L.boxes) {
    const st = b.stats;
    const half = b.w / 2;
    const dark = '#222';
    s += line(b.cx, L.y(st.q3), b.cx, L.y(st.high), dark, 1);
    s += line(b.cx, L.y(st.q1), b.cx, L.y(st.low), dark, 1);
    s += line(b.cx - half / 2, L.y(st.high), b.cx + half / 2, L.y(st.high), dark, 1);
    s += line(b.cx - half / 2, L.y(st.low), b.cx + half / 2, L.y(st.low), dark, 1);
    s += rect(b.cx - half, L.y(st.q3), b.w, Math.max(0.5, L.y(st.q1) - L.y(st.q3)), tint(b.color, 0.25), dark, 1);
    s += line(b.cx - half, L.y(st.median), b.cx + half, L.y(st.median), dark, 2);
    for (const o of st.outliers) s += circle(b.cx, L.y(o), 2.4, b.color, '#222');
  }
  s += `<rect x="${plot.x}" y="${plot.y}" width="${plot.w}" height="${plot.h}" fill="none" stroke="#888"/>`;
  if (spec.xLabel) s += text(plot.x + plot.w / 2, L.height - 10, spec.xLabel, { anchor: 'middle', size: 13 });
  const items = L.series.filter((x) => x.name).map((x) => ({ name: x.name, color: tint(x.color, 0.25), kind: 'box' as const }));
  if (items.length) s += legend(plot.x + plot.w + 14, plot.y + 10, items);
  return { svg: svgDoc(L.width, L.height, s), layout: L };
}

/** A box plot as PNG bytes. */
export function boxPlot(spec: BoxPlotSpec): Buffer {
  return svgToPng(boxPlotSvg(spec).svg);
}
