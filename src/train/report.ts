// Run and experiment reports: Markdown tables, JSON data and PNG figures in a folder.
export type { RunReport, EpochRecord, VolumeDice, RunOverlay } from './report/types.js';
export { writeRunReport, loadRunReport, runReportMarkdown, runReportJson, runFigures, curveSpecs, RUN_REPORT_SCHEMA } from './report/run.js';
export {
  writeExperimentReport,
  loadExperimentReport,
  experimentMarkdown,
  experimentJson,
  experimentFigures,
  comparisons,
  gridAxes,
  variantName,
  EXPERIMENT_REPORT_SCHEMA,
  type ExperimentReport,
  type ExperimentCell,
  type ExperimentReportOptions,
  type PairedTest,
  type Comparison,
} from './report/experiment.js';
export { testSummary, classSummaries, classValues, volumeScores, pairByVolume, pairByStructure, imagesPerSecond, seOverheadPercent, meanStd, type MeanStd, type ClassSummary, type Pairs } from './report/summary.js';
export { fmtDice, fmtMeanStd, fmtP, fmtDelta, fmtCount, fmtPercent, fmtDuration, mdTable, prettyJson } from './report/format.js';
