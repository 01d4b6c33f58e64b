// Loads the native addon (node-gyp-build: prebuilds/ first unless a build/ exists, PREBUILDS_ONLY=1
// forces prebuilds/) and types its surface. Each op family adds its functions to `NativeAddon`
// by module augmentation in its own src/ops/*.ts file.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type DType = 'float32' | 'int32';

/** A native tensor handle: shape, dtype and a reference to pooled storage on a device. */
export interface NativeTensor {
  readonly shape: number[];
  readonly dtype: DType;
  readonly disposed: boolean;
  /** 'cpu' or 'cuda:N' (null once disposed) */
  readonly device: string | null;
  dispose(): void;
  /** A copy of the data; for a CUDA tensor this waits for the device's queued work. */
  read(): Float32Array | Int32Array;
  /** The same copy as a Promise; for a CUDA tensor it is made on a worker thread (never blocks the event loop). */
  readAsync(): Promise<Float32Array | Int32Array>;
  write(data: Float32Array | Int32Array): void;
  reshape(shape: readonly number[]): NativeTensor;
  /** A second handle on the same storage: keeps it alive for autograd independently of the user. */
  share(): NativeTensor;
}

export interface NativeMemory {
  tensors: number;
  bytesInUse: number;
  bytesReserved: number;
  osAllocations: number;
}

export interface NativeAddon {
  empty(shape: readonly number[], dtype: DType, device?: string): NativeTensor;
  clone(x: NativeTensor): NativeTensor;
  /** A copy of x on `device` ('cpu' | 'cuda:N'). */
  toDevice(x: NativeTensor, device: string): NativeTensor;
  memory(): NativeMemory;
  emptyCache(): void;
  setNumThreads(n: number): void;
  info(): { onednn: string; threads: number; cudaCompiled: boolean };
  /** STREAM-like triad a = b + s·c over OpenMP threads: best GB/s of `reps` runs. */
  triad(bytesPerArray: number, reps: number): number;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const load = require('node-gyp-build') as (dir: string) => unknown;

function loadAddon(): NativeAddon {
  try {
    // SCSE_ADDON names a .node file to load instead (the emulated-CUDA test build in build-emu/).
    const explicit = process.env.SCSE_ADDON;
    return (explicit ? require(explicit) : load(root)) as NativeAddon;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(
      `scse: could not load the native addon (${msg}). Build it with \`npm run build:native\` ` +
        '(needs cmake, g++ and `apt-get install libdnnl-dev ocl-icd-opencl-dev opencl-c-headers`).',
    );
  }
}

export const native: NativeAddon = loadAddon();

export interface NativeAddon {
  fill(x: NativeTensor, value: number): void;
  binary(kind: string, a: NativeTensor, b: NativeTensor): NativeTensor;
}
