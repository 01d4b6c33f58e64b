// Our networks against their PyTorch twins (bench/peers/torch_models.py, PyTorch 1.13 at
// /usr/bin/python3): the same weights give the same logits in eval mode and in train mode (batch
// statistics), the same running statistics after that train-mode forward, the same parameter
// counts, and (in float64 on the PyTorch side) the same parameter gradients. One Python process
// serves all cases of a mode. Skipped, with the reason printed, when torch cannot be imported.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { tidy } from '../../src/autograd/scope.js';
import { noGrad } from '../../src/autograd/tape.js';
import { createModel, type FCNN, type ModelName, type ModelOptions } from '../../src/models/index.js';
import type { SeKind } from '../../src/nn/se.js';
import { convAlgorithm } from '../../src/ops/conv.js';
import { softmaxCrossEntropy } from '../../src/ops/loss.js';
import { manualSeed } from '../../src/random.js';
import { Tensor } from '../../src/tensor.js';
import { randt } from '../helpers.js';
import { phantomBatch } from './phantom.js';

const PY = '/usr/bin/python3';
const TWIN = join(dirname(fileURLToPath(import.meta.url)), '../../bench/peers/torch_models.py');
const torchCheck = spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' });
const hasTorch = torchCheck.status === 0;
if (!hasTorch) {
  console.log(`torch_parity.test: skipped: ${PY} cannot import torch (${(torchCheck.stderr || String(torchCheck.error)).trim().split('\n').pop()})`);
}

interface Entry {
  shape: number[];
  offset: number;
}

/** Raw little-endian float32 file with a JSON index (byte offsets), the twin's exchange format. */
class RawWriter {
  private parts: Buffer[] = [];
  private offset = 0;
  put(t: Tensor | Float32Array, shape?: readonly number[]): Entry {
    const data = t instanceof Tensor ? (t.dataSync() as Float32Array) : t;
    const e = { shape: [...(t instanceof Tensor ? t.shape : shape!)], offset: this.offset };
    this.parts.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    this.offset += data.byteLength;
    return e;
  }
  write(path: string): void {
    writeFileSync(path, Buffer.concat(this.parts));
  }
}

function readEntry(raw: Buffer, e: Entry): Float32Array {
  const n = e.shape.reduce((a, b) => a * b, 1);
  return new Float32Array(raw.buffer.slice(raw.byteOffset + e.offset, raw.byteOffset + e.offset + 4 * n));
}

