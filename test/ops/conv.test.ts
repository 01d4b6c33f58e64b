import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, it } from 'vitest';

import { native } from '../../src/native.js';
import * as ops from '../../src/ops/index.js';
import { Tensor } from '../../src/tensor.js';
import { expectClose, randn, randt } from '../helpers.js';
import { checkAgainstTf } from '../reference/compare.js';
import { tf } from '../reference/tf.js';

type Pair = [number, number];
const pairOf = (v: number | Pair | undefined, d: number): Pair => (v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v);
const tol = { rtol: 1e-4, atol: 1e-5 };
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// A dilated kernel as a dense one with zeros between taps (differentiable in tfjs: reshape, pad,
// slice). Used because tfjs has no conv2d gradient for dilation > 1.
function dilateKernel(w: tf.Tensor4D, [dh, dw]: Pair): tf.Tensor4D {
  if (dh === 1 && dw === 1) return w;
  const [kh, kw, i, o] = w.shape;
  const spread = tf.pad(tf.reshape(w, [kh, 1, kw, 1, i, o]), [[0, 0], [0, dh - 1], [0, 0], [0, dw - 1], [0, 0], [0, 0]]);
  const dense = tf.reshape(spread, [kh * dh, kw * dw, i, o]);
  return tf.slice(dense, [0, 0, 0, 0], [(kh - 1) * dh + 1, (kw - 1) * dw + 1, i, o]) as tf.Tensor4D;
}

// PyTorch-semantics conv2d in tfjs: our OHWI weights are transposed to tfjs's HWIO.
function tfConv2d(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | undefined, o: ops.Conv2dOptions): tf.Tensor {
  const [sh, sw] = pairOf(o.stride, 1);
  const [ph, pw] = pairOf(o.padding, 0);
  const hwio = dilateKernel(tf.transpose(w, [1, 2, 3, 0]) as tf.Tensor4D, pairOf(o.dilation, 1));
  const y = tf.conv2d(x as tf.Tensor4D, hwio, [sh, sw], [[0, 0], [ph, ph], [pw, pw], [0, 0]]);
  return b ? tf.add(y, b) : y;
}

// PyTorch-semantics ConvTranspose2d in tfjs: our [inC,kH,kW,outC] weights become tfjs's
// [kH,kW,outC,inC]; tfjs's explicit padding is that of the forward conv it transposes.
function tfConvT(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | undefined, o: ops.ConvTranspose2dOptions): tf.Tensor {
  const [sh, sw] = pairOf(o.stride, 1);
  const [ph, pw] = pairOf(o.padding, 0);
  const [oph, opw] = pairOf(o.outputPadding, 0);
  const [n, h, wd] = x.shape as number[];
  const [, kh, kw, oc] = w.shape as number[];
  const out: [number, number, number, number] = [n!, (h! - 1) * sh - 2 * ph + kh! + oph, (wd! - 1) * sw - 2 * pw + kw! + opw, oc!];
  const filt = tf.transpose(w, [1, 2, 3, 0]) as tf.Tensor4D;
  const y = tf.conv2dTranspose(x as tf.Tensor4D, filt, out, [sh, sw], [[0, 0], [ph, ph], [pw, pw], [0, 0]]);
  return b ? tf.add(y, b) : y;
}

interface Case {
  name: string;
  x: number[];
  k: number | Pair;
  outC: number;
  opts: ops.ConvTranspose2dOptions;
}

const convCases: Case[] = [
  { name: '1x1', x: [2, 5, 6, 4], k: 1, outC: 3, opts: {} },
  { name: '3x3 same padding', x: [1, 8, 8, 3], k: 3, outC: 5, opts: { padding: 1 } },
  { name: '5x5 same padding, odd sizes, batch 3', x: [3, 7, 9, 4], k: 5, outC: 6, opts: { padding: 2 } },
  { name: '7x7 same padding, 13x11', x: [1, 13, 11, 3], k: 7, outC: 4, opts: { padding: 3 } },
  { name: '3x3 stride 2 padding 1, odd sizes', x: [3, 13, 11, 5], k: 3, outC: 6, opts: { stride: 2, padding: 1 } },
  { name: '3x3 stride 2 no padding, even sizes', x: [2, 8, 10, 3], k: 3, outC: 2, opts: { stride: 2 } },
  { name: '1x1 stride 2 (drops the last row/column)', x: [1, 8, 7, 4], k: 1, outC: 3, opts: { stride: 2 } },
  { name: '3x3 dilation 2 padding 2', x: [2, 9, 7, 3], k: 3, outC: 4, opts: { padding: 2, dilation: 2 } },
  { name: '3x3 stride 2 dilation 2 padding 1', x: [1, 13, 11, 4], k: 3, outC: 3, opts: { stride: 2, padding: 1, dilation: 2 } },
  { name: 'non-square kernel, per-axis stride/padding', x: [2, 9, 10, 3], k: [3, 5], outC: 4, opts: { stride: [1, 2], padding: [2, 1] } },
];

