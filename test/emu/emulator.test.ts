// cuda-emu's own tests (native/cuda/emu/test/selftest.cu): correct kernels with uneven warps give
// exact answers under every schedule; broken kernels (missing or divergent barrier, divergent
// shuffle, a lane outside its mask, deadlock, out-of-bounds read and write, dynamic shared memory
// one float short, a shared-memory race, launches over the device's limits) are each flagged by
// a diagnostic naming the kernel or by a wrong result; streams, copies and device properties.
// The program is built by the SCSE_CUDA=EMU build (npm run test:emu builds it into build-emu/).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const exe = join(process.env.SCSE_EMU_BUILD ?? join(root, 'build-emu'), 'Release', 'cuemu_selftest');
const built = existsSync(exe);
if (!built) console.log(`test/emu/emulator: skipped: ${exe} is not built (npm run test:emu builds it)`);

describe.runIf(built)('cuda-emu self-test', () => {
  it('flags every broken kernel and runs every correct one exactly, under every schedule', () => {
    const r = spawnSync(exe, [], { encoding: 'utf8', timeout: 120_000 });
    const lines = r.stdout.split('\n');
    const failed = lines.filter((l) => l.startsWith('FAIL'));
    expect(failed, r.stdout + r.stderr).toEqual([]);
    const summary = lines.find((l) => /^\d+ passed, \d+ failed$/.test(l));
    expect(summary, r.stdout).toBeDefined();
    const [passed, nFailed] = summary!.match(/\d+/g)!.map(Number);
    expect(nFailed).toBe(0);
    expect(passed).toBeGreaterThanOrEqual(50);
    expect(r.status).toBe(0);
    // each broken kernel's diagnostic names it and what went wrong
    for (const want of ['divergent __syncthreads', 'exited while lanes', 'not in its own mask', 'deadlock', 'wrote past the end',
      'dynamic shared memory', 'exceed the device']) {
      expect(r.stdout, want).toContain(want);
    }
  });
});
