// Typed access to the addon's `cudaTestHooks` (present only when the CUDA layer was compiled).
import { native } from '../../src/native.js';

export interface FakeAllocatorStats {
  bytesInUse: number;
  bytesReserved: number;
  bytesCached: number;
  backendAllocations: number;
  backendReleases: number;
  cacheFlushes: number;
  backendCalls: number;
  backendUsed: number;
}

export interface FakeAllocator {
  alloc(bytes: number): number;
  free(ptr: number): void;
  emptyCache(): void;
  failNext(n: number): void;
  stats(): FakeAllocatorStats;
}

/** Inputs of `runOp`: typed arrays by name (null/undefined = absent optional input). */
export type OpInputs = Record<string, Float32Array | Int32Array | null | undefined>;
/** Params of `runOp`: sizes, scalars, flags and shapes by name. */
export type OpParams = Record<string, number | boolean | readonly number[]>;
/** Outputs of `runOp`: typed arrays by name, and `bad` (the launcher's error flags, -1 = fine). */
export interface OpOutputs {
  bad?: number[];
  [name: string]: Float32Array | Int32Array | number[] | undefined;
}

/** A case of `cudnnDescriptorProbe`: cuda::ConvParams fields (native/cuda/cudnn_ops.h) or BnDims. */
export type ProbeCase =
  | {
      kind: 'conv';
      transposed?: boolean;
      N: number; IC: number; IH: number; IW: number; OC: number; KH: number; KW: number; OH: number; OW: number;
      strideH?: number; strideW?: number; padH?: number; padW?: number; dilationH?: number; dilationW?: number;
      allowTf32?: boolean;
    }
  | { kind: 'bn'; N: number; H: number; W: number; C: number };

/** A tensor descriptor read back with cudnnGetTensor4dDescriptor (dims n,c,h,w) and cudnnGetTensorNdDescriptor. */
export interface ProbedTensor {
  status: number;
  dataType: number;
  dims: number[];
  strides: number[];
  nd: { status: number; dataType: number; nbDims: number; dims: number[]; strides: number[] };
}

/** What a library answers about the descriptors our ops build (error: what the op itself would throw). */
export interface ProbeResult {
  error: string | null;
  outputDim?: { status: number; dims: number[] };
  in?: ProbedTensor;
  out?: ProbedTensor;
  filter?: { status: number; dataType: number; format: number; dims: number[] };
  conv?: {
    status: number; pad: number[]; stride: number[]; dilation: number[]; mode: number; computeType: number;
    mathTypeStatus: number; mathType: number; groupCountStatus: number; groupCount: number;
  };
  x?: ProbedTensor;
  bn?: ProbedTensor;
}

export interface CudaTestHooks {
  createFakeAllocator(capacityBytes: number, device?: number): FakeAllocator;
  decodeCudnnVersion(v: number): { major: number; minor: number; patch: number; string: string };
  cudnnStatusName(code: number, major: number): string;
  cudnnSymbols(): { required: string[]; optional: string[] };
  tryLoadCudnn(path: string): { loaded: boolean; version: string | null; path: string | null; reason: string; hasLastErrorString: boolean };
  describeInitFailure(status: number, driverVersion: number, runtimeVersion: number): string;
  archSupports(archs: string, major: number, minor: number): number;
  describeArchs(archs: string): string;
  describeNoKernelImage(archs: string, major: number, minor: number, name: string, probeError: string): string;
  buildArchs(): string;
  roundDeviceSize(bytes: number): number;
  errorText(code: number): string;
  /** Copies `inputs` to the device, runs one CUDA launcher (native/core/cuda_op_hooks.cc) and copies its outputs back. */
  runOp(name: string, inputs: OpInputs, params: OpParams, device?: number): OpOutputs;
  cudnnCacheStats(device?: number): { entries: number; hits: number; misses: number };
  /** Loads `libraryPath` (kept loaded) and reads back the descriptors our ops build for each case (native/core/cudnn_conformance_hooks.cc). */
  cudnnDescriptorProbe(
    libraryPath: string,
    cases: ProbeCase[],
  ): { loaded: boolean; version: string | null; path: string | null; reason: string; results?: ProbeResult[] };
}

export const hooks = (native as unknown as { cudaTestHooks?: CudaTestHooks }).cudaTestHooks;
export const cudaCompiled = native.info().cudaCompiled;