describe('conv2d against tfjs (forward, dx, dw, dbias)', () => {
  convCases.forEach((c, i) => {
    const [kh, kw] = pairOf(c.k, 1);
    const w = [c.outC, kh, kw, c.x[3]!];
    it(`${c.name}, with bias`, () =>
      checkAgainstTf((x, wt, b) => ops.conv2d(x, wt!, b!, c.opts), (x, wt, b) => tfConv2d(x, wt!, b, c.opts), [c.x, w, [c.outC]], 100 + i, tol));
    it(`${c.name}, without bias`, () =>
      checkAgainstTf((x, wt) => ops.conv2d(x, wt!, null, c.opts), (x, wt) => tfConv2d(x, wt!, undefined, c.opts), [c.x, w], 200 + i, tol));
  });
});

// dX of conv2d in float64, straight from the definition: every y[n,oh,ow,o] received
// sum w[o,kh,kw,i] * x[n, oh*s - p + kh*d, ow*s - p + kw*d, i].
function convBackwardData64(
  dy: Float32Array,
  dyShape: readonly number[],
  w: Float32Array,
  wShape: readonly number[],
  xShape: readonly number[],
  o: ops.Conv2dOptions,
): Float64Array {
  const [sh, sw] = pairOf(o.stride, 1);
  const [ph, pw] = pairOf(o.padding, 0);
  const [dh, dw] = pairOf(o.dilation, 1);
  const [N, OH, OW, OC] = dyShape as [number, number, number, number];
  const [, KH, KW, IC] = wShape as [number, number, number, number];
  const [, IH, IW] = xShape as [number, number, number];
  const dx = new Float64Array(N * IH * IW * IC);
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        for (let oc = 0; oc < OC; oc++) {
          const g = dy[((n * OH + oh) * OW + ow) * OC + oc]!;
          for (let kh = 0; kh < KH; kh++) {
            const ih = oh * sh - ph + kh * dh;
            if (ih < 0 || ih >= IH) continue;
            for (let kw = 0; kw < KW; kw++) {
              const iw = ow * sw - pw + kw * dw;
              if (iw < 0 || iw >= IW) continue;
              const wo = ((oc * KH + kh) * KW + kw) * IC;
              const xo = ((n * IH + ih) * IW + iw) * IC;
              for (let ic = 0; ic < IC; ic++) dx[xo + ic]! += g * w[wo + ic]!;
            }
          }
        }
      }
    }
  }
  return dx;
}

