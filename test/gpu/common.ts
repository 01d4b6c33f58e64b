// Shared plumbing of the dispatch-level GPU tests: which device they run on, whether they are
// skipped (with the reason printed once per file), and mirroring CPU tensors onto that device.
//
// SCSE_GPU_SELFCHECK=1 runs the "GPU" halves on the CPU instead: every comparison then holds
// trivially, but the tests' own plumbing (shapes, arguments, gradients, disposal) is exercised on
// any machine.
import { cudaStatus } from '../../src/device.js';
import { Tensor } from '../../src/tensor.js';

export const status = cudaStatus();
export const SELF = process.env.SCSE_GPU_SELFCHECK === '1';
/** The CUDA device the tests use: the first usable one. */
const first = status.devices.find((d) => d.usable);
export const DEV = SELF ? 'cpu' : `cuda:${first?.index ?? 0}`;
export const DEV_INDEX = first?.index ?? 0;
/** Dispatch tests need the whole backend: a usable device and cuDNN. */
export const gpuOk = SELF || status.usable;

export function announceSkip(file: string): void {
  if (!gpuOk) console.log(`test/gpu/${file}: skipped: ${status.reason}`);
}

/** A leaf copy of t on DEV (its own storage), requiring grad when t does. */
export function mirror(t: Tensor): Tensor {
  const c = t.clone();
  const m = c.to(DEV);
  if (m !== c) c.dispose();
  if (t.requiresGrad) m.requireGrad();
  return m;
}
