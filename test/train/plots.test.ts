import { describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { boxPlot, boxPlotLayout, boxStats, lineChart, lineChartLayout, lineCharts, niceTicks, overlayFigure, overlayLayout, quantile, LABEL_PALETTE, type LineChartSpec } from '../../src/train/plots.js';

function decode(buf: Buffer): PNG {
  expect(buf.subarray(1, 4).toString('latin1')).toBe('PNG');
  return PNG.sync.read(buf);
}

const px = (png: PNG, x: number, y: number): [number, number, number] => {
  const o = (Math.round(y) * png.width + Math.round(x)) * 4;
  return [png.data[o]!, png.data[o + 1]!, png.data[o + 2]!];
};

/** Is there a pixel within `r` of (x, y) that passes `test`? */
function near(png: PNG, x: number, y: number, r: number, test: (c: [number, number, number]) => boolean): boolean {
  for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) if (test(px(png, x + dx, y + dy))) return true;
  return false;
}

const isRed = ([r, g, b]: [number, number, number]): boolean => r > 200 && g < 90 && b < 90;
const isBlue = ([r, g, b]: [number, number, number]): boolean => b > 200 && r < 90 && g < 90;

function hex(h: string): [number, number, number] {
  return [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)];
}

describe('niceTicks', () => {
  it('covers the range with 1-2-5 steps', () => {
    const t = niceTicks(0, 0.87, 5);
    expect(t.step).toBeCloseTo(0.2, 12);
    expect(t.values).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(t.decimals).toBe(1);
    const u = niceTicks(3, 3);
    expect(u.lo).toBeLessThan(3);
    expect(u.hi).toBeGreaterThan(3);
  });
});

describe('lineChart', () => {
  const spec: LineChartSpec = {
    title: 'diagonal',
    xLabel: 'epoch',
    yLabel: 'value',
    xDomain: [0, 10],
    yDomain: [0, 1],
    series: [
      { name: 'up', x: [0, 10], y: [0, 1], color: '#ff0000' },
      { name: 'flat', x: [0, 5, 10], y: [0.25, null, 0.25], color: '#0000ff' },
    ],
  };

  it('draws each series along its path, inside the drawn frame', () => {
    const png = decode(lineChart(spec));
    expect([png.width, png.height]).toEqual([720, 420]);
    const { plot, x, y } = lineChartLayout(spec);
    // the layout's scales map the domain onto the plot rectangle ...
    expect(x(0)).toBeCloseTo(plot.x, 9);
    expect(x(10)).toBeCloseTo(plot.x + plot.w, 9);
    expect(y(0)).toBeCloseTo(plot.y + plot.h, 9);
    expect(y(1)).toBeCloseTo(plot.y, 9);
    // ... and that rectangle is the grey frame in the image
    const isFrame = ([r, g, b]: [number, number, number]): boolean => r === g && g === b && r < 200;
    for (const f of [0.1, 0.35, 0.6, 0.9]) {
      expect(near(png, plot.x + plot.w * f, plot.y, 1, isFrame)).toBe(true);
      expect(near(png, plot.x + plot.w * f, plot.y + plot.h, 1, isFrame)).toBe(true);
      expect(near(png, plot.x, plot.y + plot.h * f, 1, isFrame)).toBe(true);
      expect(near(png, plot.x + plot.w, plot.y + plot.h * f, 1, isFrame)).toBe(true);
    }
    for (let v = 0.5; v < 10; v += 0.5) {
      // expected pixel of (v, v/10), computed from the frame alone
      const ex = plot.x + (plot.w * v) / 10;
      const ey = plot.y + plot.h * (1 - v / 10);
      if (v !== 2.5) expect(near(png, ex, ey, 1, isRed), `red at x=${v}`).toBe(true); // at 2.5 blue crosses on top
      // the blue series goes through the null at x = 5 (gaps 'connect')
      expect(near(png, ex, plot.y + plot.h * 0.75, 1, isBlue), `blue at x=${v}`).toBe(true);
    }
    // off the path: white background (grid lines aside)
    expect(near(png, plot.x + plot.w * 0.2, plot.y + plot.h * 0.2, 3, isRed)).toBe(false);
  });

  it("leaves a gap at null values with gaps 'break'", () => {
    const s: LineChartSpec = { ...spec, gaps: 'break', series: [{ name: 'b', x: [0, 5, 10], y: [0.25, null, 0.25], color: '#0000ff' }] };
    const png = decode(lineChart(s));
    const { plot } = lineChartLayout(s);
    expect(near(png, plot.x + plot.w * 0.5, plot.y + plot.h * 0.75, 2, isBlue)).toBe(false);
    expect(near(png, plot.x + 1, plot.y + plot.h * 0.75, 2, isBlue)).toBe(true); // the end points as dots
  });

  it('lays several charts out in a grid', () => {
    const png = decode(lineCharts([spec, spec, spec], { columns: 2, width: 400, height: 300 }));
    expect([png.width, png.height]).toEqual([800, 600]);
  });

  it('rejects series whose x and y differ in length', () => {
    expect(() => lineChart({ ...spec, series: [{ name: 'bad', x: [1, 2], y: [1] }] })).toThrow(/series 0 \('bad'\) has 2 x and 1 y/);
  });
});