// Stride-1 convolutions with padding <= dilation*(k-1) compute dX as a forward convolution of dY
// with the flipped, channel-swapped kernel (native/cpu/conv.cc); the rest use oneDNN's
// backward-data. Both paths, against a float64 reference and (forward, dx, dw) against tfjs.
const bwdDataCases: (Case & { path: 'flipped forward' | 'fallback' })[] = [
  { name: '5x5 padding 0', x: [2, 9, 8, 4], k: 5, outC: 6, opts: { padding: 0 }, path: 'flipped forward' },
  { name: '5x5 padding 1', x: [2, 9, 8, 4], k: 5, outC: 6, opts: { padding: 1 }, path: 'flipped forward' },
  { name: '5x5 padding 2', x: [2, 9, 8, 4], k: 5, outC: 6, opts: { padding: 2 }, path: 'flipped forward' },
  { name: '5x5 padding 4 (= k-1)', x: [1, 6, 7, 3], k: 5, outC: 4, opts: { padding: 4 }, path: 'flipped forward' },
  { name: '7x7 padding 3', x: [1, 11, 10, 3], k: 7, outC: 4, opts: { padding: 3 }, path: 'flipped forward' },
  { name: '3x3 dilation 2 padding 2', x: [2, 9, 7, 3], k: 3, outC: 4, opts: { padding: 2, dilation: 2 }, path: 'flipped forward' },
  { name: '5x5 dilation 2 padding 3, dilation [2, 1]', x: [1, 12, 9, 3], k: 5, outC: 2, opts: { padding: 3, dilation: [2, 1] }, path: 'flipped forward' },
  { name: '1x1', x: [2, 5, 6, 16], k: 1, outC: 32, opts: {}, path: 'flipped forward' },
  { name: '3 -> 5 channels, 5x5 padding 2', x: [2, 8, 9, 3], k: 5, outC: 5, opts: { padding: 2 }, path: 'flipped forward' },
  { name: '65 -> 64 channels, 5x5 padding 2', x: [1, 7, 6, 65], k: 5, outC: 64, opts: { padding: 2 }, path: 'flipped forward' },
  { name: 'non-square 3x5 kernel, padding [1, 2]', x: [2, 7, 9, 5], k: [3, 5], outC: 3, opts: { padding: [1, 2] }, path: 'flipped forward' },
  { name: '5x5 stride 2 padding 2', x: [2, 9, 8, 4], k: 5, outC: 6, opts: { stride: 2, padding: 2 }, path: 'fallback' },
  { name: '3x3 stride [1, 2] padding 1', x: [1, 8, 9, 5], k: 3, outC: 4, opts: { stride: [1, 2], padding: 1 }, path: 'fallback' },
  { name: '1x1 padding 1 (beyond the kernel)', x: [1, 5, 4, 3], k: 1, outC: 2, opts: { padding: 1 }, path: 'fallback' },
  { name: '3x3 padding [1, 3] (w beyond the kernel)', x: [1, 6, 5, 4], k: 3, outC: 3, opts: { padding: [1, 3] }, path: 'fallback' },
];

describe('conv2d backward data: flipped forward convolution and the fallback', () => {
  bwdDataCases.forEach((c, i) => {
    const [kh, kw] = pairOf(c.k, 1);
    const wShape = [c.outC, kh, kw, c.x[3]!];
    it(`${c.path}: ${c.name}, dx against float64`, () => {
      const w = randt(wShape, 900 + i, false);
      const y = ops.conv2d(randt(c.x, 920 + i, false), w, null, c.opts);
      const dy = randt(y.shape, 940 + i, false);
      const dx = native.conv2dBackwardData(dy.handle, w.handle, c.x, pairOf(c.opts.stride, 1), pairOf(c.opts.padding, 0), pairOf(c.opts.dilation, 1));
      expect(dx.shape).toEqual(c.x);
      const ref = convBackwardData64(dy.dataSync() as Float32Array, y.shape, w.dataSync() as Float32Array, wShape, c.x, c.opts);
      expectClose(dx.read(), ref, 1e-5, 1e-6, 'dx');
      dx.dispose();
      [w, y, dy].forEach((t) => t.dispose());
    });
    it(`${c.path}: ${c.name}, against tfjs`, () =>
      checkAgainstTf((x, wt) => ops.conv2d(x, wt!, null, c.opts), (x, wt) => tfConv2d(x, wt!, undefined, c.opts), [c.x, wShape], 960 + i, tol));
  });

  it('flipped weights of a repeated shape are rebuilt from the current weights', () => {
    // The cached primitive is reused; the flipped kernel must not be (the optimizer changes w).
    const xShape = [1, 6, 6, 3];
    const dy = randt([1, 6, 6, 4], 990, false);
    for (const seed of [991, 992]) {
      const w = randt([4, 3, 3, 3], seed, false);
      const dx = native.conv2dBackwardData(dy.handle, w.handle, xShape, [1, 1], [1, 1], [1, 1]);
      const ref = convBackwardData64(dy.dataSync() as Float32Array, [1, 6, 6, 4], w.dataSync() as Float32Array, [4, 3, 3, 3], xShape, { padding: 1 });
      expectClose(dx.read(), ref, 1e-5, 1e-6, `dx (weights ${seed})`);
      dx.dispose();
      w.dispose();
    }
    dy.dispose();
  });
});

