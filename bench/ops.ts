// Op benchmark: our CPU kernels against PyTorch (bench/peers/torch_ops.py, run in the same process
// tree after ours, so the two never compete for cores). Each case is timed as the median of
// `--runs` runs after `--warmup` runs. Writes bench/results/ops.json and bench/results/ops.md.
//
//   npm run bench:ops [-- --runs 5 --warmup 2 --only conv2d.fwd --no-torch]
//
// Adding an op family (e.g. batch norm): push its cases to `cases` with a new `kind`, give `ours`
// a builder for that kind here and BUILDERS one in torch_ops.py. `flops: null` prints no GFLOP/s.
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';

import { native, type NativeTensor } from '../src/native.js';
import { convAlgorithm } from '../src/ops/index.js'; // also declares the native op signatures
import { Tensor } from '../src/tensor.js';
import { mdTable, runTorchPeer, timeMs, writeResults } from './common.js';

interface Case {
  kind: string; // builder on both sides
  op: string; // row label, e.g. conv2d.fwd
  shape: string;
  flops: number | null;
  [param: string]: unknown;
}

interface Row {
  op: string;
  shape: string;
  impl: 'scse' | 'scse-direct' | 'torch'; // scse-direct: convolutions forced onto oneDNN's direct kernels
  ms: number; // median
  gflops: number | null;
  minMs: number; // fastest run: less sensitive to other processes on the cores
}

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    only: { type: 'string' },
    'no-torch': { type: 'boolean', default: false },
  },
});
const runs = Math.max(5, Number(args.runs));
const warmup = Math.max(1, Number(args.warmup));

// ---- cases -------------------------------------------------------------------------------------
const cases: Case[] = [];
const N = 4;
const H = 256;
const W = 256;
for (const k of [3, 5, 7]) {
  for (const [cin, cout] of [
    [64, 64],
    [128, 64],
  ] as const) {
    for (const pass of ['fwd', 'bwdData', 'bwdWeights'] as const) {
      cases.push({
        kind: 'conv2d',
        op: `conv2d.${pass}`,
        shape: `${N}x${H}x${W} ${cin}->${cout} k${k}x${k}`,
        flops: 2 * N * H * W * cout * cin * k * k,
        pass,
        n: N,
        h: H,
        w: W,
        cin,
        cout,
        k,
      });
    }
  }
}
// Batch norm (training: batch statistics + running-stat update; backward: dx, dgamma, dbeta),
// C = 64 at the same activation size as the convs.
for (const pass of ['fwd', 'bwd'] as const) {
  cases.push({ kind: 'batchnorm', op: `batchnorm.${pass}`, shape: `${N}x${H}x${W}x64`, flops: null, pass, n: N, h: H, w: W, c: 64 });
}
const selected = cases.filter((c) => !args.only || c.op.includes(args.only) || c.shape.includes(args.only));

// ---- our side ----------------------------------------------------------------------------------
// Inputs are shared by the cases that use the same shapes (filling 100+ MB from JS is slow).
const inputs = new Map<string, NativeTensor>();
function randomTensor(shape: number[], scale = 1): NativeTensor {
  const key = `${shape.join('x')}*${scale}`;
  let t = inputs.get(key);
  if (!t) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = (Math.random() * 2 - 1) * scale;
    t = Tensor.fromArray(data, shape).handle;
    inputs.set(key, t);
  }
  return t;
}

type Built = { run: () => NativeTensor[] };

const ours: Record<string, (c: Case) => Built> = {
  conv2d(c) {
    const { n, h, w, cin, cout, k, pass } = c as unknown as { n: number; h: number; w: number; cin: number; cout: number; k: number; pass: string };
    const p = (k - 1) / 2;
    const x = randomTensor([n, h, w, cin]);
    const wt = randomTensor([cout, k, k, cin], 0.05);
    const dy = randomTensor([n, h, w, cout]);
    const s: [number, number] = [1, 1];
    const pad: [number, number] = [p, p];
    const run =
      pass === 'fwd'
        ? () => [native.conv2d(x, wt, null, s, pad, s)]
        : pass === 'bwdData'
          ? () => [native.conv2dBackwardData(dy, wt, [n, h, w, cin], s, pad, s)]
          : () => native.conv2dBackwardWeights(x, dy, [cout, k, k, cin], false, s, pad, s);
    return { run };
  },
  batchnorm(c) {
    const { n, h, w, c: C, pass } = c as unknown as { n: number; h: number; w: number; c: number; pass: string };
    const x = randomTensor([n, h, w, C]);
    const dy = randomTensor([n, h, w, C]);
    const gamma = randomTensor([C]);
    const beta = randomTensor([C], 0.1);
    const rm = Tensor.zeros([C]).handle;
    const rv = Tensor.ones([C]).handle;
    const [y0, mean, variance] = native.batchNormTrain(x, gamma, beta, rm, rv, 0.1, 1e-5);
    y0!.dispose();
    const run =
      pass === 'fwd'
        ? () => native.batchNormTrain(x, gamma, beta, rm, rv, 0.1, 1e-5)
        : () => native.batchNormBackward(x, mean!, variance!, gamma, dy, 1e-5, false);
    return { run };
  },
};