describe('boxPlot', () => {
  it('computes Tukey boxes as numpy (linear quantiles) and matplotlib (1.5 IQR whiskers)', () => {
    const s = boxStats([5, 1, 9, 3, 100, 7, 2, 4, 6, 8, null, NaN]);
    // sorted 1..9, 100: numpy.percentile(.., [25, 50, 75]) = 3.25, 5.5, 7.75
    expect(s.n).toBe(10);
    expect(s.q1).toBeCloseTo(3.25, 12);
    expect(s.median).toBeCloseTo(5.5, 12);
    expect(s.q3).toBeCloseTo(7.75, 12);
    // fences 3.25 − 6.75 and 7.75 + 6.75 = 14.5
    expect(s.low).toBe(1);
    expect(s.high).toBe(9);
    expect(s.outliers).toEqual([100]);
    expect(quantile([], 0.5)).toBeNaN();
  });

  it('draws the median line at the median of a known distribution', () => {
    const values = Array.from({ length: 11 }, (_, i) => i / 10); // median 0.5, quartiles 0.25, 0.75
    const spec = { title: 't', yLabel: 'Dice', yDomain: [0, 1] as const, groups: [{ label: 'a', values }, { label: 'b', values: values.map((v) => v * 0.5) }] };
    const png = decode(boxPlot(spec));
    const L = boxPlotLayout(spec);
    expect([png.width, png.height]).toEqual([Math.ceil(L.width), Math.ceil(L.height)]);
    expect(L.boxes).toHaveLength(2);
    const { plot } = L;
    const [a, b] = L.boxes;
    for (const [box, median, q1, q3] of [[a!, 0.5, 0.25, 0.75], [b!, 0.25, 0.125, 0.375]] as const) {
      // scan the column a quarter into the box for the dark median line
      const x = box.cx - box.w / 4;
      const expected = plot.y + plot.h * (1 - median);
      const dark: number[] = [];
      for (let yy = Math.round(plot.y + plot.h * (1 - q3)) + 2; yy <= Math.round(plot.y + plot.h * (1 - q1)) - 2; yy++) {
        const [r, g, bb] = px(png, x, yy);
        if (r + g + bb < 200) dark.push(yy);
      }
      expect(dark.length).toBeGreaterThan(0);
      expect(dark.length).toBeLessThanOrEqual(3); // one 2-px line, nothing else dark inside the box
      const centre = dark.reduce((p, q) => p + q, 0) / dark.length + 0.5;
      expect(Math.abs(centre - expected)).toBeLessThanOrEqual(1);
      // box fill between the quartiles; just above the box, beside the whisker: white
      const fill = px(png, x, plot.y + plot.h * (1 - (median + q3) / 2));
      expect(fill[2]).toBeGreaterThan(fill[0]); // a tint of the blue series colour
      expect(px(png, x, plot.y + plot.h * (1 - q3) - 3)).toEqual([255, 255, 255]);
    }
  });

  it('clusters boxes by label with one colour per series and a legend', () => {
    const groups = ['x', 'y'].flatMap((label) => ['none', 'scse'].map((series, i) => ({ label, series, values: [0.5, 0.6, 0.7, 0.8].map((v) => v + 0.05 * i) })));
    const spec = { title: 't', yLabel: 'Dice', groups, series: [{ name: 'none', color: '#0000ff' }, { name: 'scse', color: '#ff0000' }] };
    const L = boxPlotLayout(spec);
    expect(L.categories).toEqual(['x', 'y']);
    expect(L.boxes.map((b) => `${b.label}/${b.series}`)).toEqual(['x/none', 'x/scse', 'y/none', 'y/scse']);
    expect(L.boxes[0]!.cx).toBeLessThan(L.boxes[1]!.cx);
    expect(L.boxes[1]!.cx).toBeLessThan(L.boxes[2]!.cx);
    const png = decode(boxPlot(spec));
    // legend swatches right of the plot: tints of blue and red
    let blue = false;
    let red = false;
    for (let y = L.plot.y; y < L.plot.y + 60; y++) {
      for (let x = L.plot.x + L.plot.w + 10; x < png.width; x++) {
        const [r, g, b] = px(png, x, y);
        if (b > 180 && r < 120) blue = true;
        if (r > 180 && b < 120 && g < 120) red = true;
      }
    }
    expect(blue && red).toBe(true);
  });
});