// The tiled-Fourier route (native/cpu/conv_fft.cc) forced on every stride-1, dilation-1 case,
// against tfjs: forward, dx (through the flipped forward) and dw/dbias (its own GEMMs). chunkTiles
// splits the tiles into several chunks with a partial last one (and partial 16-tile blocks).
const fourierCases: (Case & { chunk: number })[] = [
  ...convCases.filter((c) => pairOf(c.opts.stride, 1).every((v) => v === 1) && pairOf(c.opts.dilation, 1).every((v) => v === 1)).map((c) => ({ ...c, chunk: 0 })),
  { name: '7x7 padding 3, 30x27, chunks of 5 tiles', x: [2, 30, 27, 3], k: 7, outC: 4, opts: { padding: 3 }, chunk: 5 },
  { name: '5x5 padding [0, 4], 23x26, chunks of 37 tiles', x: [3, 23, 26, 5], k: 5, outC: 3, opts: { padding: [0, 4] }, chunk: 37 },
  { name: '3x5 kernel padding [1, 2], 17 -> 19 channels', x: [1, 19, 21, 17], k: [3, 5], outC: 19, opts: { padding: [1, 2] }, chunk: 0 },
  { name: '5x5 no padding, 34 channels in, 1 out', x: [2, 12, 40, 34], k: 5, outC: 1, opts: {}, chunk: 3 },
  { name: '1x65 kernel (tile side beyond 64)', x: [1, 3, 70, 2], k: [1, 65], outC: 2, opts: { padding: [0, 32] }, chunk: 0 },
];

