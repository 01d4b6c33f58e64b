// Synthetic run and experiment reports for the report and plot tests (no training, no addon).
import type { RunReport } from '../../src/train/report.js';

/** Deterministic uniform [0, 1) numbers (LCG), so fixtures are the same on every run. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export const CLASSES = ['background', 'skull', 'brain', 'ventricle', 'thalamus'];

/** An image of H × W with three nested discs, labels 1..3 (and 4 for a small blob). */
export function syntheticSlice(H: number, W: number, shift = 0): { image: Float32Array; labels: Int32Array } {
  const image = new Float32Array(H * W);
  const labels = new Int32Array(H * W);
  const cy = H / 2;
  const cx = W / 2;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const r = Math.hypot((y - cy) / H, (x - cx) / W);
      const i = y * W + x;
      image[i] = r < 0.42 ? 0.3 + 0.4 * (1 - r) : 0.05;
      labels[i] = r < 0.12 ? 3 : r < 0.33 ? 2 : r < 0.42 ? 1 : 0;
      if (Math.hypot(y - cy - H * 0.18, x - cx - W * 0.15 - shift) < Math.min(H, W) * 0.06) labels[i] = 4;
    }
  }
  return { image, labels };
}

export interface RunOptions {
  name?: string;
  seed?: number;
  volumes?: number;
  epochs?: number;
  /** added to every Dice (a better variant) */
  shift?: number;
  overlay?: boolean;
  seParams?: number;
}

/** A RunReport with random per-volume Dice; structure 4 is absent (null) in some volumes. */
export function syntheticRun(o: RunOptions = {}): RunReport {
  const rnd = lcg(o.seed ?? 1);
  const nVol = o.volumes ?? 8;
  const shift = o.shift ?? 0;
  const volumes = Array.from({ length: nVol }, (_, v) => {
    const dice: (number | null)[] = [0.99];
    for (let c = 1; c < CLASSES.length; c++) {
      if (c === 4 && v % 3 === 0) dice.push(null);
      else dice.push(Math.min(1, 0.55 + 0.08 * c + shift + 0.1 * rnd()));
    }
    const fg = dice.slice(1).filter((d): d is number => d !== null);
    return { id: `sub-${String(v + 1).padStart(2, '0')}`, dice, meanDice: fg.reduce((a, b) => a + b, 0) / fg.length };
  });
  const epochs = Array.from({ length: o.epochs ?? 12 }, (_, i) => ({
    epoch: i + 1,
    trainLoss: 1.1 * Math.exp(-i / 4) + 0.1 + 0.02 * rnd(),
    valLoss: i % 2 === 1 ? 1.2 * Math.exp(-i / 5) + 0.15 : undefined,
    valDice: i % 2 === 1 ? 0.8 * (1 - Math.exp(-(i + 1) / 4)) + shift : undefined,
    lr: i < 8 ? 0.01 : 0.001,
    seconds: 10 + rnd(),
    imagesPerSec: 40 + 5 * rnd(),
  }));
  const H = 40;
  const W = 56;
  const s = syntheticSlice(H, W);
  const p = syntheticSlice(H, W, shift > 0 ? 0 : 3);
  return {
    name: o.name ?? 'synthetic',
    command: 'scse train --model unet --se scse --epochs 12 --seed 1',
    createdAt: '2024-01-02T03:04:05.000Z',
    versions: { scse: '0.1.0', node: 'v20.0.0', onednn: '2.6.3' },
    device: 'cpu',
    seed: o.seed ?? 1,
    config: { model: { name: 'unet', se: 'scse', reduction: 2, channels: [16, 32] }, optimizer: { name: 'sgd', lr: 0.01, momentum: 0.9 }, batchSize: 8, loss: 'ce+dice' },
    classes: CLASSES,
    parameters: { total: 100_000 + (o.seParams ?? 1500), se: o.seParams ?? 1500 },
    training: { epochs, wallSeconds: 130.5, bestEpoch: 10 },
    test: { volumes, mean: 0, std: 0 },
    ...(o.overlay === false ? {} : { overlay: { H, W, image: s.image, truth: s.labels, prediction: p.labels, caption: 'Slice 20 of sub-01.' } }),
  };
}
