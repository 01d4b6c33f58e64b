// Training-throughput benchmark: one SGD training step of the paper's three networks, with and
// without scSE, ours (NHWC) against PyTorch (bench/peers/torch_train.py over the twin
// torch_models.py, NCHW and channels_last). One step = train-mode forward of a batch of 4 images
// 1×S×S, combinedLoss (per-pixel weighted cross-entropy + soft Dice, 28 classes), backward, SGD
// (lr 0.01, momentum 0.95, weight decay 1e-4), zero grads. Median of `--steps` timed steps after
// `--warmup` untimed ones. Every configuration runs in its own process (ours: this script with
// --child; PyTorch: one python per configuration), one after another so they never share the
// cores, and each reports its own peak RSS.
//
//   npm run bench:train [-- --filters 64 --steps 5 --warmup 2 --quick --no-torch --out DIR]
//
// --quick: filters 16, 128×128, 2 timed steps after 1 warm-up (smoke runs). Results go to
// bench/results/train.{json,md} only from a full run (default sizes, with torch) or to --out.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { tidy } from '../src/autograd/scope.js';
import { createModel, type ModelName } from '../src/models/index.js';
import { native } from '../src/native.js';
import type { SeKind } from '../src/nn/se.js';
import { combinedLoss } from '../src/ops/dice.js';
import { normal, uniform } from '../src/ops/random.js';
import { SGD } from '../src/optim/sgd.js';
import { manualSeed } from '../src/random.js';
import { Tensor } from '../src/tensor.js';
import { mdTable, resultsDir, runTorchPeer } from './common.js';
import { median, pairedCost, type PairedCost } from './paired.js';

const NETS: ModelName[] = ['unet', 'sdnet', 'densenet'];
const SES: SeKind[] = ['none', 'scse'];
const BATCH = 4;
const CLASSES = 28;

type Impl = 'scse' | 'torch' | 'torch-cl';
export interface TrainRow {
  net: ModelName;
  se: SeKind;
  impl: Impl;
  imgPerSec: number;
  msPerStep: number; // median over the timed steps
  minMsPerStep: number; // the fastest timed step: less sensitive to other processes on the cores
  peakRssMB: number; // the whole process's peak (runtime + model + data + steps)
  baseRssMB: number; // RSS just before the first step (runtime + model + data)
  otherCores: number; // CPU used by other processes during the timed steps, in cores (noise indicator)
  pairedCost?: PairedCost; // scSE rows: the cost of scSE measured within one process (runPaired)
}


interface Config {
  net: ModelName;
  se: SeKind;
  filters: number;
  size: number;
  batch: number;
  classes: number;
  steps: number;
  warmup: number;
}

interface StepResult {
  msPerStep: number;
  times: number[];
  peakRssMB: number;
  baseRssMB: number;
  otherCores: number;
  loss: number;
}

interface PairConfig extends Omit<Config, 'se' | 'steps'> {
  pairs: number;
}


/** VmRSS / VmHWM of this process in MB (Linux; NaN elsewhere). */
function procStatusMB(field: 'VmRSS' | 'VmHWM'): number {
  let status = '';
  try {
    status = readFileSync('/proc/self/status', 'utf8');
  } catch {
    return Number.NaN;
  }
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/**
 * Busy CPU time of the whole machine in seconds (/proc/stat: user + nice + system + irq + softirq +
 * steal, in USER_HZ = 100 ticks). Minus this process's own CPU time over the same interval, it says
 * how much of the cores other processes took: the load average cannot, since it counts our own
 * two busy threads too.
 */
function machineBusySeconds(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0)) / 100;
  } catch {
    return Number.NaN;
  }
}

