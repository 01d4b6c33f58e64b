// Device choice: 'auto' | 'cpu' | 'cuda' | 'cuda:N', default from the SCSE_DEVICE environment
// variable, else 'auto'. 'auto' means the first usable CUDA device, else the CPU; asking for CUDA
// when it cannot run throws an Error whose message is the precise reason (no driver, driver too
// old, no device, no kernel image for this GPU, cuDNN missing or the wrong version).
import { native } from './native.js';

export type DeviceSpec = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;
export type ResolvedDevice = 'cpu' | `cuda:${number}`;

export interface CudaDeviceInfo {
  index: number;
  name: string;
  /** "8.6" */
  computeCapability: string;
  totalMemory: number;
  multiProcessors: number;
  /** this build has code for the GPU and a test kernel ran on it */
  usable: boolean;
  reason: string;
}

export interface CudnnStatus {
  loaded: boolean;
  /** "9.10.2", or null when no cuDNN library was opened */
  version: string | null;
  /** cudnnGetVersion() as returned */
  rawVersion: number;
  /** the CUDA runtime version cuDNN was built with */
  cudartVersion: number;
  /** the library that was opened */
  path: string | null;
  /** why cuDNN cannot be used; '' when loaded */
  reason: string;
}

export interface CudaStatus {
  /** the addon was built with nvcc (or, for tests, with the CPU emulator: see `backend`) */
  compiled: boolean;
  /** 'cuda' on a real device; 'cuda-emu' in the SCSE_CUDA=EMU test build (native/cuda/emu); absent when not compiled */
  backend?: 'cuda' | 'cuda-emu';
  /** CUDA ops can run: driver, a usable device and cuDNN 9 */
  usable: boolean;
  /** why not; '' when usable */
  reason: string;
  /** driver and at least one device usable, regardless of cuDNN */
  runtimeUsable: boolean;
  /** newest CUDA version the driver supports (13000 = 13.0); 0 = no driver */
  driverVersion: number;
  /** the CUDA runtime linked into the addon */
  runtimeVersion: number;
  /** architectures compiled in, e.g. "75,80,86,89,90 + PTX 120" */
  archs: string;
  devices: CudaDeviceInfo[];
  cudnn: CudnnStatus;
}

declare module './native.js' {
  interface NativeAddon {
    /** Waits for the work queued on the device's stream. */
    cudaSynchronize(device?: number): void;
    /** Device memory bandwidth in GB/s, best of `reps`: a = b + s·c triad and a device-to-device copy. */
    cudaBandwidth(bytesPerArray: number, reps: number, device?: number): { triad: number; copy: number };
    cudaStatus(): CudaStatus;
    cudnnStatus(): CudnnStatus;
    cudaMemory(device?: number): { bytesInUse: number; bytesReserved: number; bytesCached: number; backendAllocations: number };
    cudaEmptyCache(device?: number): void;
    /** Copies `data` to device memory and back (allocator + staging transfers end to end). */
    cudaRoundTrip(data: Float32Array, device?: number): Float32Array;
  }
}

/** CUDA availability with reasons (probed once per process, then cached by the addon). */
export function cudaStatus(): CudaStatus {
  return native.cudaStatus();
}

export function cudnnStatus(): CudnnStatus {
  return native.cudnnStatus();
}

export type ParsedDevice = { kind: 'auto' } | { kind: 'cpu' } | { kind: 'cuda'; index: number | null };

const EXPECTED = "expected 'auto', 'cpu', 'cuda' or 'cuda:N' (N a device index >= 0)";

/** Parses a device string; `source` names where it came from in the error message. */
export function parseDevice(spec: unknown, source = 'device'): ParsedDevice {
  if (typeof spec !== 'string') throw new Error(`${source}: ${EXPECTED}, got ${typeof spec}`);
  const s = spec.trim();
  if (s === 'auto' || s === 'cpu') return { kind: s };
  if (s === 'cuda') return { kind: 'cuda', index: null };
  const m = /^cuda:(\d+)$/.exec(s);
  if (m) {
    const index = Number(m[1]);
    if (Number.isSafeInteger(index)) return { kind: 'cuda', index };
  }
  throw new Error(`${source}: ${EXPECTED}, got '${spec}'`);
}

/** Thrown when CUDA is asked for but cannot run; `message` is the precise reason. */
export class DeviceUnavailableError extends Error {
  constructor(
    readonly device: string,
    readonly reason: string,
  ) {
    super(`${device}: not usable: ${reason}`);
    this.name = 'DeviceUnavailableError';
  }
}

/**
 * 'cpu' or 'cuda:N' for a spec (default: $SCSE_DEVICE, else 'auto'). 'auto' picks the first
 * usable CUDA device and falls back to the CPU; 'cuda' means 'cuda:0'. `source` names the
 * setting in parse errors (e.g. '--device').
 */
export function resolveDevice(spec?: DeviceSpec | string, source = 'device'): ResolvedDevice {
  const env = process.env.SCSE_DEVICE;
  const fromEnv = spec === undefined && env !== undefined && env !== '';
  const parsed = parseDevice(spec ?? (fromEnv ? env : 'auto'), fromEnv ? 'SCSE_DEVICE' : source);
  if (parsed.kind === 'cpu') return 'cpu';
  const status = cudaStatus();
  if (parsed.kind === 'auto') {
    if (!status.usable) return 'cpu';
    const d = status.devices.find((x) => x.usable);
    return d ? `cuda:${d.index}` : 'cpu';
  }
  const name = parsed.index === null ? 'cuda' : `cuda:${parsed.index}`;
  const index = parsed.index ?? 0;
  if (!status.compiled || status.devices.length === 0) throw new DeviceUnavailableError(name, status.reason);
  const d = status.devices[index];
  if (!d) {
    const n = status.devices.length;
    throw new DeviceUnavailableError(name, `no such device (${n} CUDA device${n === 1 ? '' : 's'} visible: cuda:0..cuda:${n - 1})`);
  }
  if (!d.usable) throw new DeviceUnavailableError(name, d.reason);
  if (!status.cudnn.loaded) throw new DeviceUnavailableError(name, status.cudnn.reason);
  return `cuda:${index}`;
}

/** Why 'auto' chose what it chose, for logs and `scse info`. */
export function describeDeviceChoice(spec?: DeviceSpec | string): { device: ResolvedDevice; why: string } {
  const device = resolveDevice(spec);
  const s = cudaStatus();
  if (device !== 'cpu') {
    const d = s.devices[Number(device.slice(5))];
    return { device, why: `${d?.name ?? device}, compute capability ${d?.computeCapability ?? '?'}, cuDNN ${s.cudnn.version ?? '?'}` };
  }
  const requested = spec ?? (process.env.SCSE_DEVICE || 'auto');
  return { device, why: requested.trim() === 'cpu' ? 'requested' : `CUDA not usable: ${s.reason}` };
}

const checkedDevices = new Map<string, ResolvedDevice>();

/**
 * The device a tensor is created on or moved to: 'cpu' | 'cuda' | 'cuda:N' | 'auto' (no
 * $SCSE_DEVICE default: tensors are made where they are asked for). CUDA that cannot run throws
 * DeviceUnavailableError with the reason. The status never changes within a process, so each
 * spelling is checked once.
 */
export function tensorDevice(spec: DeviceSpec | string): ResolvedDevice {
  if (spec === 'cpu') return 'cpu';
  const hit = checkedDevices.get(spec);
  if (hit) return hit;
  const d = resolveDevice(spec);
  checkedDevices.set(spec, d);
  return d;
}
