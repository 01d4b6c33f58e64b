// Figures of a run or an experiment, rendered headless: hand-written SVG → resvg → PNG bytes.
export { lineChart, lineCharts, lineChartSvg, lineChartsSvg, lineChartLayout, type LineChartSpec, type LineSeries, type LineChartLayout, type ChartGridOptions } from './plot/line.js';
export { boxPlot, boxPlotSvg, boxPlotLayout, boxStats, quantile, type BoxPlotSpec, type BoxGroup, type BoxStats, type BoxLayout } from './plot/box.js';
export { overlayFigure, overlayRaster, overlayLayout, encodePng, type OverlaySpec, type OverlayPanel, type OverlayLayout } from './plot/overlay.js';
export { LABEL_PALETTE, SERIES_COLORS, labelColor, seriesColor, hexToRgb, type RGB } from './plot/palette.js';
export { svgToPng, rasterize, niceTicks, type Raster, type Ticks } from './plot/svg.js';