describe('conv2d on the tiled-Fourier route against tfjs', () => {
  afterEach(() => {
    ops.convAlgorithm('auto', { chunkTiles: 0 });
  });
  fourierCases.forEach((c, i) => {
    const [kh, kw] = pairOf(c.k, 1);
    const w = [c.outC, kh, kw, c.x[3]!];
    it(`${c.name}, with bias`, () => {
      expect(ops.convAlgorithm('fourier', { chunkTiles: c.chunk })).toBe('auto');
      checkAgainstTf((x, wt, b) => ops.conv2d(x, wt!, b!, c.opts), (x, wt, b) => tfConv2d(x, wt!, b, c.opts), [c.x, w, [c.outC]], 1100 + i, tol);
    });
  });

  // Large enough for 'auto' to pick the Fourier route (64 tiles of a 128x128 image, 32 channels),
  // and a 16x16 image that stays direct: 'auto' must equal one forced route bit for bit.
  const routed = (mode: ops.ConvAlgorithm, x: Tensor, w: Tensor): Float32Array => {
    ops.convAlgorithm(mode);
    const y = ops.conv2d(x, w, null, { padding: 3 });
    const out = y.dataSync() as Float32Array;
    y.dispose();
    return out;
  };
  it("'auto' takes the Fourier route on a 128x128 7x7 layer and agrees with oneDNN's direct kernel", () => {
    const x = randt([1, 128, 128, 32], 1150, false), w = randt([32, 7, 7, 32], 1151, false, 0.05);
    const auto = routed('auto', x, w), fourier = routed('fourier', x, w), direct = routed('direct', x, w);
    expect(auto).toEqual(fourier);
    expect(auto).not.toEqual(direct);
    expectClose(auto, direct, 1e-5, 1e-6, 'fourier vs direct');
    [x, w].forEach((t) => t.dispose());
  });
  it("'auto' stays direct on a 16x16 image", () => {
    const x = randt([1, 16, 16, 32], 1152, false), w = randt([32, 7, 7, 32], 1153, false, 0.05);
    const auto = routed('auto', x, w), direct = routed('direct', x, w), fourier = routed('fourier', x, w);
    expect(auto).toEqual(direct);
    expectClose(fourier, direct, 1e-5, 1e-6, 'fourier vs direct');
    [x, w].forEach((t) => t.dispose());
  });
  it('with more threads than frequency columns (column-split GEMMs), the route still matches oneDNN', () => {
    // 16 threads on this machine's cores: only the work split changes, so the result must too.
    const script = `
      const ops = await import('./src/ops/index.ts');
      const { randt } = await import('./test/helpers.ts');
      const x = randt([1, 96, 96, 32], 1160, false), w = randt([24, 5, 5, 32], 1161, false, 0.05);
      const run = (mode) => { ops.convAlgorithm(mode); return ops.conv2d(x, w, null, { padding: 2 }).dataSync(); };
      const f = run('fourier'), d = run('direct');
      let e = 0, m = 0;
      for (let i = 0; i < d.length; i++) { e = Math.max(e, Math.abs(f[i] - d[i])); m = Math.max(m, Math.abs(d[i])); }
      console.log(e / m);`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: '16' },
    });
    expect(r.status, r.stderr).toBe(0);
    const rel = Number(r.stdout.trim());
    expect(rel).toBeGreaterThan(0);
    expect(rel).toBeLessThan(1e-5);
  });
  it('SCSE_CONV_ALGORITHM sets the mode of a process; a bad value fails at import', () => {
    const script = "import('./src/ops/conv.ts').then((m) => console.log(m.convAlgorithm()))";
    const run = (value: string) =>
      spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, SCSE_CONV_ALGORITHM: value } });
    expect(run('direct').stdout.trim()).toBe('direct');
    expect(run('fourier').stdout.trim()).toBe('fourier');
    const bad = run('fft');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/SCSE_CONV_ALGORITHM must be 'auto', 'direct' or 'fourier', got "fft"/);
  });
  // Geometries the tfjs cases above do not reach, against oneDNN's direct kernels (all three
  // passes, relative to the largest |value|): one-pixel outputs, kernels larger than the image,
  // padding 0 and padding beyond kernel - 1 (backward-data then stays on oneDNN), odd and
  // non-square sizes, 1 channel, chunks of 1 and of prime sizes across image boundaries, N > 1.
  const odd: { x: number[]; k: Pair; outC: number; p: Pair; chunk: number; bias: boolean }[] = [
    { x: [1, 5, 4, 1], k: [5, 4], outC: 1, p: [0, 0], chunk: 0, bias: true }, // 1x1 output
    { x: [2, 3, 2, 3], k: [7, 6], outC: 2, p: [3, 3], chunk: 1, bias: false }, // kernel larger than the image
    { x: [3, 9, 13, 2], k: [3, 8], outC: 5, p: [4, 0], chunk: 7, bias: true }, // padding > kH - 1 on one side only
    { x: [2, 23, 11, 17], k: [9, 2], outC: 3, p: [0, 1], chunk: 2, bias: true },
    { x: [3, 17, 19, 5], k: [4, 4], outC: 19, p: [3, 2], chunk: 13, bias: false },
    { x: [1, 1, 37, 2], k: [1, 9], outC: 4, p: [0, 5], chunk: 3, bias: true }, // one row
    { x: [2, 31, 29, 1], k: [6, 3], outC: 1, p: [5, 2], chunk: 0, bias: true }, // even kernel, 1 channel each side
  ];
  odd.forEach((c, i) => {
    it(`matches the direct route: x [${c.x}], kernel ${c.k[0]}x${c.k[1]}, padding [${c.p}], chunks of ${c.chunk || 'auto'}`, () => {
      const [n, h, w, ci] = c.x as [number, number, number, number];
      const oh = h + 2 * c.p[0] - c.k[0] + 1, ow = w + 2 * c.p[1] - c.k[1] + 1;
      const x = randt(c.x, 1160 + 4 * i, false), wt = randt([c.outC, ...c.k, ci], 1161 + 4 * i, false);
      const b = c.bias ? randt([c.outC], 1162 + 4 * i, false) : null, dy = randt([n, oh, ow, c.outC], 1163 + 4 * i, false);
      const one: Pair = [1, 1];
      const passes = (): Float32Array[] => {
        const outs = [
          native.conv2d(x.handle, wt.handle, b?.handle ?? null, one, c.p, one),
          native.conv2dBackwardData(dy.handle, wt.handle, c.x, one, c.p, one),
          ...native.conv2dBackwardWeights(x.handle, dy.handle, wt.shape, c.bias, one, c.p, one),
        ];
        const data = outs.map((t) => t.read() as Float32Array);
        outs.forEach((t) => t.dispose());
        return data;
      };
      ops.convAlgorithm('fourier', { chunkTiles: c.chunk });
      const fourier = passes();
      ops.convAlgorithm('direct', { chunkTiles: 0 });
      const direct = passes();
      ['y', 'dx', 'dw', 'db'].slice(0, direct.length).forEach((what, k) => expectClose(fourier[k]!, direct[k]!, 1e-5, 0, what));
      [x, wt, b, dy].forEach((t) => t?.dispose());
    });
  });
  it('bad modes name the argument, in TypeScript and natively', () => {
    expect(() => ops.convAlgorithm('fft' as ops.ConvAlgorithm)).toThrow(/convAlgorithm: argument 'mode' expected 'auto', 'direct' or 'fourier', got "fft"/);
    expect(() => ops.convAlgorithm('auto', { chunkTiles: -1 })).toThrow(/convAlgorithm: argument 'chunkTiles' expected a non-negative integer \(at most 2\^53 - 1\), got -1/);
    expect(() => native.convAlgorithm('fft' as ops.ConvAlgorithm)).toThrow(/convAlgorithm: argument 'mode' expected 'auto', 'direct' or 'fourier', got 'fft'/);
    expect(() => native.convAlgorithm('auto', 2.5)).toThrow(/convAlgorithm: argument 'chunkTiles' expected a non-negative integer/);
    // Infinity and integers beyond int64 used to be cast to int64 (undefined behaviour) and came
    // out as 0 = automatic; the mode must stay unchanged when chunkTiles is refused.
    expect(() => ops.convAlgorithm('fourier', { chunkTiles: 1e300 })).toThrow(/convAlgorithm: argument 'chunkTiles' expected a non-negative integer \(at most 2\^53 - 1\), got 1e\+300/);
    expect(() => native.convAlgorithm('fourier', Infinity)).toThrow(/convAlgorithm: argument 'chunkTiles' expected a non-negative integer \(at most 2\^53 - 1\), got Infinity/);
    expect(() => native.convAlgorithm('fourier', 2 ** 63)).toThrow(/convAlgorithm: argument 'chunkTiles' expected a non-negative integer/);
    expect(ops.convAlgorithm()).toBe('auto');
  });
});

