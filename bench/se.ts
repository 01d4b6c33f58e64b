// npm run bench:se — the SE blocks, fused vs composed vs PyTorch (the authors' formulation, NCHW),
// forward and forward+backward, against this machine's memory bandwidth measured in the same run.
// Minimal traffic: forward reads U and writes Y (2|U|); forward+backward adds reading U and dY and
// writing dU (5|U| in all). GB/s = minimal bytes / median time.
import { tidy } from '../src/autograd/scope.js';
import { noGrad } from '../src/autograd/tape.js';
import { native } from '../src/native.js';
import { ChannelSE, ChannelSpatialSE, SpatialSE, type SeImpl } from '../src/nn/se.js';
import { manualSeed } from '../src/random.js';
import { Tensor } from '../src/tensor.js';
import { normal } from '../src/ops/random.js';
import { mdTable, medianMs, runTorchPeer, writeResults } from './common.js';

type Block = 'cse' | 'sse' | 'scse';
interface Row {
  block: Block;
  shape: [number, number, number, number];
  pass: 'fwd' | 'fwdbwd';
  impl: 'fused' | 'composed' | 'torch';
  ms: number;
  gbps: number;
}

// --quick: one small shape; --shape N,H,W,C: that shape alone. Neither writes bench/results.
const quick = process.argv.includes('--quick');
const shapeArg = process.argv.indexOf('--shape');
const oneShape = shapeArg > 0 ? (process.argv[shapeArg + 1] ?? '').split(',').map(Number) : null;
if (oneShape && (oneShape.length !== 4 || oneShape.some((d) => !Number.isInteger(d) || d < 1))) {
  console.error(`bench:se: --shape expects N,H,W,C (positive integers), got '${process.argv[shapeArg + 1] ?? ''}'`);
  process.exit(2);
}
const partial = quick || oneShape !== null;
const shapes: [number, number, number, number][] = oneShape
  ? [oneShape as [number, number, number, number]]
  : quick
  ? [[2, 64, 64, 64]]
  : [
      [4, 256, 256, 64],
      [4, 128, 128, 64],
      [4, 64, 64, 128],
      [16, 32, 32, 256],
    ];
const blocks: Block[] = ['cse', 'sse', 'scse'];
const reps = quick ? 5 : 11;

manualSeed(0);
const bandwidthGBps = native.triad(256 << 20, 10);
console.log(`triad bandwidth: ${bandwidthGBps.toFixed(1)} GB/s`);

const rows: Row[] = [];
const gb = (shape: number[], pass: 'fwd' | 'fwdbwd', ms: number): number => ((pass === 'fwd' ? 2 : 5) * shape.reduce((a, b) => a * b, 1) * 4) / (ms * 1e6);

for (const shape of shapes) {
  const x = normal(shape, 0, 1);
  const dy = normal(shape, 0, 1);
  for (const block of blocks) {
    for (const impl of ['fused', 'composed'] as SeImpl[]) {
      const C = shape[3];
      const m = block === 'cse' ? new ChannelSE(C, { impl }) : block === 'sse' ? new SpatialSE(C, { impl }) : new ChannelSpatialSE(C, { impl });
      // tidy: the composed path's intermediates are freed at once, not left to the garbage
      // collector (fresh memory costs ~1.5 ms/MiB to fault in on this VM).
      const fwd = medianMs(() => tidy(() => void noGrad(() => m.forward(x))), reps);
      const xg = x.detach().requireGrad();
      const fb = medianMs(() => {
        tidy(() => m.forward(xg).backward(dy));
        xg.grad?.dispose();
        xg.grad = null;
        for (const p of m.parameters()) {
          p.grad?.dispose();
          p.grad = null;
        }
      }, reps);
      xg.dispose();
      m.dispose();
      rows.push({ block, shape, pass: 'fwd', impl, ms: fwd, gbps: gb(shape, 'fwd', fwd) });
      rows.push({ block, shape, pass: 'fwdbwd', impl, ms: fb, gbps: gb(shape, 'fwdbwd', fb) });
      console.log(`${block} ${impl} [${shape}] fwd ${fwd.toFixed(2)} ms, fwd+bwd ${fb.toFixed(2)} ms`);
    }
  }
  x.dispose();
  dy.dispose();
}

const peer = runTorchPeer<{ torch: string; rows: { block: Block; shape: [number, number, number, number]; pass: 'fwd' | 'fwdbwd'; ms: number }[] }>(
  'torch_se.py',
  { shapes, blocks, reps },
);
if (peer.result) for (const r of peer.result.rows) rows.push({ ...r, impl: 'torch', gbps: gb(r.shape, r.pass, r.ms) });
else console.log(`PyTorch peer skipped: ${peer.reason}`);

const find = (b: Block, s: number[], p: string, i: string) => rows.find((r) => r.block === b && r.shape.join() === s.join() && r.pass === p && r.impl === i);
const table: (string | number)[][] = [];
for (const s of shapes)
  for (const b of blocks)
    for (const p of ['fwd', 'fwdbwd']) {
      const f = find(b, s, p, 'fused')!;
      const c = find(b, s, p, 'composed')!;
      const t = find(b, s, p, 'torch');
      table.push([
        b,
        `${s.join('×')}`,
        p,
        f.ms.toFixed(2),
        c.ms.toFixed(2),
        t ? t.ms.toFixed(2) : '–',
        `${f.gbps.toFixed(1)} (${((100 * f.gbps) / bandwidthGBps).toFixed(0)}%)`,
        (c.ms / f.ms).toFixed(1),
        t ? (t.ms / f.ms).toFixed(1) : '–',
      ]);
    }
const md = [
  `# SE blocks: fused vs composed vs PyTorch`,
  ``,
  `Triad bandwidth measured in this run: **${bandwidthGBps.toFixed(1)} GB/s**. PyTorch ${peer.result?.torch ?? '(not run)'}: ${peer.config}.`,
  `Times are medians of ${reps} runs (ms). GB/s counts the minimal traffic (2|U| forward, 5|U| forward+backward).`,
  ``,
  mdTable(['block', 'N×H×W×C', 'pass', 'fused ms', 'composed ms', 'torch ms', 'fused GB/s (% of triad)', 'composed/fused', 'torch/fused'], table),
  ``,
].join('\n');
if (partial) console.log(md + '\n(--quick/--shape: bench/results/se.{json,md} left unchanged)');
else writeResults('se', { bandwidthGBps, rows }, md);
