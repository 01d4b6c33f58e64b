// Line charts: training curves (train/val loss, validation Dice, learning rate per epoch).
import { circle, legend, legendWidth, line, linear, niceTicks, polyline, svgDoc, svgToPng, text, textWidth, valueAxis, yAxis, type Rect, type Ticks } from './svg.js';
import { seriesColor } from './palette.js';

export interface LineSeries {
  name: string;
  x: ArrayLike<number>;
  /** null / NaN values are skipped (e.g. epochs without validation): see `gaps` */
  y: ArrayLike<number | null>;
  color?: string;
  dashed?: boolean;
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly LineSeries[];
  /** pixels; default 720 × 420 for one chart */
  width?: number;
  height?: number;
  /** fixed axis ranges (default: the data's, y widened to round ticks) */
  xDomain?: readonly [number, number];
  yDomain?: readonly [number, number];
  /** x ticks at whole numbers only (epochs) */
  integerX?: boolean;
  /** 'connect' (default) draws the line across skipped values; 'break' leaves a gap */
  gaps?: 'connect' | 'break';
  /** vertical dashed markers, e.g. the best epoch */
  vLines?: readonly { x: number; label?: string; color?: string }[];
}

export interface LineChartLayout {
  width: number;
  height: number;
  /** plot area in pixels */
  plot: Rect;
  xDomain: [number, number];
  yDomain: [number, number];
  /** data → pixel maps */
  x: (v: number) => number;
  y: (v: number) => number;
  colors: string[];
}

function checkSpec(spec: LineChartSpec): void {
  if (!spec || !Array.isArray(spec.series)) throw new TypeError('lineChart: spec.series must be an array');
  spec.series.forEach((s, i) => {
    if (s.x.length !== s.y.length) throw new RangeError(`lineChart: series ${i} ('${s.name}') has ${s.x.length} x and ${s.y.length} y values`);
  });
}

const finite = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

function dataRange(values: Iterable<number | null>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!finite(v)) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return lo <= hi ? [lo, hi] : [0, 1];
}

function pairs(s: LineSeries): Array<[number, number | null]> {
  return Array.from({ length: s.x.length }, (_, i) => [s.x[i]!, s.y[i] ?? null]);
}

/** Where everything goes, for a chart of the given size (also used by tests to find pixels). */
export function lineChartLayout(spec: LineChartSpec, width = spec.width ?? 720, height = spec.height ?? 420): LineChartLayout & { xTicks: Ticks; yTicks: Ticks } {
  checkSpec(spec);
  const pts = spec.series.flatMap(pairs).filter(([x, y]) => finite(x) && finite(y));
  let [x0, x1] = spec.xDomain ?? dataRange(pts.map((p) => p[0]));
  if (x0 === x1) [x0, x1] = [x0 - 0.5, x1 + 0.5];
  const { domain: yDomain, ticks: yTicks } = valueAxis(spec.yDomain, () => dataRange(pts.map((p) => p[1])));
  const names = spec.series.map((s) => s.name).filter((n) => n);
  const left = 22 + Math.max(...yTicks.values.map((v) => textWidth(v.toFixed(yTicks.decimals), 11))) + 10;
  const right = names.length ? legendWidth(names) + 16 : 16;
  // whole pixels, so the frame and grid lines stay crisp
  const plot: Rect = { x: Math.round(left), y: 40, w: Math.max(40, Math.round(width - left - right)), h: Math.max(40, height - 40 - 48) };
  let xTicks = niceTicks(x0, x1, Math.max(2, Math.round(plot.w / 90)));
  if (spec.integerX && xTicks.step < 1) {
    const values: number[] = [];
    for (let v = Math.ceil(x0); v <= x1; v++) values.push(v);
    xTicks = { lo: x0, hi: x1, step: 1, decimals: 0, values };
  }
  xTicks = { ...xTicks, values: xTicks.values.filter((v) => v >= x0 - 1e-9 && v <= x1 + 1e-9) };
  return {
    width,
    height,
    plot,
    xDomain: [x0, x1],
    yDomain,
    x: linear(x0, x1, plot.x, plot.x + plot.w),
    y: linear(yDomain[0], yDomain[1], plot.y + plot.h, plot.y),
    colors: spec.series.map((s, i) => s.color ?? seriesColor(i)),
    xTicks,
    yTicks,
  };
}

let clipId = 0;