const convTCases: Case[] = [
  { name: '2x2 stride 2 (U-Net upsampler)', x: [2, 5, 7, 6], k: 2, outC: 3, opts: { stride: 2 } },
  { name: '2x2 stride 2, 16 -> 8 channels', x: [1, 8, 8, 16], k: 2, outC: 8, opts: { stride: 2 } },
  { name: '3x3 stride 2 padding 1 outputPadding 1', x: [1, 6, 5, 4], k: 3, outC: 3, opts: { stride: 2, padding: 1, outputPadding: 1 } },
  { name: '3x3 stride 1 padding 1, batch 3', x: [3, 4, 5, 3], k: 3, outC: 2, opts: { padding: 1 } },
  // kernel = stride: the GEMM path (native/cpu/conv_patch.cc) instead of oneDNN's deconvolution
  { name: '3x2 kernel = stride [3, 2], 5 -> 7 channels', x: [2, 4, 5, 5], k: [3, 2], outC: 7, opts: { stride: [3, 2] } },
  { name: '2x2 stride 2, 64 -> 48 channels, several threads', x: [2, 12, 10, 64], k: 2, outC: 48, opts: { stride: 2 } },
  { name: '1x1 stride 1', x: [1, 3, 4, 6], k: 1, outC: 5, opts: {} },
];

