// Learning-rate schedules with the semantics of torch.optim.lr_scheduler (PyTorch 1.13):
// StepLR (the paper: lr ÷ 10 every 10 epochs) and ReduceLROnPlateau. Both set optimizer.lr in
// place, are stepped once per epoch, and have JSON-able state dicts. Loading a scheduler's state
// does not touch the optimizer's lr: that is restored by the optimizer's own state dict, as in
// PyTorch.
import { OpArgumentError } from '../errors.js';

/** What a scheduler drives: anything with a settable learning rate (every Optimizer). */
export interface HasLr {
  lr: number;
}

function check(op: string, arg: string, v: unknown, ok: (x: number) => boolean, want: string): number {
  if (typeof v !== 'number' || !ok(v)) throw new OpArgumentError(op, `argument '${arg}' must be ${want}, got ${String(v)}`);
  return v;
}
const isNonNegInt = (x: number): boolean => Number.isInteger(x) && x >= 0;
const isNonNeg = (x: number): boolean => Number.isFinite(x) && x >= 0;

/** ±Infinity and NaN as strings, so state dicts survive JSON.stringify. */
function toJsonNumber(v: number): number | string {
  return Number.isFinite(v) ? v : String(v);
}
function fromJsonNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v === 'Infinity' || v === '-Infinity' || v === 'NaN') return Number(v);
  throw new Error(`not a number in a scheduler state dict: ${JSON.stringify(v)}`);
}

function checkType(op: string, sd: { type?: unknown }): void {
  if (!sd || sd.type !== op) throw new OpArgumentError(op, `loadStateDict: expected a state dict of type '${op}', got ${JSON.stringify(sd?.type)}`);
}

export interface StepLROptions {
  /** epochs between decays; default 10 */
  stepSize?: number;
  /** multiplicative decay; default 0.1 */
  gamma?: number;
}

export interface StepLRState {
  type: 'StepLR';
  stepSize: number;
  gamma: number;
  baseLr: number;
  lastEpoch: number;
  lastLr: number;
}

/**
 * torch.optim.lr_scheduler.StepLR: after the k-th call of step() (k = 1, 2, ...), the lr is
 * multiplied by gamma when k is a multiple of stepSize, i.e. lr = baseLr · gamma^⌊k/stepSize⌋,
 * computed by repeated multiplication as PyTorch's step() does (bit-identical lrs). Call step()
 * once per epoch, after that epoch's optimizer steps. Construction leaves the lr unchanged
 * (PyTorch's initial step: lastEpoch 0).
 */
export class StepLR {
  readonly stepSize: number;
  readonly gamma: number;
  baseLr: number;
  lastEpoch = 0;
  private lastLr: number;

