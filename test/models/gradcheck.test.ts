// Gradients of a whole network (tiny U-Net + scSE, training mode: batch statistics) against
// central finite differences of the loss, for weights of every kind of layer.
//
// Step size: the loss is computed here in float64 from the float32 logits; the float32 forward
// moves it by ~2e-8 between nearby weights (measured), so a quotient with step h carries ~2e-8/h
// of noise: h = 1e-3 keeps that at a few % of the smallest gradients checked. Larger steps (1e-2)
// cross kinks: the network is only piecewise smooth (ReLU, max-pool switches), and a kink within
// ±h makes even the central quotient wrong by up to ~20% (seen at h = 2.5e-4 too). So a
// coordinate counts only when its forward and backward quotients agree (no kink nearby); its
// central quotient must then match autograd to 5% + noise (narrow smooth features, e.g. BatchNorm
// over 4 values, still bend it by ~3% at this h). A wrong gradient (missing term, wrong scale,
// swapped layout) fails that for essentially every coordinate: scaling conv2d's weight gradient
// by 1.1 fails every conv layer here. The same gradients are compared with PyTorch's float64
// autograd in torch_parity.test.ts (agreement ~2e-4 of each tensor's largest gradient).
import { describe, expect, it } from 'vitest';

import { tidy } from '../../src/autograd/scope.js';
import { noGrad } from '../../src/autograd/tape.js';
import { createModel } from '../../src/models/index.js';
import { softmaxCrossEntropy } from '../../src/ops/loss.js';
import { manualSeed, Rng } from '../../src/random.js';
import { phantomBatch } from './phantom.js';

const K = 3;

function crossEntropy64(logits: Float32Array, labels: Int32Array): number {
  let s = 0;
  for (let p = 0; p < labels.length; p++) {
    let mx = -Infinity;
    for (let k = 0; k < K; k++) mx = Math.max(mx, logits[p * K + k]!);
    let e = 0;
    for (let k = 0; k < K; k++) e += Math.exp(logits[p * K + k]! - mx);
    s += Math.log(e) + mx - logits[p * K + labels[p]!]!;
  }
  return s / labels.length;
}

describe('U-Net + scSE gradients against finite differences (training mode)', () => {
  manualSeed(5);
  const model = createModel('unet', { numClasses: K, filters: 4, se: 'scse' });
  const batch = phantomBatch(4, 16, K, 9);
  const loss = (): number => noGrad(() => tidy(() => crossEntropy64(model.forward(batch.x).dataSync() as Float32Array, batch.y)));
  const L = tidy(() => {
    const l = softmaxCrossEntropy(model.forward(batch.x), batch.labels);
    l.backward();
    return l.item();
  });
  const state = model.stateDict();

  const L0 = loss();

  it('the native loss equals the float64 one', () => {
    expect(Math.abs(L - L0)).toBeLessThan(1e-6);
  });

  const layers = [
    'encode1.conv1.weight',
    'encode2.conv2.weight',
    'encode1.bn2.weight',
    'encode2.bn1.weight',
    'decode4.bn2.weight',
    'decode3.up.weight',
    'decode4.up.weight',
    'decode4.se.cSE.fc1.weight',
    'decode4.se.cSE.fc2.bias',
    'decode4.se.sSE.conv.weight',
    'encode1.se.sSE.conv.weight',
    'classifier.weight',
    'classifier.bias',
  ];
  for (const name of layers) {
    it(name, () => {
      const p = state.get(name)!;
      const g = p.grad!.dataSync() as Float32Array;
      const w0 = p.dataSync() as Float32Array;
      const gMax = g.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
      expect(gMax, 'gradient is not all zero').toBeGreaterThan(1e-4);
      const rng = new Rng(name.length * 7919);
      const candidates = rng.shuffle([...g.keys()].filter((i) => Math.abs(g[i]!) >= 0.2 * gMax));
      const at = (i: number, v: number): number => {
        const w = w0.slice();
        w[i] = v;
        p.handle.write(w);
        const l = loss();
        p.handle.write(w0);
        return l;
      };
      const h = 1e-3;
      const noise = 3e-8 / h;
      let checked = 0;
      for (const i of candidates.slice(0, 16)) {
        const lp = at(i, w0[i]! + h);
        const lm = at(i, w0[i]! - h);
        const tol = 0.05 * Math.abs(g[i]!) + noise;
        if (Math.abs((lp - L0) / h - (L0 - lm) / h) > tol + noise) continue; // a kink within ±h: not informative
        const central = (lp - lm) / (2 * h);
        expect(Math.abs(central - g[i]!), `${name}[${i}]: finite difference ${central} vs autograd ${g[i]}`).toBeLessThanOrEqual(tol);
        if (++checked === 4) break;
      }
      expect(checked, `${name}: coordinates without a kink nearby`).toBeGreaterThanOrEqual(Math.min(2, candidates.length));
    });
  }
});
