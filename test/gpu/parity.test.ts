// GPU tests: run on a machine with an NVIDIA GPU (`npm run test:gpu`); everywhere else they are
// skipped and the reason CUDA cannot run is printed once. See test/gpu/README.md.
import { describe, expect, it } from 'vitest';

import { cudaStatus } from '../../src/device.js';
import { native } from '../../src/native.js';

const status = cudaStatus();
// Transfers need the runtime and a device only; ops (later) will need cuDNN too (status.usable).
const runtimeUsable = status.runtimeUsable;
if (!status.usable) console.log(`test/gpu: CUDA not usable: ${status.reason}`);
else console.log(`test/gpu/parity: running on ${status.backend ?? 'cuda'}: ${status.devices.map((d) => d.name).join(', ')}`);

// Bit patterns that must survive a round trip unchanged: signed zeros, subnormals, infinities,
// NaNs with payloads, extremes.
function specialValues(n: number): Float32Array {
  const out = new Float32Array(n);
  const bits = new Uint32Array(out.buffer);
  const specials = [0x00000000, 0x80000000, 0x00000001, 0x807fffff, 0x7f800000, 0xff800000, 0x7fc00001, 0xffbadbad, 0x7f7fffff, 0x3f800000];
  let s = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    bits[i] = i < specials.length ? specials[i] : s;
  }
  return out;
}

describe.skipIf(!runtimeUsable)('CUDA transfers (device memory round trip)', () => {
  it('host -> device -> host is bit-exact for sizes around the 4 MiB staging chunk', () => {
    const chunk = (4 << 20) / 4;
    for (const n of [0, 1, 1000, chunk - 1, chunk, chunk + 1, 2 * chunk + 7, 5 * chunk + 3]) {
      const x = specialValues(n);
      const y = native.cudaRoundTrip(x, 0);
      expect(y.length, `n=${n}`).toBe(n);
      expect(Buffer.from(y.buffer).equals(Buffer.from(x.buffer)), `n=${n}`).toBe(true);
    }
  });

  it('device blocks go back to the cache and emptyCache returns them', () => {
    native.cudaRoundTrip(specialValues(1 << 20), 0);
    const m = native.cudaMemory(0);
    expect(m.bytesInUse).toBe(0);
    expect(m.bytesReserved).toBeGreaterThan(0);
    const before = m.backendAllocations;
    native.cudaRoundTrip(specialValues(1 << 20), 0);
    expect(native.cudaMemory(0).backendAllocations).toBe(before); // reused, no new cudaMalloc
    native.cudaEmptyCache(0);
    expect(native.cudaMemory(0).bytesReserved).toBe(0);
  });

  it('every visible device either runs or says why', () => {
    for (const d of status.devices) {
      if (d.usable) expect(Array.from(native.cudaRoundTrip(new Float32Array([1, 2, 3]), d.index))).toEqual([1, 2, 3]);
      else expect(() => native.cudaRoundTrip(new Float32Array(1), d.index)).toThrow(`cuda:${d.index}: not usable: ${d.reason}`);
    }
  });
});

describe.skipIf(!status.usable)('CUDA backend status on a GPU machine', () => {
  it('reports a usable device and cuDNN 9', () => {
    expect(status.reason).toBe('');
    expect(status.driverVersion).toBeGreaterThanOrEqual(13000);
    expect(status.devices.some((d) => d.usable)).toBe(true);
    expect(status.cudnn.loaded).toBe(true);
    expect(status.cudnn.version).toMatch(/^9\./);
  });
});