// ---- one configuration, in this process (--child, --paired) -----------------------------------
/** A model of `c` with SE `se`, its optimizer and fixed data: step() runs one timed unit of work. */
function makeStep(c: Omit<Config, 'se' | 'steps'>, se: SeKind): { step: () => number; dispose: () => void } {
  manualSeed(0);
  const model = createModel(c.net, { numClasses: c.classes, filters: c.filters, se });
  model.train();
  const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.95, weightDecay: 1e-4 });
  const x = normal([c.batch, c.size, c.size, 1]);
  const lab = new Int32Array(c.batch * c.size * c.size);
  for (let i = 0; i < lab.length; i++) lab[i] = Math.floor(Math.random() * c.classes);
  const y = Tensor.fromArray(lab, [c.batch, c.size, c.size], { dtype: 'int32' });
  // stands in for median-frequency + boundary weights: only the shape matters for the work
  const w = uniform([c.batch, c.size, c.size], 1, 5);
  const step = (): number => {
    const parts = tidy(() => combinedLoss(model.forward(x), y, w));
    const loss = parts.loss.item();
    parts.loss.backward();
    for (const t of [parts.loss, parts.ce, parts.dice]) t.dispose();
    opt.step();
    opt.zeroGrad();
    return loss;
  };
  const dispose = () => {
    for (const t of [x, y, w]) t.dispose();
    opt.dispose();
    model.dispose();
  };
  return { step, dispose };
}

function runChild(c: Config): StepResult {
  const { step, dispose } = makeStep(c, c.se);
  const base = procStatusMB('VmRSS');
  const label = `scse ${c.net}/${c.se}`;
  const times: number[] = [];
  let loss = Number.NaN;
  const total = c.warmup + c.steps;
  let mark = { busy: 0, own: process.cpuUsage(), wall: 0 };
  for (let i = 0; i < total; i++) {
    if (i === c.warmup) mark = { busy: machineBusySeconds(), own: process.cpuUsage(), wall: performance.now() };
    const t0 = performance.now();
    loss = step();
    const dt = performance.now() - t0;
    if (i >= c.warmup) times.push(dt);
    process.stderr.write(`${label} step ${i + 1}/${total} ${dt.toFixed(0)} ms loss ${loss.toFixed(4)}\n`);
  }
  const own = process.cpuUsage(mark.own);
  const wall = (performance.now() - mark.wall) / 1000;
  const otherCores = Math.max(0, (machineBusySeconds() - mark.busy - (own.user + own.system) / 1e6) / wall);
  // resourceUsage().maxRSS is in KiB; VmHWM is the same high-water mark
  const peak = Math.max(process.resourceUsage().maxRSS / 1024, procStatusMB('VmHWM') || 0);
  dispose();
  return { msPerStep: median(times), times, peakRssMB: peak, baseRssMB: base, otherCores, loss };
}

/** scSE's cost within one process (PairedCost). */
function runPaired(c: PairConfig): PairedCost {
  const nets = { none: makeStep(c, 'none'), scse: makeStep(c, 'scse') };
  const times = { none: [] as number[], scse: [] as number[] };
  for (let i = 0; i < c.warmup + c.pairs; i++) {
    const order: ('none' | 'scse')[] = i % 2 === 0 ? ['none', 'scse'] : ['scse', 'none'];
    for (const se of order) {
      const t0 = performance.now();
      nets[se].step();
      const dt = performance.now() - t0;
      if (i >= c.warmup) times[se].push(dt);
      process.stderr.write(`scse ${c.net} paired ${i + 1}/${c.warmup + c.pairs} ${se} ${dt.toFixed(0)} ms\n`);
    }
  }
  nets.none.dispose();
  nets.scse.dispose();
  return pairedCost(times.none, times.scse);
}


// ---- driver ------------------------------------------------------------------------------------
const { values: args } = parseArgs({
  options: {
    filters: { type: 'string' },
    steps: { type: 'string' },
    warmup: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'no-torch': { type: 'boolean', default: false },
    out: { type: 'string' },
    child: { type: 'string' }, // internal: one configuration as JSON
    paired: { type: 'string' }, // internal: one network's none/scSE pair as JSON
  },
});

if (args.child) {
  const r = runChild(JSON.parse(args.child) as Config);
  process.stdout.write(`${JSON.stringify(r)}\n`);
} else if (args.paired) {
  const r = runPaired(JSON.parse(args.paired) as PairConfig);
  process.stdout.write(`${JSON.stringify(r)}\n`);
} else {
  main();
}