describe('convTranspose2d against tfjs (forward, dx, dw, dbias)', () => {
  convTCases.forEach((c, i) => {
    const [kh, kw] = pairOf(c.k, 1);
    const w = [c.x[3]!, kh, kw, c.outC];
    it(`${c.name}, with bias`, () =>
      checkAgainstTf((x, wt, b) => ops.convTranspose2d(x, wt!, b!, c.opts), (x, wt, b) => tfConvT(x, wt!, b, c.opts), [c.x, w, [c.outC]], 300 + i, tol));
    it(`${c.name}, without bias`, () =>
      checkAgainstTf((x, wt) => ops.convTranspose2d(x, wt!, null, c.opts), (x, wt) => tfConvT(x, wt!, undefined, c.opts), [c.x, w], 400 + i, tol));
  });

  // tfjs's transposed conv has no dilation: check <convT(x, w), y> = <x, conv2d(y, w)> instead
  // (the same array w read as OHWI conv weights), and the gradients through it against tfjs.
  it('dilation 2 with stride 2 and output padding: adjoint of conv2d', () => {
    const opts = { stride: 2, padding: 2, outputPadding: 1, dilation: 2 } as const;
    const x = randt([2, 5, 6, 4], 500, false);
    const w = randt([4, 3, 3, 3], 501, false);
    const yT = ops.convTranspose2d(x, w, null, opts);
    expect(yT.shape).toEqual([2, (5 - 1) * 2 - 4 + 4 + 1 + 1, (6 - 1) * 2 - 4 + 4 + 1 + 1, 3]);
    const z = randt(yT.shape, 502, false);
    const cz = ops.conv2d(z, w, null, { stride: 2, padding: 2, dilation: 2 });
    expect(cz.shape).toEqual(x.shape);
    const dot = (a: Tensor, b: Tensor): number => {
      const p = a.dataSync();
      const q = b.dataSync();
      let s = 0;
      for (let i = 0; i < p.length; i++) s += p[i]! * q[i]!;
      return s;
    };
    const lhs = dot(yT, z);
    expect(Math.abs(lhs - dot(x, cz))).toBeLessThan(1e-4 * Math.abs(lhs) + 1e-3);
    [x, w, yT, z, cz].forEach((t) => t.dispose());
  });

  it('dilation 2: gradients against tfjs through the adjoint identity', () => {
    // d/dz <convT(x,w), z> = convT(x,w) and d/dx = conv2d(z, w): exercises both backward passes
    const opts = { stride: 1, padding: 1, dilation: 2 } as const;
    checkAgainstTf(
      (x, w) => ops.convTranspose2d(x, w!, null, opts),
      (x, w) => {
        // convTranspose2d with stride 1 = conv2d with flipped, in/out-swapped kernel and padding d(k-1)-p
        const flipped = tf.reverse(tf.transpose(w!, [1, 2, 0, 3]), [0, 1]); // [kh,kw,inC,outC] HWIO for the conv
        const ohwi = tf.transpose(flipped, [3, 0, 1, 2]);
        return tfConv2d(x, ohwi, undefined, { padding: 2 * (3 - 1) - 1, dilation: 2 });
      },
      [[2, 6, 5, 3], [3, 3, 3, 4]],
      510,
      tol,
    );
  });
});

describe('primitive cache', () => {
  it('repeated shapes reuse primitives and give identical results', () => {
    const x = randt([2, 9, 11, 4], 600, false);
    const w = randt([5, 3, 3, 4], 601, false);
    const b = randt([5], 602, false);
    const first = ops.conv2d(x, w, b, { padding: 1 }).dataSync();
    const other = ops.conv2d(randt([1, 6, 6, 4], 603, false), randt([2, 5, 5, 4], 604, false), null, { stride: 2 });
    const before = ops.convCacheStats();
    const again = ops.conv2d(x, w, b, { padding: 1 }).dataSync();
    const after = ops.convCacheStats();
    expect(after.hits).toBeGreaterThan(before.hits);
    expect(after.misses).toBe(before.misses);
    expect(Array.from(again)).toEqual(Array.from(first));
    expect(other.shape).toEqual([1, 1, 1, 2]);
  });

  it('backward through a cached shape matches a fresh run', () => {
    const run = (): Float32Array[] => {
      const x = randt([1, 7, 7, 3], 610);
      const w = randt([4, 3, 3, 3], 611);
      const b = randt([4], 612);
      const y = ops.conv2d(x, w, b, { stride: 2, padding: 1 });
      y.backward(Tensor.fromArray(randn(y.shape, 613), y.shape));
      return [x, w, b].map((t) => t.grad!.dataSync() as Float32Array);
    };
    const a = run();
    ops.conv2d(randt([1, 5, 5, 3], 614, false), randt([2, 1, 1, 3], 615, false));
    const b = run();
    a.forEach((g, i) => expectClose(b[i]!, g, 0, 0, `grad ${i}`));
  });
});

