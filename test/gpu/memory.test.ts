// Device memory of CUDA tensors: the caching allocator under stress (10⁴ allocations and frees
// of random sizes; a repeat of the same sequence reserves nothing more), dispose() returning a
// block to the pool at once, GC finalizers as the backstop, storage shared between handles, and
// asynchronous reads (snapshotted when asked for, safe across dispose, many in flight).
//
// Runs on a machine with a GPU (`npm run test:gpu`); skipped with the reason elsewhere.
// SCSE_GPU_SELFCHECK=1 runs the same on the CPU pool (test plumbing only).
import v8 from 'node:v8';
import vm from 'node:vm';

import { describe, expect, it } from 'vitest';

import { native } from '../../src/native.js';
import * as ops from '../../src/ops/index.js';
import { Rng } from '../../src/random.js';
import { Tensor } from '../../src/tensor.js';
import { randn } from '../helpers.js';
import { announceSkip, DEV, DEV_INDEX, gpuOk, SELF } from './common.js';

announceSkip('memory');

interface Stats {
  inUse: number;
  reserved: number;
  allocations: number;
}

/** The pool the tests' tensors come from: the device's caching allocator (the CPU pool in self-check mode). */
function stats(): Stats {
  if (SELF) {
    const m = native.memory();
    return { inUse: m.bytesInUse, reserved: m.bytesReserved, allocations: m.osAllocations };
  }
  const m = native.cudaMemory(DEV_INDEX);
  return { inUse: m.bytesInUse, reserved: m.bytesReserved, allocations: m.backendAllocations };
}

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r)); // finalizers may be deferred past the GC
  }
}

describe.skipIf(!gpuOk)('CUDA tensor memory', () => {
  it('allocator stress: 10^4 allocations and frees of random sizes; repeating the sequence reserves nothing more', () => {
    const pass = (seed: number): void => {
      const r = new Rng(seed);
      const live: Tensor[] = [];
      for (let i = 0; i < 10_000; i++) {
        // log-uniform sizes from 1 element to 4 Mi elements (16 MiB), up to 24 alive at once
        const n = Math.max(1, Math.floor(Math.exp(r.float() * Math.log(4 << 20))));
        live.push(Tensor.empty([n], 'float32', DEV));
        if (live.length > 24 || r.float() < 0.5) live.splice(r.int(live.length), 1)[0]!.dispose();
      }
      for (const t of live) t.dispose();
    };
    const start = stats();
    pass(1);
    const first = stats();
    expect(first.inUse).toBe(start.inUse);
    pass(1);
    const second = stats();
    expect(second.inUse).toBe(start.inUse);
    expect(second.reserved).toBe(first.reserved);
    expect(second.allocations).toBe(first.allocations);
    if (!SELF) {
      native.cudaEmptyCache(DEV_INDEX);
      expect(stats().reserved).toBe(stats().inUse); // only live blocks remain reserved
    }
  });

  it('dispose() returns a block to the pool at once; the next allocation of that size reuses it', () => {
    const start = stats();
    const t = Tensor.empty([1 << 20], 'float32', DEV); // 4 MiB
    expect(stats().inUse - start.inUse).toBeGreaterThanOrEqual(4 << 20);
    t.dispose();
    expect(stats().inUse).toBe(start.inUse);
    const allocations = stats().allocations;
    const u = Tensor.empty([1 << 20], 'float32', DEV);
    expect(stats().allocations).toBe(allocations);
    u.dispose();
  });

  it('a tensor dropped without dispose() goes back to the pool through its GC finalizer', async () => {
    await collect();
    const start = stats();
    const handles = native.memory().tensors;
    (() => {
      for (let i = 0; i < 8; i++) Tensor.zeros([1 << 16], 'float32', DEV); // never disposed
    })();
    expect(stats().inUse).toBeGreaterThan(start.inUse);
    await collect();
    expect(stats().inUse).toBe(start.inUse);
    expect(native.memory().tensors).toBe(handles);
  });

  it('handles sharing storage (reshape, detach, saved for backward) keep it alive until the last one goes', () => {
    const start = stats();
    const t = Tensor.fromArray(randn([4, 8], 1), [4, 8], { device: DEV });
    const r = ops.reshape(t, [32]);
    const d = t.detach();
    t.dispose();
    expect(Array.from(r.dataSync())).toEqual(Array.from(randn([4, 8], 1)));
    r.dispose();
    expect(stats().inUse).toBeGreaterThan(start.inUse);
    d.dispose();
    expect(stats().inUse).toBe(start.inUse);
  });

  it('await data(): the values when asked for (later in-place ops and dispose do not change them), sizes across the 4 MiB staging chunks', async () => {
    const x = randn([3 << 20], 2); // 12 MiB: three staging chunks
    const t = Tensor.fromArray(x, [x.length], { device: DEV });
    const before = t.data();
    native.fill(t.handle, 7); // queued after the read was asked for
    const after = t.data();
    t.dispose(); // while both reads may still be in flight
    const [a, b] = await Promise.all([before, after]);
    expect(Buffer.from(a.buffer).equals(Buffer.from(x.buffer))).toBe(true);
    expect(b.every((v) => v === 7)).toBe(true);
  });

  it('many reads in flight resolve with their own tensors', async () => {
    const ts = Array.from({ length: 20 }, (_, i) => Tensor.full([1000 + i], i, 'float32', DEV));
    const reads = await Promise.all(ts.map((t) => t.data()));
    reads.forEach((r, i) => {
      expect(r.length).toBe(1000 + i);
      expect(r.every((v) => v === i)).toBe(true);
    });
    for (const t of ts) t.dispose();
  });

  it.skipIf(SELF)('await data() behind queued GPU work does not block the event loop', async () => {
    // ~100 GFLOP of convolutions queued on the stream: the read waits for them on a worker thread
    const w = Tensor.fromArray(randn([64, 3, 3, 64], 4, 0.05), [64, 3, 3, 64], { device: DEV });
    let y = Tensor.fromArray(randn([4, 128, 128, 64], 5), [4, 128, 128, 64], { device: DEV });
    for (let i = 0; i < 10; i++) {
      const next = ops.conv2d(y, w, null, { padding: 1 });
      y.dispose();
      y = next;
    }
    let ran = false;
    setImmediate(() => (ran = true));
    const data = await y.data();
    expect(ran).toBe(true);
    expect(data.length).toBe(4 * 128 * 128 * 64);
    y.dispose();
    w.dispose();
  });

  it('a failing op (bad label, checked on the device) leaves no tensor and no device memory behind', () => {
    const logits = Tensor.fromArray(randn([1, 4, 4, 3], 3), [1, 4, 4, 3], { device: DEV });
    const labels = Tensor.fromArray(Int32Array.from({ length: 16 }, (_, i) => (i === 5 ? 3 : 0)), [1, 4, 4], { device: DEV });
    const start = stats();
    const handles = native.memory().tensors;
    expect(() => ops.softmaxCrossEntropy(logits, labels)).toThrow(/argument 'labels' has 3 at \[0, 1, 1\]/);
    expect(native.memory().tensors).toBe(handles);
    expect(stats().inUse).toBe(start.inUse);
    logits.dispose();
    labels.dispose();
  });

  it.skipIf(SELF)('device and CPU memory are accounted separately', () => {
    const cpu = native.memory().bytesInUse;
    const t = Tensor.empty([1 << 18], 'float32', DEV);
    expect(native.memory().bytesInUse).toBe(cpu);
    expect(t.device).toBe(DEV);
    t.dispose();
  });
});