const gflops = (c: Case, ms: number): number | null => (c.flops === null ? null : c.flops / (ms * 1e6));

const load0 = loadavg()[0]!;
const rows: Row[] = [];
// Convolutions twice: the default routing ('auto': the tiled-Fourier route where it wins) and
// oneDNN's direct kernels alone, so the table shows what each contributes.
for (const c of selected) {
  const b = ours[c.kind]!(c);
  for (const impl of c.kind === 'conv2d' ? (['scse', 'scse-direct'] as const) : (['scse'] as const)) {
    convAlgorithm(impl === 'scse' ? 'auto' : 'direct');
    const { median: ms, min: minMs } = timeMs(() => b.run().forEach((t) => t.dispose()), runs, warmup);
    rows.push({ op: c.op, shape: c.shape, impl, ms, gflops: gflops(c, ms), minMs });
    console.error(`${impl.padEnd(12)} ${c.op.padEnd(22)} ${c.shape.padEnd(28)} ${ms.toFixed(2).padStart(9)} ms`);
  }
}
convAlgorithm('auto');
for (const t of inputs.values()) t.dispose();

// ---- PyTorch peer ------------------------------------------------------------------------------
let torchInfo = 'not run';
if (!args['no-torch']) {
  type PeerOut = { torch: string; threads: number; results: { op: string; shape: string; ms: number; minMs: number }[] };
  const peer = runTorchPeer<PeerOut>('torch_ops.py', { cases: selected, runs, warmup }, { progress: true });
  if (!peer.result) {
    console.error(`torch peer failed: ${peer.reason}`);
  } else {
    torchInfo = `PyTorch ${peer.result.torch}, ${peer.config}`;
    for (const t of peer.result.results) {
      const c = selected.find((s) => s.op === t.op && s.shape === t.shape)!;
      rows.push({ op: t.op, shape: t.shape, impl: 'torch', ms: t.ms, gflops: gflops(c, t.ms), minMs: t.minMs });
    }
  }
}
const load1 = loadavg()[0]!;

// ---- results -----------------------------------------------------------------------------------

const info = native.info();
const fmt = (v: number | null | undefined, d = 1): string => (v === null || v === undefined ? '–' : v.toFixed(d));
const table = selected.map((c) => {
  const a = rows.find((r) => r.impl === 'scse' && r.op === c.op && r.shape === c.shape);
  const d = rows.find((r) => r.impl === 'scse-direct' && r.op === c.op && r.shape === c.shape);
  const t = rows.find((r) => r.impl === 'torch' && r.op === c.op && r.shape === c.shape);
  const ratio = a && t ? (t.ms / a.ms).toFixed(2) : '–';
  const best = a && t ? (t.minMs / a.minMs).toFixed(2) : '–';
  return [c.op, c.shape, fmt(a?.ms), fmt(a?.gflops), fmt(d?.ms), fmt(t?.ms), fmt(t?.gflops), ratio, best];
});
const md = [
  '# Op benchmark (CPU)',
  '',
  `${cpus()[0]?.model ?? 'cpu'}, ${cpus().length} cores; scse: oneDNN ${info.onednn}, ${info.threads} threads, NHWC; ` +
    `torch: ${torchInfo}, NCHW. Median of ${runs} runs after ${warmup} warm-up runs; ` +
    `scse: default routing (stride-1 convolutions with enough work run by tiled Fourier transforms, native/cpu/conv_fft.cc); ` +
    `scse direct: oneDNN's direct kernels only (convAlgorithm('direct')). ` +
    `GFLOP/s = 2·N·H·W·Cout·Cin·k² / time (for the Fourier route: direct-convolution flops per second); ratio = torch ms / scse ms (> 1: scse faster), on medians and on each side's fastest run. ` +
    `1-min load average ${load0.toFixed(2)} at start, ${load1.toFixed(2)} at end (other processes on the cores make timings noisy).`,
  '',
  mdTable(['op', 'shape', 'scse ms', 'scse GFLOP/s', 'scse direct ms', 'torch ms', 'torch GFLOP/s', 'ratio', 'ratio (fastest)'], table, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r']),
  '',
].join('\n');
// Only a complete run (every case, both impls) replaces the recorded results.
if (args.only || args['no-torch'] || torchInfo === 'not run') {
  console.log(md);
  console.error('partial run (--only / --no-torch / no torch peer): bench/results/ops.{json,md} left unchanged');
} else {
  writeResults('ops', rows, md);
}
