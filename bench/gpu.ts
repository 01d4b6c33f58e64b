// npm run bench:gpu — the CUDA backend on this machine's GPU:
//   1. the device's memory bandwidth, measured in this run: a triad kernel (a = b + s·c) and a
//      device-to-device copy, best of 20;
//   2. the SE blocks at the bench:se shapes, fused vs composed, forward and forward+backward, in
//      GB/s of minimal traffic (2|U| forward, 5|U| forward+backward, as bench:se) and as a share
//      of the triad bandwidth;
//   3. training images/s of the 12 networks (U-Net, SD-Net, FC-DenseNet × none/cSE/sSE/scSE):
//      one SGD step of a batch of 4 images 1×256×256, 28 classes, 64 filters, weighted
//      cross-entropy + Dice (bench:train's step), median of the timed steps.
// Every timing waits for the device (cudaSynchronize) before it stops the clock.
//
//   npm run bench:gpu [-- --quick] [-- --steps 5 --warmup 2]
//
// Without a usable GPU it prints why and exits 0. Results go to bench/results/gpu.{json,md} from
// a full run (--quick only prints). SCSE_CUDA_TF32=1 lets cuDNN use TF32 tensor cores.
import { parseArgs } from 'node:util';

import { tidy } from '../src/autograd/scope.js';
import { noGrad } from '../src/autograd/tape.js';
import { cudaStatus } from '../src/device.js';
import { createModel, modelNames, type ModelName } from '../src/models/index.js';
import { native } from '../src/native.js';
import { ChannelSE, ChannelSpatialSE, SpatialSE, type SeImpl, type SeKind } from '../src/nn/se.js';
import { combinedLoss } from '../src/ops/dice.js';
import { normal, uniform } from '../src/ops/random.js';
import { SGD } from '../src/optim/sgd.js';
import { manualSeed } from '../src/random.js';
import { Tensor } from '../src/tensor.js';
import { mdTable, writeResults } from './common.js';

const status = cudaStatus();
const gpu = status.devices.find((d) => d.usable);
if (!status.usable || !gpu) {
  console.log(`bench:gpu: skipped: CUDA not usable: ${status.reason || 'no usable device'}`);
  process.exit(0);
}
const DEV = `cuda:${gpu.index}`;
const sync = (): void => native.cudaSynchronize(gpu.index);

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    steps: { type: 'string' },
    warmup: { type: 'string' },
  },
});
const quick = args.quick;
const steps = Number(args.steps ?? (quick ? 2 : 5));
const warmup = Number(args.warmup ?? (quick ? 1 : 2));
const reps = quick ? 5 : 21;

/** Median ms of fn, each run timed up to the end of its work on the device. */
function medianMs(fn: () => void, n: number, warm = 2): number {
  for (let i = 0; i < warm; i++) fn();
  sync();
  const ts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    fn();
    sync();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)]!;
}

console.log(`bench:gpu on ${DEV}: ${gpu.name} (compute capability ${gpu.computeCapability}, ${(gpu.totalMemory / 2 ** 30).toFixed(1)} GiB), cuDNN ${status.cudnn.version}, driver CUDA ${(status.driverVersion / 1000).toFixed(1)}`);

// ---- 1. bandwidth ------------------------------------------------------------------------------
const bw = native.cudaBandwidth(256 << 20, 20, gpu.index);
console.log(`device bandwidth: triad ${bw.triad.toFixed(0)} GB/s, copy ${bw.copy.toFixed(0)} GB/s`);

// ---- 2. SE blocks ------------------------------------------------------------------------------
type Block = 'cse' | 'sse' | 'scse';
interface SeRow {
  block: Block;
  shape: [number, number, number, number];
  pass: 'fwd' | 'fwdbwd';
  impl: SeImpl;
  ms: number;
  gbps: number;
}
const shapes: [number, number, number, number][] = quick
  ? [[4, 128, 128, 64]]
  : [
      [4, 256, 256, 64],
      [4, 128, 128, 64],
      [4, 64, 64, 128],
      [16, 32, 32, 256],
    ];
const gb = (shape: number[], pass: 'fwd' | 'fwdbwd', ms: number): number => ((pass === 'fwd' ? 2 : 5) * shape.reduce((a, b) => a * b, 1) * 4) / (ms * 1e6);
const seRows: SeRow[] = [];
manualSeed(0);
for (const shape of shapes) {
  const x = normal(shape, 0, 1, DEV);
  const dy = normal(shape, 0, 1, DEV);
  for (const block of ['cse', 'sse', 'scse'] as Block[]) {
    for (const impl of ['fused', 'composed'] as SeImpl[]) {
      const C = shape[3];
      const m = (block === 'cse' ? new ChannelSE(C, { impl }) : block === 'sse' ? new SpatialSE(C, { impl }) : new ChannelSpatialSE(C, { impl })).to(DEV);
      const fwd = medianMs(() => noGrad(() => m.forward(x)).dispose(), reps);
      const xg = x.detach().requireGrad();
      const fb = medianMs(() => {
        const y = m.forward(xg);
        y.backward(dy);
        y.dispose();
        for (const p of [xg, ...m.parameters()]) {
          p.grad?.dispose();
          p.grad = null;
        }
      }, reps);
      xg.dispose();
      m.dispose();
      seRows.push({ block, shape, pass: 'fwd', impl, ms: fwd, gbps: gb(shape, 'fwd', fwd) }, { block, shape, pass: 'fwdbwd', impl, ms: fb, gbps: gb(shape, 'fwdbwd', fb) });
      console.log(`${block} ${impl} [${shape}] fwd ${fwd.toFixed(3)} ms (${gb(shape, 'fwd', fwd).toFixed(0)} GB/s), fwd+bwd ${fb.toFixed(3)} ms (${gb(shape, 'fwdbwd', fb).toFixed(0)} GB/s)`);
    }
  }
  x.dispose();
  dy.dispose();
}

