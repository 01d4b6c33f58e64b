// The CUDA op test hook (native/core/cuda_op_hooks.cc) on any machine: it is compiled in with the
// CUDA layer, rejects unknown ops before touching a device, and without a usable
// GPU fails with the device's reason instead of crashing. (The parity tests that use it on a GPU
// are in test/gpu/ops.test.ts.)
import { describe, expect, it } from 'vitest';

import { cudaStatus } from '../../src/device.js';
import { cudaCompiled, hooks } from './hooks.js';

const status = cudaStatus();

describe.skipIf(!cudaCompiled)('cudaTestHooks.runOp', () => {
  it('lists the known ops when asked for an unknown one', () => {
    expect(() => hooks!.runOp('nope', {}, {})).toThrow(/cudaTestHooks\.runOp: unknown op 'nope' \(known: .*\bconvForward\b.*\bmaxPool2dBackward\b.*\bseBackward\b/);
  });

  it.skipIf(status.runtimeUsable)('without a usable device: throws the reason (no crash)', () => {
    expect(() => hooks!.runOp('relu', { x: new Float32Array([1, -1]) }, {})).toThrow(`cuda:0: not usable: ${status.devices[0]?.reason ?? status.reason}`);
    expect(() => hooks!.runOp('uniform_', {}, { n: 8, lo: 0, hi: 1, seed: 1, stream: 0 })).toThrow('cuda:0: not usable');
  });

  it('cuDNN cache counters start at zero on an unused device', () => {
    if (!status.usable) expect(hooks!.cudnnCacheStats(0)).toEqual({ entries: 0, hits: 0, misses: 0 });
    expect(hooks!.cudnnCacheStats(7)).toEqual({ entries: 0, hits: 0, misses: 0 });
  });
});
