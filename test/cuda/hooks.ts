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
}

export const hooks = (native as unknown as { cudaTestHooks?: CudaTestHooks }).cudaTestHooks;
export const cudaCompiled = native.info().cudaCompiled;
