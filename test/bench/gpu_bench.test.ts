// bench/gpu.ts without a usable GPU: it says why and exits 0 (CI runs `npm run bench:gpu` safely).
// On a GPU machine the benchmark itself is the check (`npm run bench:gpu -- --quick`).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { cudaStatus } from '../../src/device.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const status = cudaStatus();

describe('bench/gpu.ts', () => {
  it.skipIf(status.usable)('without a usable GPU prints the reason and exits 0', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench/gpu.ts'), '--quick'], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`bench:gpu: skipped: CUDA not usable: ${status.reason}`);
  });
});