describe('overlayFigure', () => {
  const H = 6;
  const W = 8;
  const image = Float32Array.from({ length: H * W }, (_, i) => i / (H * W - 1));
  const labels = new Int32Array(H * W);
  labels[2 * W + 3] = 1;
  labels[4 * W + 5] = 4;
  labels[5 * W + 7] = 12;

  it('blends palette colours at alpha over the grey image, background unchanged, scaled by nearest neighbour', () => {
    const alpha = 0.4;
    const spec = { H, W, scale: 3, classNames: ['bg', 'a', 'b', 'c', 'd'], panels: [{ title: 'input', image }, { title: 'truth', image, labels, alpha }] };
    const png = decode(overlayFigure(spec));
    const L = overlayLayout(spec);
    expect(png.width).toBe(L.width);
    expect(png.height).toBe(L.height);
    expect(L.panels[1]!.x - L.panels[0]!.x).toBeGreaterThanOrEqual(W * 3);
    for (let p = 0; p < 2; p++) {
      const { x: ox, y: oy } = L.panels[p]!;
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const g = 255 * image[y * W + x]!;
          const k = p === 1 ? labels[y * W + x]! : 0;
          const c = k > 0 ? hex(LABEL_PALETTE[k]!) : null;
          const expected = c ? c.map((v) => Math.round((1 - alpha) * g + alpha * v)) : [Math.round(g), Math.round(g), Math.round(g)];
          for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) expect(px(png, ox + 3 * x + dx, oy + 3 * y + dy)).toEqual(expected);
        }
      }
    }
  });

  it('flipRows draws the last row at the top (superior / anterior up)', () => {
    const spec = { H, W, scale: 2, flipRows: true, panels: [{ title: 'truth', image, labels, alpha: 1 }] };
    const png = decode(overlayFigure(spec));
    const { x: ox, y: oy } = overlayLayout(spec).panels[0]!;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const k = labels[y * W + x]!;
        const g = Math.round(255 * image[y * W + x]!);
        expect(px(png, ox + 2 * x + 1, oy + 2 * (H - 1 - y) + 1)).toEqual(k > 0 ? hex(LABEL_PALETTE[k]!) : [g, g, g]);
      }
    }
  });

  it('scales a 96 × 96 slice up to at least 256 px by default', () => {
    const big = new Float32Array(96 * 96).fill(0.5);
    const L = overlayLayout({ H: 96, W: 96, panels: [{ title: 'a', image: big }] });
    expect(L.scale).toBe(3);
    const png = decode(overlayFigure({ H: 96, W: 96, panels: [{ title: 'a', image: big }] }));
    expect(png.width).toBeGreaterThanOrEqual(288);
    expect(px(png, L.panels[0]!.x + 150, L.panels[0]!.y + 150)).toEqual([128, 128, 128]);
  });

  it('rejects panels of the wrong size and bad alpha, naming the panel', () => {
    expect(() => overlayFigure({ H, W, panels: [{ title: 'p', image: new Float32Array(5) }] })).toThrow(/panel 0 \('p'\) image has 5 values, expected H\*W = 48/);
    expect(() => overlayFigure({ H, W, panels: [{ title: 'p', image, labels: new Int32Array(3) }] })).toThrow(/labels have 3 values/);
    expect(() => overlayFigure({ H, W, panels: [{ title: 'p', image, alpha: 2 }] })).toThrow(/alpha must be in \[0, 1\]/);
    expect(() => overlayFigure({ H: 0, W, panels: [{ title: 'p', image }] })).toThrow(/positive integers/);
  });
});
