import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';

import { readNifti, readNiftiLabels } from '../../src/data/nifti.js';
import { readCheckpoint } from '../../src/train/checkpoint.js';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'scse-cli-'));

function scse(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tiny = ['--subjects', '4', '--size', '32', '--filters', '4', '--epochs', '2', '--no-progress'];

describe('scse train / predict / eval / phantom (CLI)', () => {
  it('a 2-epoch run on a tiny phantom writes a checkpoint, metrics, a report with figures, and can predict', () => {
    const out = join(dir, 'run');
    const r = scse(['train', ...tiny, '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { test: { mean: number; std: number; volumes: { meanDice: number }[] }; epochs: number };
    expect(summary.epochs).toBe(2);
    expect(summary.test.mean).toBeGreaterThan(0);
    for (const f of ['best.safetensors', 'last.safetensors', 'metrics.jsonl', 'config.json', 'report.md', 'report.json', 'curves.png', 'boxplot.png', 'overlay.png']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
    const png = PNG.sync.read(readFileSync(join(out, 'overlay.png')));
    expect(png.width).toBeGreaterThan(100);
    const ck = readCheckpoint(join(out, 'last.safetensors'));
    expect(ck.meta.epoch).toBe(2);
    expect(ck.meta.model.name).toBe('unet');
    expect([...ck.model.keys()]).toContain('encode1.se.cSE.fc1.weight');
    expect([...ck.optimizer.keys()].some((k) => k.endsWith('momentum_buffer'))).toBe(true);
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toContain(summary.test.mean.toFixed(3));

    // predict a phantom volume written to disk: the label map has the input's grid
    const data = join(dir, 'phantom');
    expect(scse(['phantom', '--out', data, '--subjects', '3', '--size', '32']).status).toBe(0);
    const image = join(data, 'phantom_000_image.nii.gz');
    const pred = join(dir, 'pred.nii.gz');
    const p = scse(['predict', '--checkpoint', join(out, 'best.safetensors'), '--image', image, '--out', pred, '--json']);
    expect(p.status, p.stderr).toBe(0);
    const inVol = readNifti(image);
    const outVol = readNiftiLabels(pred);
    expect(outVol.dims).toEqual(inVol.dims);
    outVol.affine.forEach((v, i) => expect(v).toBeCloseTo(inVol.affine[i]!, 5));
    expect(new Set(outVol.data).size).toBeGreaterThan(1);

    // eval of the saved checkpoint on the same split reproduces the run's test Dice
    const e = scse(['eval', '--checkpoint', join(out, 'best.safetensors'), '--subjects', '4', '--size', '32', '--json']);
    expect(e.status, e.stderr).toBe(0);
    expect((JSON.parse(e.stdout) as { mean: number }).mean).toBeCloseTo(summary.test.mean, 10);
  });

  it('the same seed gives the same run', () => {
    const a = scse(['train', ...tiny, '--epochs', '1', '--out', join(dir, 'a'), '--json']);
    const b = scse(['train', ...tiny, '--epochs', '1', '--out', join(dir, 'b'), '--json']);
    expect(a.status, a.stderr).toBe(0);
    expect(readFileSync(join(dir, 'a', 'metrics.jsonl'), 'utf8').replace(/"(seconds|imagesPerSec)":[0-9.e+-]+/g, '')).toBe(
      readFileSync(join(dir, 'b', 'metrics.jsonl'), 'utf8').replace(/"(seconds|imagesPerSec)":[0-9.e+-]+/g, ''),
    );
    expect((JSON.parse(a.stdout) as { test: unknown }).test).toEqual((JSON.parse(b.stdout) as { test: unknown }).test);
  });

  it('bad usage exits 2, failures exit 1, each with a one-line reason', () => {
    const u = scse(['train', '--epochs', 'zero']);
    expect(u.status).toBe(2);
    expect(u.stderr).toMatch(/--epochs must be an integer >= 1, got 'zero'/);
    expect(scse(['train', '--net', 'resnet']).status).toBe(2);
    const f = scse(['train', '--data', '/nonexistent/data.json', '--out', join(dir, 'x')]);
    expect(f.status).toBe(1);
    expect(f.stderr).toMatch(/--data: '\/nonexistent\/data.json' does not exist/);
    const c = scse(['predict', '--checkpoint', join(dir, 'missing.safetensors'), '--image', 'x.nii.gz', '--out', join(dir, 'y.nii.gz')]);
    expect(c.status).toBe(1);
    expect(c.stderr).toMatch(/missing.safetensors: cannot read/);
    const d = scse(['train', ...tiny, '--device', 'cuda', '--out', join(dir, 'z')]);
    expect(d.status).toBe(1);
    expect(d.stderr).toMatch(/cuda: not usable/);
  });

  it('every command has --help', () => {
    for (const c of ['train', 'eval', 'predict', 'phantom', 'info']) {
      const h = scse([c, '--help']);
      expect(h.status, c).toBe(0);
      expect(h.stdout).toMatch(/Usage: scse/);
    }
  });
});
