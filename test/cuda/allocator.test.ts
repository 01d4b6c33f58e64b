// The caching device allocator over a fake backend (a counter with a capacity that can be told
// to fail): size classes, reuse of freed blocks, no growth once a workload has warmed the cache,
// bookkeeping invariants, and the out-of-memory path (release the cache, retry once, then fail
// with a message giving the numbers).
import { describe, expect, it } from 'vitest';

import { cudaCompiled, hooks, type FakeAllocator } from './hooks.js';

const MiB = 1 << 20;

// Small deterministic PRNG (mulberry32) so failures reproduce.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

type Op = { kind: 'alloc'; bytes: number } | { kind: 'free'; slot: number };

// 10^4 operations shaped like training: tensor sizes from a fixed menu (activations, weights,
// workspaces), a bounded live set, frees in random order.
function workload(seed: number, n: number): Op[] {
  const r = rng(seed);
  const menu = Array.from({ length: 40 }, (_, i) =>
    i < 25 ? 1 + Math.floor(r() * MiB) : MiB + Math.floor(r() * 48 * MiB),
  );
  const ops: Op[] = [];
  let live = 0;
  for (let i = 0; i < n; i++) {
    if (live > 0 && (live >= 64 || r() < 0.5)) {
      ops.push({ kind: 'free', slot: Math.floor(r() * live) });
      live--;
    } else {
      ops.push({ kind: 'alloc', bytes: menu[Math.floor(r() * menu.length)] });
      live++;
    }
  }
  return ops;
}

// Runs the ops, checking the bookkeeping against a model after every step; frees what is left.
function run(a: FakeAllocator, ops: Op[], round: (b: number) => number): { peakReserved: number; classPeak: Map<number, number> } {
  const live: { ptr: number; size: number }[] = [];
  const liveCount = new Map<number, number>();
  const classPeak = new Map<number, number>();
  let inUse = 0;
  let peakReserved = 0;
  for (const op of ops) {
    if (op.kind === 'alloc') {
      const size = round(op.bytes);
      const ptr = a.alloc(op.bytes);
      expect(live.some((l) => l.ptr === ptr)).toBe(false); // never hands out a live block
      live.push({ ptr, size });
      inUse += size;
      const c = (liveCount.get(size) ?? 0) + 1;
      liveCount.set(size, c);
      classPeak.set(size, Math.max(classPeak.get(size) ?? 0, c));
    } else {
      const [b] = live.splice(op.slot, 1);
      a.free(b.ptr);
      inUse -= b.size;
      liveCount.set(b.size, liveCount.get(b.size)! - 1);
    }
    const s = a.stats();
    expect(s.bytesInUse).toBe(inUse);
    expect(s.bytesReserved).toBe(s.bytesInUse + s.bytesCached);
    expect(s.backendUsed).toBe(s.bytesReserved);
    peakReserved = Math.max(peakReserved, s.bytesReserved);
  }
  for (const b of live) a.free(b.ptr);
  return { peakReserved, classPeak };
}

