import { native } from './native.js';

export interface MemoryInfo {
  /** live native tensor handles (user tensors, gradients, tensors saved for backward) */
  tensors: number;
  /** bytes held by live tensors */
  bytesInUse: number;
  /** bytes obtained from the OS: in use plus the allocator's cache */
  bytesReserved: number;
}

export function memory(): MemoryInfo {
  const m = native.memory();
  return { tensors: m.tensors, bytesInUse: m.bytesInUse, bytesReserved: m.bytesReserved };
}

/** Returns cached blocks to the OS. */
export function emptyCache(): void {
  native.emptyCache();
}

export function setNumThreads(n: number): void {
  native.setNumThreads(n);
}