// ---- 3. training throughput --------------------------------------------------------------------
interface TrainRow {
  net: ModelName;
  se: SeKind;
  msPerStep: number;
  minMsPerStep: number;
  imgPerSec: number;
}
const BATCH = 4;
const SIZE = quick ? 128 : 256;
const FILTERS = quick ? 16 : 64;
const CLASSES = 28;
const trainRows: TrainRow[] = [];
for (const net of modelNames) {
  for (const se of ['none', 'cse', 'sse', 'scse'] as SeKind[]) {
    manualSeed(0);
    const model = createModel(net, { numClasses: CLASSES, filters: FILTERS, se }).to(DEV);
    const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.95, weightDecay: 1e-4 });
    const x = normal([BATCH, SIZE, SIZE, 1], 0, 1, DEV);
    const lab = new Int32Array(BATCH * SIZE * SIZE).map((_, i) => (i * 7919) % CLASSES);
    const y = Tensor.fromArray(lab, [BATCH, SIZE, SIZE], { device: DEV });
    const w = uniform([BATCH, SIZE, SIZE], 1, 5, DEV);
    const step = (): void => {
      const parts = tidy(() => combinedLoss(model.forward(x), y, w));
      parts.loss.backward();
      for (const t of [parts.loss, parts.ce, parts.dice]) t.dispose();
      opt.step();
      opt.zeroGrad();
    };
    const times: number[] = [];
    for (let i = 0; i < warmup + steps; i++) {
      const t0 = performance.now();
      step();
      sync();
      if (i >= warmup) times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const ms = times[Math.floor(times.length / 2)]!;
    trainRows.push({ net, se, msPerStep: ms, minMsPerStep: times[0]!, imgPerSec: (BATCH * 1000) / ms });
    console.log(`train ${net}/${se}: ${ms.toFixed(1)} ms/step, ${((BATCH * 1000) / ms).toFixed(1)} img/s`);
    for (const t of [x, y, w]) t.dispose();
    opt.dispose();
    model.dispose();
  }
}
native.cudaEmptyCache(gpu.index);

// ---- report ------------------------------------------------------------------------------------
const find = (b: Block, s: number[], p: string, i: string) => seRows.find((r) => r.block === b && r.shape.join() === s.join() && r.pass === p && r.impl === i)!;
const seTable = shapes.flatMap((s) =>
  (['cse', 'sse', 'scse'] as Block[]).flatMap((b) =>
    ['fwd', 'fwdbwd'].map((p) => {
      const f = find(b, s, p, 'fused');
      const c = find(b, s, p, 'composed');
      return [b, s.join('×'), p, f.ms.toFixed(3), c.ms.toFixed(3), `${f.gbps.toFixed(0)} (${((100 * f.gbps) / bw.triad).toFixed(0)}%)`, (c.ms / f.ms).toFixed(1)];
    }),
  ),
);
const md = [
  `# CUDA backend on ${gpu.name}`,
  ``,
  `Device ${DEV}, compute capability ${gpu.computeCapability}, cuDNN ${status.cudnn.version}, driver CUDA ${(status.driverVersion / 1000).toFixed(1)}${process.env.SCSE_CUDA_TF32 === '1' ? ', TF32 allowed' : ''}.`,
  `Bandwidth measured in this run: triad **${bw.triad.toFixed(0)} GB/s**, device-to-device copy ${bw.copy.toFixed(0)} GB/s.`,
  ``,
  `## SE blocks`,
  ``,
  `Median of ${reps} runs (ms, synchronized). GB/s counts the minimal traffic (2|U| forward, 5|U| forward+backward).`,
  ``,
  mdTable(['block', 'N×H×W×C', 'pass', 'fused ms', 'composed ms', 'fused GB/s (% of triad)', 'composed/fused'], seTable),
  ``,
  `## Training`,
  ``,
  `One SGD step, batch ${BATCH}×${SIZE}×${SIZE}×1, ${CLASSES} classes, ${FILTERS} filters; median of ${steps} steps after ${warmup}.`,
  ``,
  mdTable(
    ['network', 'SE', 'ms/step', 'fastest ms', 'img/s'],
    trainRows.map((r) => [r.net, r.se, r.msPerStep.toFixed(1), r.minMsPerStep.toFixed(1), r.imgPerSec.toFixed(1)]),
  ),
  ``,
].join('\n');
if (quick) console.log(`${md}\n(--quick: bench/results/gpu.{json,md} left unchanged)`);
else writeResults('gpu', { device: { ...gpu, cudnn: status.cudnn.version, driverVersion: status.driverVersion }, bandwidthGBps: bw, se: seRows, train: trainRows }, md);