/** Runs this script as a child (--child or --paired) and returns the last line of its output, parsed. */
function runOurs<T>(mode: 'child' | 'paired', c: Config | PairConfig): T {
  const script = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, `--${mode}`, JSON.stringify(c)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  });
  const what = 'se' in c ? `${c.net}/${c.se}` : `${c.net} none/scse pair`;
  if (r.status !== 0) throw new Error(`bench/train.ts --${mode} ${what} failed (status ${r.status}${r.signal ? `, ${r.signal}` : ''})`);
  const last = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(last) as T;
}

function main(): void {
  const quick = args.quick;
  const filters = Number(args.filters ?? (quick ? 16 : 64));
  const size = quick ? 128 : 256;
  const steps = Number(args.steps ?? (quick ? 2 : 5));
  const warmup = Number(args.warmup ?? (quick ? 1 : 2));
  for (const [k, v] of Object.entries({ filters, steps, warmup })) {
    if (!Number.isInteger(v) || v < (k === 'warmup' ? 0 : 1)) throw new Error(`--${k} must be a positive integer, got ${String(v)}`);
  }
  if (!quick && steps < 5) console.error(`note: --steps ${steps} < 5: a smoke run, not a measurement`);

  const loads: number[] = [loadavg()[0]!];
  const sample = () => loads.push(loadavg()[0]!);
  const rows: TrainRow[] = [];
  const push = (c: Config, impl: Impl, r: StepResult) =>
    rows.push({ net: c.net, se: c.se, impl, imgPerSec: (BATCH * 1000) / r.msPerStep, msPerStep: r.msPerStep, minMsPerStep: Math.min(...r.times), peakRssMB: r.peakRssMB, baseRssMB: r.baseRssMB, otherCores: r.otherCores });
  const configs: Config[] = NETS.flatMap((net) => SES.map((se) => ({ net, se, filters, size, batch: BATCH, classes: CLASSES, steps, warmup })));

  console.error(`bench:train: filters ${filters}, ${BATCH}×${size}×${size}×1, ${CLASSES} classes, ${steps} timed steps after ${warmup}; load ${loads[0]!.toFixed(2)}`);
  // Per configuration: ours, then PyTorch NCHW, then channels_last, back to back, so that this VM's
  // slow drift in speed (±10% over minutes) hits the three alike.
  let torchInfo = 'not run (--no-torch)';
  // scSE's cost within one process, ours and PyTorch's (NCHW), onto the scSE rows
  const pairNet = (c: Config) => {
    const pc: PairConfig = { net: c.net, filters, size, batch: BATCH, classes: CLASSES, pairs: steps, warmup };
    const ours = runOurs<PairedCost>('paired', pc);
    rows.find((r) => r.net === c.net && r.se === 'scse' && r.impl === 'scse')!.pairedCost = ours;
    console.error(`scse  ${c.net} paired: scSE costs ${ours.pct.toFixed(1)}% (${ours.noneMs.toFixed(0)} / ${ours.scseMs.toFixed(0)} ms)`);
    if (args['no-torch']) return;
    const peer = runTorchPeer<{ none: number[]; scse: number[] }>('torch_train.py', { ...pc, paired: true });
    sample();
    const row = rows.find((r) => r.net === c.net && r.se === 'scse' && r.impl === 'torch');
    if (!peer.result || !row) return console.error(`torch ${c.net} paired failed: ${peer.reason ?? 'no scSE row'}`);
    row.pairedCost = { ...pairedCost(peer.result.none, peer.result.scse), layout: 'NCHW' };
    console.error(`torch ${c.net} paired: scSE costs ${row.pairedCost.pct.toFixed(1)}%`);
  };
  for (const c of configs) {
    const r = runOurs<StepResult>('child', c);
    push(c, 'scse', r);
    sample();
    console.error(`scse  ${c.net}/${c.se}: ${r.msPerStep.toFixed(0)} ms/step, peak RSS ${r.peakRssMB.toFixed(0)} MB (load ${loads.at(-1)!.toFixed(2)})`);
    if (!args['no-torch']) {
      for (const cl of [false, true]) {
        const impl: Impl = cl ? 'torch-cl' : 'torch';
        console.error(`${impl} ${c.net}/${c.se} ...`);
        const peer = runTorchPeer<StepResult & { torch: string; threads: number }>('torch_train.py', { ...c, channelsLast: cl });
        sample();
        if (!peer.result) {
          console.error(`${impl} ${c.net}/${c.se} failed: ${peer.reason}`);
          torchInfo = `failed: ${peer.reason}`;
          continue;
        }
        torchInfo = `PyTorch ${peer.result.torch}, ${peer.config}, NCHW or channels_last`;
        push(c, impl, peer.result);
        console.error(`${impl} ${c.net}/${c.se}: ${peer.result.msPerStep.toFixed(0)} ms/step, peak RSS ${peer.result.peakRssMB.toFixed(0)} MB (load ${loads.at(-1)!.toFixed(2)})`);
      }
    }
    if (c.se === 'scse') pairNet(c);
  }

  const md = markdown(rows, { filters, size, steps, warmup, torchInfo, loads });
  console.log(md);
  const complete = !quick && !args['no-torch'] && steps >= 5 && rows.length === configs.length * 3;
  const dir = args.out ?? (complete ? resultsDir : null);
  if (dir) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'train.json'), `${JSON.stringify(rows, null, 2)}\n`);
    writeFileSync(join(dir, 'train.md'), md);
    console.error(`wrote ${join(dir, 'train')}.{json,md}`);
  } else {
    console.error('partial run (--quick / --no-torch / fewer steps / a failed peer): bench/results/train.{json,md} left unchanged (use --out DIR)');
  }
}

