export { Tensor, type DType, type Device, type TypedData } from './tensor.js';
export { tidy, keep } from './autograd/scope.js';
export { noGrad, isGradEnabled } from './autograd/tape.js';
export { memory, emptyCache, setNumThreads, type MemoryInfo } from './memory.js';
export { manualSeed, rng, Rng } from './random.js';
export { OpArgumentError } from './errors.js';
export * as ops from './ops/index.js';
export { SGD, Adam, Optimizer, type SGDOptions, type AdamOptions } from './optim/index.js';
export * as data from './data/index.js';
export { StepLR, ReduceLROnPlateau, type StepLROptions, type ReduceLROnPlateauOptions, type OptimizerStateDict } from './optim/index.js';
export { medianFrequencyWeights, boundaryMask, pixelWeightMap, volumeWeightMap, type WeightMapOptions } from './train/weights.js';
export { wilcoxonSignedRank, summarize, type WilcoxonOptions, type WilcoxonResult, type Summary } from './train/stats.js';
export * as stats from './train/stats.js';
export * as plots from './train/plots.js';
export { writeRunReport, writeExperimentReport, loadRunReport, loadExperimentReport, type RunReport, type ExperimentReport, type ExperimentReportOptions } from './train/report.js';
export {
  cudaStatus,
  cudnnStatus,
  parseDevice,
  resolveDevice,
  tensorDevice,
  DeviceUnavailableError,
  type DeviceSpec,
  type ResolvedDevice,
  type CudaStatus,
  type CudnnStatus,
  type CudaDeviceInfo,
} from './device.js';
export * as nn from './nn/index.js';
export { createModel, modelNames, UNet, SDNet, DenseNet, FCNN, type ModelName, type ModelOptions, type ModelConfig } from './models/index.js';