  constructor(
    readonly optimizer: HasLr,
    opts: StepLROptions = {},
  ) {
    this.stepSize = check('StepLR', 'stepSize', opts.stepSize ?? 10, (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1');
    this.gamma = check('StepLR', 'gamma', opts.gamma ?? 0.1, isNonNeg, 'a finite number >= 0');
    this.baseLr = optimizer.lr;
    this.lastLr = optimizer.lr;
  }

  /** Ends an epoch. */
  step(): void {
    this.lastEpoch++;
    if (this.lastEpoch % this.stepSize === 0) this.optimizer.lr = this.optimizer.lr * this.gamma;
    this.lastLr = this.optimizer.lr;
  }

  /** The lr set by the last step (PyTorch's get_last_lr()[0]). */
  getLastLr(): number {
    return this.lastLr;
  }

  stateDict(): StepLRState {
    return { type: 'StepLR', stepSize: this.stepSize, gamma: this.gamma, baseLr: this.baseLr, lastEpoch: this.lastEpoch, lastLr: this.lastLr };
  }

  /** Restores the epoch counter; stepSize and gamma must match the constructor's. */
  loadStateDict(sd: StepLRState): void {
    checkType('StepLR', sd);
    if (sd.stepSize !== this.stepSize || sd.gamma !== this.gamma) {
      throw new OpArgumentError('StepLR', `loadStateDict: saved stepSize ${sd.stepSize} / gamma ${sd.gamma} differ from this scheduler's ${this.stepSize} / ${this.gamma}`);
    }
    this.baseLr = check('StepLR', 'baseLr', sd.baseLr, isNonNeg, 'a finite number >= 0');
    this.lastEpoch = check('StepLR', 'lastEpoch', sd.lastEpoch, isNonNegInt, 'an integer >= 0');
    this.lastLr = check('StepLR', 'lastLr', sd.lastLr, isNonNeg, 'a finite number >= 0');
  }
}

export interface ReduceLROnPlateauOptions {
  /** 'min': the metric should decrease (a loss); 'max': increase (a Dice). Default 'min'. */
  mode?: 'min' | 'max';
  /** lr ← max(lr · factor, minLr); must be < 1. Default 0.1. */
  factor?: number;
  /** bad epochs tolerated; the lr drops at the (patience+1)-th consecutive one. Default 10. */
  patience?: number;
  /** improvement needed to count as better. Default 1e-4. */
  threshold?: number;
  /** 'rel': better than best·(1 ∓ threshold); 'abs': best ∓ threshold. Default 'rel'. */
  thresholdMode?: 'rel' | 'abs';
  /** epochs after a reduction during which bad epochs are not counted. Default 0. */
  cooldown?: number;
  /** lower bound of the lr. Default 0. */
  minLr?: number;
  /** a reduction smaller than this is skipped. Default 1e-8. */
  eps?: number;
}

export interface ReduceLROnPlateauState {
  type: 'ReduceLROnPlateau';
  mode: 'min' | 'max';
  factor: number;
  patience: number;
  threshold: number;
  thresholdMode: 'rel' | 'abs';
  cooldown: number;
  minLr: number;
  eps: number;
  /** best metric so far; ±Infinity/NaN as strings */
  best: number | string;
  numBadEpochs: number;
  cooldownCounter: number;
  lastEpoch: number;
  lastLr: number | null;
}

/**
 * torch.optim.lr_scheduler.ReduceLROnPlateau. step(metric) once per epoch:
 *   1. if metric is better than best (see thresholdMode), best ← metric and bad ← 0, else bad += 1
 *      (a NaN metric is never better);
 *   2. while cooling down (cooldownCounter > 0): cooldownCounter −= 1 and bad ← 0;
 *   3. if bad > patience: lr ← max(lr·factor, minLr) unless that changes it by ≤ eps,
 *      cooldownCounter ← cooldown, bad ← 0.
 * 'rel' in mode 'min' means metric < best·(1 − threshold) (for negative metrics this is PyTorch's
 * rule too, odd as it is); 'max': metric > best·(1 + threshold).
 */
export class ReduceLROnPlateau {
  readonly mode: 'min' | 'max';
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: 'rel' | 'abs';
  readonly cooldown: number;
  readonly minLr: number;
  readonly eps: number;
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;
  private lastLr: number | null = null;

  constructor(
    readonly optimizer: HasLr,
    opts: ReduceLROnPlateauOptions = {},
  ) {
    const OP = 'ReduceLROnPlateau';
    const mode = opts.mode ?? 'min';
    if (mode !== 'min' && mode !== 'max') throw new OpArgumentError(OP, `argument 'mode' must be 'min' or 'max', got ${String(mode)}`);
    const tm = opts.thresholdMode ?? 'rel';
    if (tm !== 'rel' && tm !== 'abs') throw new OpArgumentError(OP, `argument 'thresholdMode' must be 'rel' or 'abs', got ${String(tm)}`);
    this.mode = mode;
    this.thresholdMode = tm;
    this.factor = check(OP, 'factor', opts.factor ?? 0.1, (x) => Number.isFinite(x) && x >= 0 && x < 1, 'a number in [0, 1)');
    this.patience = check(OP, 'patience', opts.patience ?? 10, isNonNegInt, 'an integer >= 0');
    this.threshold = check(OP, 'threshold', opts.threshold ?? 1e-4, isNonNeg, 'a finite number >= 0');
    this.cooldown = check(OP, 'cooldown', opts.cooldown ?? 0, isNonNegInt, 'an integer >= 0');
    this.minLr = check(OP, 'minLr', opts.minLr ?? 0, isNonNeg, 'a finite number >= 0');
    this.eps = check(OP, 'eps', opts.eps ?? 1e-8, isNonNeg, 'a finite number >= 0');
    this.best = this.worst();
  }

  private worst(): number {
    return this.mode === 'min' ? Infinity : -Infinity;
  }

  isBetter(a: number, best: number): boolean {
    if (this.mode === 'min') return this.thresholdMode === 'rel' ? a < best * (1 - this.threshold) : a < best - this.threshold;
    return this.thresholdMode === 'rel' ? a > best * (this.threshold + 1) : a > best + this.threshold;
  }

  get inCooldown(): boolean {
    return this.cooldownCounter > 0;
  }

  /** Ends an epoch with its metric (e.g. the validation loss). */
  step(metric: number): void {
    if (typeof metric !== 'number') throw new OpArgumentError('ReduceLROnPlateau', `argument 'metric' must be a number, got ${typeof metric}`);
    this.lastEpoch++;
    if (this.isBetter(metric, this.best)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs++;
    }
    if (this.inCooldown) {
      this.cooldownCounter--;
      this.numBadEpochs = 0; // bad epochs during cooldown do not count
    }
    if (this.numBadEpochs > this.patience) {
      const old = this.optimizer.lr;
      const next = Math.max(old * this.factor, this.minLr);
      if (old - next > this.eps) this.optimizer.lr = next;
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = this.optimizer.lr;
  }

  /** The lr after the last step (PyTorch's _last_lr[0]); the optimizer's lr before any step. */
  getLastLr(): number {
    return this.lastLr ?? this.optimizer.lr;
  }

  /** Forgets the best metric and the counters (PyTorch's _reset). */
  reset(): void {
    this.best = this.worst();
    this.cooldownCounter = 0;
    this.numBadEpochs = 0;
  }

  stateDict(): ReduceLROnPlateauState {
    return {
      type: 'ReduceLROnPlateau',
      mode: this.mode,
      factor: this.factor,
      patience: this.patience,
      threshold: this.threshold,
      thresholdMode: this.thresholdMode,
      cooldown: this.cooldown,
      minLr: this.minLr,
      eps: this.eps,
      best: toJsonNumber(this.best),
      numBadEpochs: this.numBadEpochs,
      cooldownCounter: this.cooldownCounter,
      lastEpoch: this.lastEpoch,
      lastLr: this.lastLr,
    };
  }

  /** Restores the counters and best metric; the options must match the constructor's. */
  loadStateDict(sd: ReduceLROnPlateauState): void {
    const OP = 'ReduceLROnPlateau';
    checkType(OP, sd);
    const opts = ['mode', 'factor', 'patience', 'threshold', 'thresholdMode', 'cooldown', 'minLr', 'eps'] as const;
    for (const k of opts) {
      if (sd[k] !== this[k]) throw new OpArgumentError(OP, `loadStateDict: saved ${k} ${JSON.stringify(sd[k])} differs from this scheduler's ${JSON.stringify(this[k])}`);
    }
    const best = fromJsonNumber(sd.best);
    this.numBadEpochs = check(OP, 'numBadEpochs', sd.numBadEpochs, isNonNegInt, 'an integer >= 0');
    this.cooldownCounter = check(OP, 'cooldownCounter', sd.cooldownCounter, isNonNegInt, 'an integer >= 0');
    this.lastEpoch = check(OP, 'lastEpoch', sd.lastEpoch, isNonNegInt, 'an integer >= 0');
    this.lastLr = sd.lastLr === null ? null : check(OP, 'lastLr', sd.lastLr, isNonNeg, 'a finite number >= 0');
    this.best = best;
  }
}