function markdown(rows: TrainRow[], o: { filters: number; size: number; steps: number; warmup: number; torchInfo: string; loads: number[] }): string {
  const info = native.info();
  const find = (net: string, se: string, impl: Impl) => rows.find((r) => r.net === net && r.se === se && r.impl === impl);
  const f0 = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(0));
  const f2 = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(2));
  const pct = (a?: TrainRow, b?: TrainRow) => (a && b ? `${(((b.msPerStep - a.msPerStep) / a.msPerStep) * 100).toFixed(1)}%` : '–');
  const table: (string | number)[][] = [];
  const faster: string[] = [];
  for (const net of NETS) {
    const ours = { none: find(net, 'none', 'scse'), scse: find(net, 'scse', 'scse') };
    for (const impl of ['scse', 'torch', 'torch-cl'] as Impl[]) {
      const none = find(net, 'none', impl);
      const se = find(net, 'scse', impl);
      if (!none && !se) continue;
      const ratio = (a?: TrainRow, b?: TrainRow) => (a && b ? (a.msPerStep / b.msPerStep).toFixed(2) : '–');
      table.push([
        net,
        impl === 'scse' ? 'scse (ours, NHWC)' : impl === 'torch' ? 'torch (NCHW)' : 'torch-cl (channels_last)',
        none ? `${f0(none.msPerStep)} [${f0(none.minMsPerStep)}]` : '–',
        f2(none?.imgPerSec),
        se ? `${f0(se.msPerStep)} [${f0(se.minMsPerStep)}]` : '–',
        f2(se?.imgPerSec),
        `${f0(none?.peakRssMB)} / ${f0(se?.peakRssMB)}`,
        `${f2(none?.otherCores)} / ${f2(se?.otherCores)}`,
        impl === 'scse' ? '–' : `${ratio(none, ours.none)} / ${ratio(se, ours.scse)}`,
        pct(none, se),
        se?.pairedCost ? `**${se.pairedCost.pct.toFixed(1)}%** (${f0(se.pairedCost.noneMs)} → ${f0(se.pairedCost.scseMs)} ms${se.pairedCost.layout ? `, ${se.pairedCost.layout}` : ''})` : '–',
      ]);
    }
    for (const se of SES) {
      const t = find(net, se, 'torch');
      const cl = find(net, se, 'torch-cl');
      if (t && cl) faster.push(`${net}/${se}: ${t.msPerStep <= cl.msPerStep ? 'NCHW' : 'channels_last'}`);
    }
  }
  const lo = o.loads;
  return [
    '# Training throughput (CPU)',
    '',
    `One training step of each network: forward of a batch of ${BATCH} images 1×${o.size}×${o.size}, ${CLASSES} classes, filters ${o.filters} ` +
      `(default kernels: U-Net 5, SD-Net 7, DenseNet 5), loss = per-pixel weighted cross-entropy + soft Dice (foreground classes), backward, ` +
      `SGD (lr 0.01, momentum 0.95, weight decay 1e-4), zero grads. Median of ${o.steps} timed steps after ${o.warmup} warm-up steps; ` +
      `img/s = ${BATCH} / median step time; [brackets]: the fastest timed step.`,
    '',
    `${cpus()[0]?.model ?? 'cpu'}, ${cpus().length} cores. scse: oneDNN ${info.onednn}, ${info.threads} threads, NHWC. torch: ${o.torchInfo}. ` +
      `Each configuration runs alone in its own process; peak RSS is that whole process's high-water mark ` +
      `(runtime, model, data and the steps); RSS just before the first step (runtime + model + data): ${baseRange(rows)}.`,
    '',
    `1-min load average ${lo[0]!.toFixed(2)} at start, ${lo.at(-1)!.toFixed(2)} at end, at most ${Math.max(...lo).toFixed(2)} during the run ` +
      `(it counts the benchmark's own ${cpus().length} busy threads). Other processes on the cores make timings noisy: ` +
      `"others' CPU" is the CPU time the rest of the machine used during each configuration's timed steps ` +
      `(/proc/stat busy time − the benchmark process's own, per second of wall time): ${othersSummary(rows)}.`,
    '',
    mdTable(
      ['net', 'impl', 'ms/step (no SE)', 'img/s (no SE)', 'ms/step (scSE)', 'img/s (scSE)', 'peak RSS MB (no SE / scSE)', "others' CPU, cores (no SE / scSE)", 'time ÷ ours (no SE / scSE)', 'scSE cost, separate processes', 'scSE cost, paired in one process'],
      table,
    ),
    '',
    'time ÷ ours > 1: ours is faster. scSE cost = (step time with scSE − without) / without, per implementation. ' +
      "Separate processes: the two rows' medians, so it carries this VM's run-to-run drift (±10%). Paired in one process: " +
      `the network built twice (none, scSE) in one process and stepped alternately (none then scSE, then scSE then none) for ${o.steps} pairs ` +
      `after ${o.warmup} warm-up steps of each; median of the per-pair differences ÷ median step without SE (in brackets: the two medians). ` +
      "Drift hits both alike, so this is the number to read for scSE's cost; PyTorch's pair runs in NCHW.",
    faster.length ? `Faster PyTorch layout: ${faster.join(', ')}.` : '',
    '',
  ].join('\n');
}

function baseRange(rows: TrainRow[]): string {
  const parts: string[] = [];
  for (const impl of ['scse', 'torch', 'torch-cl'] as Impl[]) {
    const b = rows.filter((r) => r.impl === impl).map((r) => r.baseRssMB);
    if (b.length) parts.push(`${impl} ${Math.min(...b).toFixed(0)}–${Math.max(...b).toFixed(0)} MB`);
  }
  return parts.join(', ');
}

function othersSummary(rows: TrainRow[]): string {
  const o = rows.map((r) => r.otherCores).filter((v) => Number.isFinite(v));
  if (!o.length) return 'not measured';
  return `mean ${(o.reduce((a, b) => a + b, 0) / o.length).toFixed(2)}, at most ${Math.max(...o).toFixed(2)} cores of ${cpus().length}`;
}