/** The chart's SVG elements for a width × height box at the origin. */
export function lineChartBody(spec: LineChartSpec, width?: number, height?: number): { body: string; layout: LineChartLayout } {
  const L = lineChartLayout(spec, width, height);
  const { plot } = L;
  let s = text(L.width / 2, 24, spec.title, { anchor: 'middle', size: 15, weight: 'bold' });
  s += yAxis(plot, L.yTicks, L.y, spec.yLabel, 14);
  for (const v of L.xTicks.values) {
    const xx = L.x(v);
    s += line(xx, plot.y, xx, plot.y + plot.h, '#f0f0f0');
    s += line(xx, plot.y + plot.h, xx, plot.y + plot.h + 4, '#666');
    s += text(xx, plot.y + plot.h + 17, v.toFixed(L.xTicks.decimals), { anchor: 'middle', size: 11, fill: '#444' });
  }
  s += text(plot.x + plot.w / 2, L.height - 10, spec.xLabel, { anchor: 'middle', size: 13 });
  const id = `clip${++clipId}`;
  s += `<clipPath id="${id}"><rect x="${plot.x - 3}" y="${plot.y - 3}" width="${plot.w + 6}" height="${plot.h + 6}"/></clipPath><g clip-path="url(#${id})">`;
  for (const v of spec.vLines ?? []) {
    if (!finite(v.x)) continue;
    const xx = L.x(v.x);
    s += line(xx, plot.y, xx, plot.y + plot.h, v.color ?? '#888', 1.2, '5,4');
    if (v.label) s += text(xx + 4, plot.y + 12, v.label, { size: 11, fill: v.color ?? '#666' });
  }
  spec.series.forEach((ser, i) => {
    const color = L.colors[i]!;
    const dash = ser.dashed ? '7,5' : undefined;
    const all = pairs(ser);
    // with gaps 'break', a null/NaN ends a polyline; a lone point is drawn as a dot
    let run: Array<[number, number]> = [];
    const flush = (): void => {
      if (run.length > 1) s += polyline(run, color, 2, dash);
      else if (run.length === 1) s += circle(run[0]![0], run[0]![1], 2.5, color);
      run = [];
    };
    for (const [x, y] of all) {
      if (finite(x) && finite(y)) run.push([L.x(x), L.y(y)]);
      else if (spec.gaps === 'break') flush();
    }
    flush();
    if (all.length <= 40) for (const [x, y] of all) if (finite(x) && finite(y)) s += circle(L.x(x), L.y(y), 2.6, color);
  });
  s += '</g>';
  s += `<rect x="${plot.x}" y="${plot.y}" width="${plot.w}" height="${plot.h}" fill="none" stroke="#888"/>`;
  const items = spec.series.map((ser, i) => ({ name: ser.name, color: L.colors[i]!, kind: 'line' as const, dash: ser.dashed ? '7,5' : undefined })).filter((it) => it.name);
  if (items.length) s += legend(plot.x + plot.w + 14, plot.y + 10, items);
  return { body: s, layout: L };
}

export function lineChartSvg(spec: LineChartSpec): { svg: string; layout: LineChartLayout } {
  const { body, layout } = lineChartBody(spec);
  return { svg: svgDoc(layout.width, layout.height, body), layout };
}

/** A line chart as PNG bytes. */
export function lineChart(spec: LineChartSpec): Buffer {
  return svgToPng(lineChartSvg(spec).svg);
}

export interface ChartGridOptions {
  /** charts per row (default: all in one row) */
  columns?: number;
  /** size of each chart (default 560 × 380) */
  width?: number;
  height?: number;
}

/** Several line charts in a grid, one PNG (e.g. loss next to Dice). */
export function lineCharts(specs: readonly LineChartSpec[], opts: ChartGridOptions = {}): Buffer {
  return svgToPng(lineChartsSvg(specs, opts).svg);
}

export function lineChartsSvg(specs: readonly LineChartSpec[], opts: ChartGridOptions = {}): { svg: string; layouts: LineChartLayout[]; offsets: [number, number][] } {
  if (specs.length === 0) throw new RangeError('lineCharts: no charts');
  const cols = Math.max(1, Math.min(opts.columns ?? specs.length, specs.length));
  const w = opts.width ?? 560;
  const h = opts.height ?? 380;
  let body = '';
  const layouts: LineChartLayout[] = [];
  const offsets: [number, number][] = [];
  specs.forEach((spec, i) => {
    const ox = (i % cols) * w;
    const oy = Math.floor(i / cols) * h;
    const r = lineChartBody(spec, w, h);
    body += `<g transform="translate(${ox} ${oy})">${r.body}</g>`;
    layouts.push(r.layout);
    offsets.push([ox, oy]);
  });
  return { svg: svgDoc(cols * w, Math.ceil(specs.length / cols) * h, body), layouts, offsets };
}