describe.runIf(cudaCompiled)('caching device allocator (fake backend)', () => {
  const h = hooks!;

  it('rounds to 512 B multiples up to 1 MiB and to 2 MiB multiples above', () => {
    const cases: [number, number][] = [
      [0, 512], [1, 512], [512, 512], [513, 1024], [1000, 1024], [MiB - 1, MiB], [MiB, MiB],
      [MiB + 1, 2 * MiB], [2 * MiB, 2 * MiB], [3 * MiB, 4 * MiB], [100 * MiB + 1, 102 * MiB],
    ];
    for (const [bytes, want] of cases) expect(h.roundDeviceSize(bytes), String(bytes)).toBe(want);
  });

  it('hands a freed block to the next request of its size class', () => {
    const a = h.createFakeAllocator(64 * MiB);
    const p = a.alloc(1000);
    a.free(p);
    expect(a.alloc(900)).toBe(p); // 900 and 1000 B share the 1024 B class
    const q = a.alloc(1000); // the class is empty again: a new block
    expect(q).not.toBe(p);
    const big = a.alloc(3 * MiB);
    a.free(big);
    expect(a.alloc(4 * MiB)).toBe(big); // 3 and 4 MiB share the 4 MiB class
    expect(a.stats()).toMatchObject({ backendAllocations: 3, bytesInUse: 2048 + 4 * MiB, bytesCached: 0 });
  });

  it('10^4 random allocs/frees: exact bookkeeping, reserved = per-class peaks, no growth when replayed', () => {
    const a = h.createFakeAllocator(64 * 1024 * MiB);
    const ops = workload(12345, 10_000);
    const first = run(a, ops, (b) => h.roundDeviceSize(b));
    const warm = a.stats();
    // Exact size classes: the cache holds, per class, the most blocks ever live at once.
    let expected = 0;
    for (const [size, peak] of first.classPeak) expected += size * peak;
    expect(warm.bytesReserved).toBe(expected);
    expect(warm.bytesInUse).toBe(0);
    // The same workload again (the next epoch): served entirely from the cache.
    const second = run(a, ops, (b) => h.roundDeviceSize(b));
    const after = a.stats();
    expect(after.backendAllocations).toBe(warm.backendAllocations);
    expect(after.bytesReserved).toBe(warm.bytesReserved);
    expect(second.peakReserved).toBe(warm.bytesReserved);
    // Reuse was real: far fewer driver allocations than allocs.
    const allocs = ops.filter((o) => o.kind === 'alloc').length;
    expect(warm.backendAllocations).toBeLessThan(allocs / 10);
    a.emptyCache();
    expect(a.stats()).toMatchObject({ bytesReserved: 0, bytesCached: 0, backendUsed: 0 });
  });

  it('out of memory: releases the cache and retries once', () => {
    const a = h.createFakeAllocator(10 * MiB);
    const x = a.alloc(4 * MiB);
    const y = a.alloc(4 * MiB);
    a.free(x);
    a.free(y);
    expect(a.stats()).toMatchObject({ bytesCached: 8 * MiB, bytesReserved: 8 * MiB });
    // 6 MiB does not fit beside 8 MiB of cache: the cache goes back, the retry succeeds.
    const z = a.alloc(6 * MiB);
    expect(z).toBeGreaterThan(0);
    expect(a.stats()).toMatchObject({ bytesReserved: 6 * MiB, bytesInUse: 6 * MiB, bytesCached: 0, cacheFlushes: 1, backendReleases: 2 });
  });

  it('out of memory once (e.g. another process held memory): the retry succeeds', () => {
    const a = h.createFakeAllocator(10 * MiB);
    a.failNext(1);
    const calls = a.stats().backendCalls;
    expect(a.alloc(1000)).toBeGreaterThan(0);
    expect(a.stats().backendCalls).toBe(calls + 2);
  });

  it('out of memory twice: fails with the request, device, free/total, cache and in-use numbers', () => {
    const a = h.createFakeAllocator(10 * MiB, 3);
    a.alloc(2 * MiB);
    a.free(a.alloc(512));
    a.failNext(2);
    expect(() => a.alloc(3 * MiB)).toThrow(
      'CUDA out of memory: asked for 4.00 MiB on cuda:3, 8.00 MiB free of 10.00 MiB, 0.00 MiB cached by scse (2.00 MiB in use by scse tensors)',
    );
    // Really too big: the same path, nothing leaks, the allocator keeps working.
    expect(() => a.alloc(20 * MiB)).toThrow(/^CUDA out of memory: asked for 20\.00 MiB on cuda:3, 8\.00 MiB free of 10\.00 MiB/);
    expect(a.stats()).toMatchObject({ bytesInUse: 2 * MiB, bytesReserved: 2 * MiB, backendUsed: 2 * MiB });
    expect(a.alloc(1 * MiB)).toBeGreaterThan(0);
  });

  it('rejects a pointer it does not own and a double free', () => {
    const a = h.createFakeAllocator(10 * MiB);
    const p = a.alloc(100);
    a.free(p);
    expect(() => a.free(p)).toThrow('cuda:0: release of a pointer this allocator does not own (double free?)');
    expect(() => a.free(12345)).toThrow('does not own');
    expect(a.stats()).toMatchObject({ bytesInUse: 0, bytesCached: 512 });
  });
});