function runTwin(mode: 'parity' | 'grad', cases: object[]): { cases: Record<string, unknown>[] } {
  const r = spawnSync(PY, [TWIN, mode], { input: JSON.stringify({ cases }), encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`torch_models.py ${mode} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { cases: Record<string, unknown>[] };
}

/** max |a - b| / max |b| */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return d / m;
}

interface Case {
  id: string;
  model: ModelName;
  opts: ModelOptions;
}

const cases: Case[] = [];
for (const model of ['unet', 'sdnet', 'densenet'] as ModelName[]) {
  for (const se of ['none', 'cse', 'sse', 'scse'] as SeKind[]) cases.push({ id: `${model} + ${se}`, model, opts: { numClasses: 5, filters: 8, se } });
}
cases.push({ id: 'unet + scse (max)', model: 'unet', opts: { numClasses: 5, filters: 8, se: 'scse', seOptions: { aggregation: 'max' } } });
cases.push({ id: 'densenet + scse (mul, no cSE bias)', model: 'densenet', opts: { numClasses: 5, filters: 8, se: 'scse', seOptions: { aggregation: 'mul', bias: false } } });

describe.skipIf(!hasTorch)('forward parity with the PyTorch twin (filters 8, 2×32×32×1, 5 classes)', () => {
  const dir = hasTorch ? mkdtempSync(join(tmpdir(), 'scse-parity-')) : '';
  const ours: { model: FCNN; eval: Float32Array; train: Float32Array; params: number }[] = [];
  let theirs: Record<string, unknown>[] = [];
  const worst = { eval: 0, train: 0 };

  beforeAll(() => {
    const jobs = cases.map((c, k) => {
      manualSeed(100 + k);
      const model = createModel(c.model, c.opts);
      const x = randt([2, 32, 32, 1], 200 + k, false);
      const w = new RawWriter();
      const index = Object.fromEntries([...model.stateDict()].map(([name, t]) => [name, w.put(t)]));
      const input = w.put(x);
      const file = join(dir, `case${k}.bin`);
      w.write(file);
      model.eval();
      const ev = noGrad(() => tidy(() => model.forward(x).dataSync() as Float32Array));
      model.train();
      const tr = noGrad(() => tidy(() => model.forward(x).dataSync() as Float32Array));
      ours.push({ model, eval: ev, train: tr, params: model.numParameters() });
      x.dispose();
      return { model: c.model, opts: c.opts, file, index, input };
    });
    theirs = runTwin('parity', jobs).cases;
  });

  afterAll(() => {
    console.log(`torch_parity: worst relative logit difference over ${cases.length} cases: eval ${worst.eval.toExponential(2)}, train ${worst.train.toExponential(2)}`);
    for (const o of ours) o.model.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  cases.forEach((c, k) => {
    it(c.id, () => {
      const t = theirs[k]!;
      const raw = readFileSync(t.out as string);
      const o = ours[k]!;
      expect(t.params, 'parameter count').toBe(o.params);
      for (const mode of ['eval', 'train'] as const) {
        const ref = readEntry(raw, t[mode] as Entry);
        expect((t[mode] as Entry).shape).toEqual([2, 32, 32, 5]);
        const err = relErr(o[mode], ref);
        worst[mode] = Math.max(worst[mode], err);
        expect(err, `${mode}-mode logits`).toBeLessThan(1e-4);
      }
      // running statistics after one train-mode forward (momentum 0.1, unbiased batch variance)
      const buffers = t.buffers as Record<string, Entry>;
      const mine = new Map(o.model.namedBuffers());
      expect(Object.keys(buffers).sort()).toEqual([...mine.keys()].sort());
      for (const [name, e] of Object.entries(buffers)) {
        expect(relErr(mine.get(name)!.dataSync(), readEntry(raw, e)), name).toBeLessThan(1e-4);
      }
    });
  });
});

// Twice: with the default routing (16×16 images stay on oneDNN's direct kernels) and with every
// stride-1 convolution forced onto the tiled-Fourier route (native/cpu/conv_fft.cc).
for (const route of ['auto', 'fourier'] as const) describe.skipIf(!hasTorch)(`parameter gradients against PyTorch float64 autograd (train mode, 2×16×16, filters 4, ${route} convolutions)`, () => {
  const gcases = (['unet', 'sdnet', 'densenet'] as ModelName[]).map((model) => ({ model, opts: { numClasses: 3, filters: 4, se: 'scse' as SeKind } }));
  const dir = hasTorch ? mkdtempSync(join(tmpdir(), 'scse-grad-')) : '';
  const ours: { loss: number; grads: Map<string, Float32Array> }[] = [];
  let theirs: Record<string, unknown>[] = [];
  let worstGrad = 0;

  beforeAll(() => {
    const batch = phantomBatch(2, 16, 3, 9);
    const prev = convAlgorithm(route);
    const jobs = gcases.map((c, k) => {
      manualSeed(300 + k);
      const model = createModel(c.model, c.opts);
      const w = new RawWriter();
      const index = Object.fromEntries([...model.stateDict()].map(([name, t]) => [name, w.put(t)]));
      const input = w.put(batch.x);
      const labels = w.put(Float32Array.from(batch.y), batch.labels.shape);
      const file = join(dir, `grad${k}.bin`);
      w.write(file);
      const loss = tidy(() => {
        const l = softmaxCrossEntropy(model.forward(batch.x), batch.labels);
        l.backward();
        return l.item();
      });
      ours.push({ loss, grads: new Map(model.namedParameters().map(([n, p]) => [n, p.grad!.dataSync() as Float32Array])) });
      model.dispose();
      return { model: c.model, opts: c.opts, file, index, input, labels, float64: true };
    });
    convAlgorithm(prev);
    theirs = runTwin('grad', jobs).cases;
  });

  afterAll(() => {
    console.log(`torch_parity: worst gradient difference vs float64 PyTorch (${route} convolutions): ${worstGrad.toExponential(2)} of the tensor's max |grad|`);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  gcases.forEach((c, k) => {
    it(`${c.model} + scse`, () => {
      const t = theirs[k]!;
      const raw = readFileSync(t.out as string);
      const o = ours[k]!;
      expect(Math.abs(o.loss - (t.loss as number))).toBeLessThan(1e-5 * Math.abs(t.loss as number));
      const grads = t.grads as Record<string, Entry>;
      expect(Object.keys(grads).sort()).toEqual([...o.grads.keys()].sort());
      const ref = new Map(Object.entries(grads).map(([n, e]) => [n, readEntry(raw, e)]));
      const globalMax = Math.max(...[...ref.values()].map((g) => g.reduce((a, v) => Math.max(a, Math.abs(v)), 0)));
      for (const [name, g] of ref) {
        const mine = o.grads.get(name)!;
        let d = 0;
        let m = 0;
        for (let i = 0; i < g.length; i++) {
          d = Math.max(d, Math.abs(mine[i]! - g[i]!));
          m = Math.max(m, Math.abs(g[i]!));
        }
        // conv biases followed by training-mode BN have an exact zero gradient: compare those
        // against the scale of the whole model's gradients
        worstGrad = Math.max(worstGrad, d / (m + 1e-3 * globalMax));
        expect(d, `${name}: max |diff| (max |grad| ${m})`).toBeLessThanOrEqual(1e-3 * m + 1e-6 * globalMax);
      }
    });
  });
});
