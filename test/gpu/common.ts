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

/** What the GPU halves run on: 'cuda' (a real device), 'cuda-emu' (the CPU emulator build) or 'cpu (self-check)'. */
export const BACKEND = SELF ? 'cpu (self-check)' : (status.backend ?? 'cuda');
/** Running on the emulator: kernels are exact in their semantics but slow, so the largest shapes are scaled down. */
export const EMU = !SELF && status.backend === 'cuda-emu';

/** Prints, once per file, whether it runs and on which backend and device. */
export function announceSkip(file: string): void {
  if (!gpuOk) console.log(`test/gpu/${file}: skipped: ${status.reason}`);
  else console.log(`test/gpu/${file}: running on ${DEV} [${BACKEND}${first ? `: ${first.name}` : ''}]`);
}

/** A leaf copy of t on DEV (its own storage), requiring grad when t does. */
export function mirror(t: Tensor): Tensor {
  const c = t.clone();
  const m = c.to(DEV);
  if (m !== c) c.dispose();
  if (t.requiresGrad) m.requireGrad();
  return m;
}
