import { spawnSync } from 'node:child_process';

import { describe, expect, it } from 'vitest';

import { ReduceLROnPlateau, StepLR, type ReduceLROnPlateauOptions } from '../../src/optim/schedulers.js';

const PY = '/usr/bin/python3';
const hasTorch = spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
if (!hasTorch) console.log('schedulers.test: /usr/bin/python3 cannot import torch; skipping the torch.optim.lr_scheduler comparison');

/** A stand-in optimizer: schedulers only read and write lr. */
const opt = (lr: number): { lr: number } => ({ lr });

function runStep(lr: number, epochs: number, o: { stepSize?: number; gamma?: number } = {}): number[] {
  const optim = opt(lr);
  const s = new StepLR(optim, o);
  const out: number[] = [];
  for (let e = 0; e < epochs; e++) {
    s.step();
    out.push(optim.lr);
  }
  return out;
}

function runPlateau(lr: number, metrics: number[], o: ReduceLROnPlateauOptions): number[] {
  const optim = opt(lr);
  const s = new ReduceLROnPlateau(optim, o);
  return metrics.map((m) => {
    s.step(m);
    return optim.lr;
  });
}

// patience 2, cooldown 1, threshold 0.1 (rel), factor 0.5, minLr 0.2, lr 1. By hand, following
// PyTorch's algorithm (best, bad epochs, cooldown counter after each epoch):
//  e1 10:  better than inf        best 10, bad 0                   lr 1
//  e2 9.5: not < 10·0.9 = 9       bad 1                            lr 1
//  e3 9.2: bad 2                                                    lr 1
//  e4 9.1: bad 3 > 2 -> lr 0.5, cooldown 1, bad 0                   lr 0.5
//  e5 8:   8 < 9: best 8, bad 0; cooling: cooldown 0                lr 0.5
//  e6–e8 8: bad 1, 2, 3 -> lr 0.25, cooldown 1, bad 0               lr 0.5 0.5 0.25
//  e9 8:   bad 1, but cooling: cooldown 0, bad 0                    lr 0.25
//  e10–e12 8: bad 1, 2, 3 -> max(0.125, 0.2) = 0.2                  lr 0.25 0.25 0.2
//  e13 1:  1 < 7.2: best 1; cooling ends                            lr 0.2
//  e14–e16 1: bad 1, 2, 3 -> max(0.1, 0.2) = 0.2, no change (≤ eps) lr 0.2
//  e17 NaN: never better: bad 1 (after the reset of e16)            lr 0.2
const series = [10, 9.5, 9.2, 9.1, 8, 8, 8, 8, 8, 8, 8, 8, 1, 1, 1, 1, NaN];
const plateauOpts: ReduceLROnPlateauOptions = { patience: 2, cooldown: 1, threshold: 0.1, factor: 0.5, minLr: 0.2 };
const plateauWant = [1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2];

// mode 'max' with an absolute threshold (e.g. a validation Dice), patience 1, factor 0.1, lr 0.01:
//  e1 .5 best .5 | e2 .505 not > .51: bad 1 | e3 .52 > .51: best .52 | e4 .52 bad 1 | e5 .5 bad 2 -> lr 0.001
//  e6 .9 best | e7 .9 bad 1 | e8 .9 bad 2 -> lr 1e-4 (0.001·0.1)
const maxSeries = [0.5, 0.505, 0.52, 0.52, 0.5, 0.9, 0.9, 0.9];
const maxOpts: ReduceLROnPlateauOptions = { mode: 'max', thresholdMode: 'abs', threshold: 0.01, patience: 1 };
const maxWant = [0.01, 0.01, 0.01, 0.01, 0.01 * 0.1, 0.001, 0.001, 0.01 * 0.1 * 0.1];

describe('StepLR', () => {
  it('divides the lr by 10 every 10 epochs (the paper), by repeated multiplication as PyTorch', () => {
    const lrs = runStep(0.01, 35);
    const want: number[] = [];
    let lr = 0.01;
    for (let e = 1; e <= 35; e++) {
      if (e % 10 === 0) lr *= 0.1;
      want.push(lr);
    }
    expect(lrs).toEqual(want);
    expect(lrs.slice(0, 9).every((v) => v === 0.01)).toBe(true);
    expect(lrs[9]).toBeCloseTo(1e-3, 15);
    expect(lrs[29]).toBeCloseTo(1e-5, 17);
  });
  it('other step sizes and gammas; construction does not change the lr', () => {
    const o = opt(1);
    const s = new StepLR(o, { stepSize: 3, gamma: 0.5 });
    expect(o.lr).toBe(1);
    expect(s.getLastLr()).toBe(1);
    expect(runStep(1, 7, { stepSize: 3, gamma: 0.5 })).toEqual([1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]);
  });
  it('state dict round trip (through JSON) continues the same sequence', () => {
    const full = runStep(0.01, 25, { stepSize: 4, gamma: 0.3 });
    const o = opt(0.01);
    const s = new StepLR(o, { stepSize: 4, gamma: 0.3 });
    for (let e = 0; e < 11; e++) s.step();
    const saved = JSON.parse(JSON.stringify(s.stateDict()));
    const lrSaved = o.lr; // restored by the optimizer's state dict in real use
    const o2 = opt(0.01);
    const s2 = new StepLR(o2, { stepSize: 4, gamma: 0.3 });
    s2.loadStateDict(saved);
    o2.lr = lrSaved;
    const rest: number[] = [];
    for (let e = 11; e < 25; e++) {
      s2.step();
      rest.push(o2.lr);
    }
    expect(rest).toEqual(full.slice(11));
    expect(s2.lastEpoch).toBe(25);
    expect(() => new StepLR(opt(1), { stepSize: 5 }).loadStateDict(saved)).toThrow(/StepLR: loadStateDict: saved stepSize 4/);
  });
  it('rejects bad options', () => {
    expect(() => new StepLR(opt(1), { stepSize: 0 })).toThrow("StepLR: argument 'stepSize' must be an integer >= 1, got 0");
    expect(() => new StepLR(opt(1), { gamma: -1 })).toThrow(/StepLR: argument 'gamma' must be a finite number >= 0/);
  });
});