describe('bad inputs', () => {
  const x = randt([1, 6, 6, 3], 700, false);
  const w = randt([4, 3, 3, 3], 701, false);

  it('channel mismatch names w and x', () => {
    expect(() => ops.conv2d(x, randt([4, 3, 3, 5], 702, false))).toThrow(/conv2d: argument 'w' \[4, 3, 3, 5\] expects 5 input channels .* 'x' \[1, 6, 6, 3\] has 3/);
    expect(() => ops.convTranspose2d(x, randt([5, 2, 2, 4], 703, false))).toThrow(/convTranspose2d: argument 'w' .* expects 5 input channels/);
  });
  it('wrong ranks', () => {
    expect(() => ops.conv2d(randt([6, 6, 3], 704, false), w)).toThrow(/conv2d: argument 'x' expected rank 4 \(NHWC\), got shape \[6, 6, 3\]/);
    expect(() => ops.conv2d(x, randt([4, 9, 3], 705, false))).toThrow(/conv2d: argument 'w' expected rank 4 \(OHWI/);
  });
  it('int32 input and disposed tensors', () => {
    const xi = Tensor.zeros([1, 6, 6, 3], 'int32');
    expect(() => ops.conv2d(xi, w)).toThrow(/conv2d: argument 'x' must be float32, got int32/);
    const wd = randt([4, 3, 3, 3], 706, false);
    wd.dispose();
    expect(() => ops.conv2d(x, wd)).toThrow(/conv2d: argument 'w' \[4, 3, 3, 3\] has been disposed/);
  });
  it('bias length, options, output size', () => {
    expect(() => ops.conv2d(x, w, randt([3], 707, false))).toThrow(/conv2d: argument 'bias' expected shape \[4\] \(output channels\), got \[3\]/);
    expect(() => ops.conv2d(x, w, null, { stride: 0 })).toThrow(/conv2d: argument 'stride' must be an integer >= 1, got 0/);
    expect(() => ops.conv2d(x, w, null, { padding: -1 })).toThrow(/conv2d: argument 'padding' must be an integer >= 0/);
    expect(() => ops.conv2d(x, w, null, { dilation: [1, 0] })).toThrow(/conv2d: argument 'dilation' must be an integer >= 1/);
    expect(() => ops.conv2d(x, randt([4, 7, 7, 3], 708, false))).toThrow(/conv2d: output size would be 0x0 \(not positive\)/);
    expect(() => ops.convTranspose2d(x, randt([3, 3, 3, 2], 709, false), null, { stride: 2, outputPadding: 2 })).toThrow(
      /convTranspose2d: argument 'outputPadding' \[2, 2\] must be smaller than stride or dilation/,
    );
  });
  it('the native checks catch what bypasses TypeScript', () => {
    const w5 = randt([4, 3, 3, 5], 710, false);
    expect(() => native.conv2d(x.handle, w5.handle, null, [1, 1], [0, 0], [1, 1])).toThrow(/conv2d: argument 'w' \[4, 3, 3, 5\] expects 5 input channels/);
    expect(() => native.conv2d(x.handle, w.handle, null, [0, 1], [0, 0], [1, 1])).toThrow(/conv2d: argument 'stride' must be >= 1/);
    expect(() => native.conv2d(x.handle, w.handle, null, [1, 1], [-1, 0], [1, 1])).toThrow(/conv2d: argument 'padding' must be >= 0/);
    expect(() => native.conv2d(x.handle, w.handle, Tensor.zeros([2]).handle, [1, 1], [0, 0], [1, 1])).toThrow(/conv2d: argument 'bias' expected shape \[4\]/);
    expect(() => native.conv2d(Tensor.zeros([6, 6, 3]).handle, w.handle, null, [1, 1], [0, 0], [1, 1])).toThrow(/conv2d: argument 'x' expected rank 4/);
    expect(() => native.conv2dBackwardData(Tensor.zeros([1, 5, 5, 4]).handle, w.handle, [1, 6, 6, 3], [1, 1], [0, 0], [1, 1])).toThrow(
      /conv2dBackwardData: argument 'dy' expected shape \[1, 4, 4, 4\] \(the output's\), got \[1, 5, 5, 4\]/,
    );
    expect(() => native.conv2d(x.handle, w.handle, null, [1, 1], [0, 0], [4, 4])).toThrow(/conv2d: output size would be/);
  });
});

describe('memory', () => {
  it('forward + backward frees everything it saved', () => {
    const before = native.memory().tensors;
    for (const transposed of [false, true]) {
      const x = randt([2, 6, 6, 3], 800);
      const w = transposed ? randt([3, 2, 2, 4], 801) : randt([4, 3, 3, 3], 801);
      const b = randt([4], 802);
      const y = transposed ? ops.convTranspose2d(x, w, b, { stride: 2 }) : ops.conv2d(x, w, b, { padding: 1 });
      const loss = ops.sum(y);
      loss.backward();
      [x, w, b, y, loss].forEach((t) => t.dispose());
    }
    expect(native.memory().tensors).toBe(before);
  });
});
