// Smoke test of the training-throughput benchmark (bench/train.ts): a --quick run of our six
// configurations (no PyTorch) into a temporary directory, checking the JSON it writes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

import { pairedCost } from '../../bench/paired.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = mkdtempSync(join(tmpdir(), 'scse-bench-train-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('pairedCost (bench/paired.ts)', () => {
  it('is the median per-pair difference over the median time without SE', () => {
    // diffs 5, 2, 9, -1 -> median (upper of an even count) 5; none's median 110
    const pc = pairedCost([100, 110, 90, 120], [105, 112, 99, 119]);
    expect(pc.diffs).toEqual([5, 2, 9, -1]);
    expect(pc.noneMs).toBe(110);
    expect(pc.scseMs).toBe(112);
    expect(pc.pct).toBeCloseTo((5 / 110) * 100, 12);
  });
  it('refuses unmatched pairs', () => {
    expect(() => pairedCost([1, 2], [1])).toThrow(/as many scSE as none times/);
    expect(() => pairedCost([], [])).toThrow(/≥ 1/);
  });
});

describe('bench/train.ts', () => {
  it('--quick --no-torch --out writes one row per network × SE with positive finite numbers', () => {
    // --filters 8, one timed step and no warm-up keep the file well under 20 s on 2 shared cores
    // (the code path is the one of a real run).
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench/train.ts'), '--quick', '--no-torch', '--filters', '8', '--steps', '1', '--warmup', '0', '--out', out], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const rows = JSON.parse(readFileSync(join(out, 'train.json'), 'utf8')) as Record<string, unknown>[];
    expect(rows).toHaveLength(6);
    const keys = rows.map((row) => `${String(row.net)}/${String(row.se)}/${String(row.impl)}`).sort();
    expect(keys).toEqual(['densenet/none/scse', 'densenet/scse/scse', 'sdnet/none/scse', 'sdnet/scse/scse', 'unet/none/scse', 'unet/scse/scse']);
    for (const row of rows) {
      for (const k of ['imgPerSec', 'msPerStep', 'minMsPerStep', 'peakRssMB', 'baseRssMB']) {
        const v = row[k];
        expect(typeof v, `${keys.join()} ${k}`).toBe('number');
        expect(Number.isFinite(v) && (v as number) > 0, `${String(row.net)}/${String(row.se)} ${k} = ${String(v)}`).toBe(true);
      }
      expect(row.imgPerSec as number).toBeCloseTo(4000 / (row.msPerStep as number), 6);
      expect(typeof row.otherCores === 'number' && (row.otherCores as number) >= 0, `otherCores = ${String(row.otherCores)}`).toBe(true);
      expect(row.minMsPerStep as number).toBeLessThanOrEqual(row.msPerStep as number);
      expect(row.peakRssMB as number).toBeGreaterThanOrEqual(row.baseRssMB as number);
    }
    // scSE rows carry the paired (one-process) cost: one pair per network here
    for (const row of rows) {
      const pc = row.pairedCost as { pct: number; noneMs: number; scseMs: number; diffs: number[] } | undefined;
      if (row.se === 'none') {
        expect(pc).toBeUndefined();
        continue;
      }
      expect(pc, `${String(row.net)} pairedCost`).toBeDefined();
      expect(pc!.diffs).toHaveLength(1);
      expect(pc!.noneMs > 0 && pc!.scseMs > 0).toBe(true);
      expect(pc!.diffs[0]).toBeCloseTo(pc!.scseMs - pc!.noneMs, 6);
      expect(pc!.pct).toBeCloseTo((pc!.diffs[0]! / pc!.noneMs) * 100, 6);
    }
    const md = readFileSync(join(out, 'train.md'), 'utf8');
    expect(md).toMatch(/\| unet \| scse \(ours, NHWC\) \|/);
    expect(md).toMatch(/scSE cost, paired in one process/);
    expect(md).toMatch(/load average/);
  });
});