describe('ReduceLROnPlateau', () => {
  it('crafted min/rel series with patience, cooldown, minLr, eps and a NaN (hand computation)', () => {
    expect(runPlateau(1, series, plateauOpts)).toEqual(plateauWant);
  });
  it('crafted max/abs series', () => {
    expect(runPlateau(0.01, maxSeries, maxOpts)).toEqual(maxWant);
  });
  it('defaults: patience 10, factor 0.1 -> the lr drops at the 11th epoch without improvement', () => {
    const lrs = runPlateau(0.1, [1, ...new Array(12).fill(1)], {});
    expect(lrs.slice(0, 11).every((v) => v === 0.1)).toBe(true);
    expect(lrs[11]).toBe(0.1 * 0.1);
    expect(lrs[12]).toBe(0.1 * 0.1);
  });
  it('state dict round trip (through JSON, with best = Infinity before the first step)', () => {
    const o0 = opt(1);
    const s0 = new ReduceLROnPlateau(o0, plateauOpts);
    const fresh = JSON.parse(JSON.stringify(s0.stateDict()));
    expect(fresh.best).toBe('Infinity');
    for (let cut = 0; cut <= series.length; cut += 3) {
      const o = opt(1);
      const s = new ReduceLROnPlateau(o, plateauOpts);
      series.slice(0, cut).forEach((m) => s.step(m));
      const saved = JSON.parse(JSON.stringify(s.stateDict()));
      const o2 = opt(o.lr);
      const s2 = new ReduceLROnPlateau(o2, plateauOpts);
      s2.loadStateDict(saved);
      const rest = series.slice(cut).map((m) => {
        s2.step(m);
        return o2.lr;
      });
      expect(rest, `cut at ${cut}`).toEqual(plateauWant.slice(cut));
    }
    expect(() => new ReduceLROnPlateau(opt(1), { ...plateauOpts, patience: 3 }).loadStateDict(fresh)).toThrow(
      /ReduceLROnPlateau: loadStateDict: saved patience 2 differs from this scheduler's 3/,
    );
    expect(() => new ReduceLROnPlateau(opt(1)).loadStateDict({ type: 'StepLR' } as never)).toThrow(/expected a state dict of type 'ReduceLROnPlateau'/);
  });
  it('rejects bad options', () => {
    expect(() => new ReduceLROnPlateau(opt(1), { factor: 1 })).toThrow("ReduceLROnPlateau: argument 'factor' must be a number in [0, 1), got 1");
    expect(() => new ReduceLROnPlateau(opt(1), { mode: 'up' as never })).toThrow(/argument 'mode' must be 'min' or 'max'/);
    expect(() => new ReduceLROnPlateau(opt(1), { patience: 1.5 })).toThrow(/argument 'patience' must be an integer >= 0/);
    expect(() => new ReduceLROnPlateau(opt(1), { thresholdMode: 'x' as never })).toThrow(/argument 'thresholdMode'/);
  });
});

describe.skipIf(!hasTorch)('schedulers against torch.optim.lr_scheduler (PyTorch at /usr/bin/python3)', () => {
  it('same lr sequences, bit for bit', () => {
    const cases = {
      step: { lr: 0.01, stepSize: 10, gamma: 0.1, epochs: 35 },
      step2: { lr: 0.05, stepSize: 3, gamma: 0.7, epochs: 20 },
      plateau: { lr: 1, metrics: series.map((v) => (Number.isNaN(v) ? 'nan' : v)), kw: { patience: 2, cooldown: 1, threshold: 0.1, factor: 0.5, min_lr: 0.2 } },
      plateauMax: { lr: 0.01, metrics: maxSeries, kw: { mode: 'max', threshold_mode: 'abs', threshold: 0.01, patience: 1 } },
    };
    const code = `
import json, sys, warnings
warnings.simplefilter("ignore")
import torch
from torch.optim.lr_scheduler import StepLR, ReduceLROnPlateau
c = json.load(sys.stdin)
out = {}
for name in ("step", "step2"):
    a = c[name]
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=a["lr"])
    s = StepLR(opt, step_size=a["stepSize"], gamma=a["gamma"])
    lrs = []
    for e in range(a["epochs"]):
        opt.step()
        s.step()
        lrs.append(opt.param_groups[0]["lr"])
    out[name] = lrs
for name in ("plateau", "plateauMax"):
    a = c[name]
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=a["lr"])
    s = ReduceLROnPlateau(opt, **a["kw"])
    lrs = []
    for m in a["metrics"]:
        s.step(float(m))
        lrs.append(opt.param_groups[0]["lr"])
    out[name] = lrs
print(json.dumps(out))`;
    const res = spawnSync(PY, ['-c', code], { input: JSON.stringify(cases), encoding: 'utf8' });
    expect(res.status, res.stderr).toBe(0);
    const ref = JSON.parse(res.stdout) as Record<string, number[]>;
    expect(runStep(0.01, 35)).toEqual(ref.step);
    expect(runStep(0.05, 20, { stepSize: 3, gamma: 0.7 })).toEqual(ref.step2);
    expect(runPlateau(1, series, plateauOpts)).toEqual(ref.plateau);
    expect(runPlateau(0.01, maxSeries, maxOpts)).toEqual(ref.plateauMax);
  });
});
