// Squeeze & excitation modules (Roy, Navab, Wachinger, MICCAI 2018), parameter names as in the
// authors' PyTorch layers: cSE has fc1 (C -> C/r) and fc2 (C/r -> C); sSE has conv (1x1, C -> 1).
// impl 'fused' runs the native fused kernel; 'composed' builds the same block from generic ops
// (pool, linear, relu, 1x1 conv, sigmoid, multiply, add/max) and is the reference.
import { OpArgumentError } from '../errors.js';
import { conv2d } from '../ops/conv.js';
import { add, maximum, mul, relu, sigmoid } from '../ops/eltwise.js';
import { linear } from '../ops/linear.js';
import { globalAvgPool } from '../ops/pool.js';
import type { SeSpec } from '../ops/norm_act_se.js';
import { squeezeExcite, type SeAggregation, type SeBlockKind, type SeParams } from '../ops/se.js';
import { reshape } from '../ops/shape.js';
import { Tensor } from '../tensor.js';
import { defaultUniform } from './init.js';
import { Module } from './module.js';

export type SeImpl = 'fused' | 'composed';

export interface SeOptions {
  /** reduction ratio r of the channel MLP (default 2) */
  reduction?: number;
  /** biases in the channel MLP (default true; false reproduces the paper's parameter count) */
  bias?: boolean;
  /** scSE aggregation (default 'add', the MICCAI paper; 'max' is the authors' code / journal) */
  aggregation?: SeAggregation;
  impl?: SeImpl;
}

export abstract class SeBase extends Module {
  impl: SeImpl;
  constructor(
    readonly kind: SeBlockKind,
    readonly channels: number,
    opts: SeOptions,
  ) {
    super();
    if (!Number.isInteger(channels) || channels < 1) throw new OpArgumentError(kind, `argument 'channels' must be a positive integer, got ${channels}`);
    this.impl = opts.impl ?? 'fused';
    if (this.impl !== 'fused' && this.impl !== 'composed') throw new OpArgumentError(kind, `argument 'impl' must be 'fused' or 'composed', got '${String(this.impl)}'`);
  }

  forward(x: Tensor): Tensor {
    return this.impl === 'fused' ? squeezeExcite(x, this.kind, this.seParams(), this.aggregation()) : this.composed(x);
  }

  protected aggregation(): SeAggregation {
    return 'add';
  }

  /** The block as ops/norm_act_se.ts takes it, for fusing with the batch norm before it; null for impl 'composed'. */
  fusedSpec(): SeSpec | null {
    return this.impl === 'fused' ? { kind: this.kind, params: this.seParams(), aggregation: this.aggregation() } : null;
  }

  abstract seParams(): SeParams;
  protected abstract composed(x: Tensor): Tensor;
}

/** cSE: x · σ(fc2(relu(fc1(mean_hw x)))) — recalibrates channels. */
export class ChannelSE extends SeBase {
  readonly reduced: number;
  constructor(channels: number, opts: SeOptions = {}) {
    super('cse', channels, opts);
    const r = opts.reduction ?? 2;
    if (!Number.isInteger(r) || r < 1 || r > channels) throw new OpArgumentError('cse', `argument 'reduction' must be an integer in [1, ${channels}], got ${r}`);
    this.reduced = Math.floor(channels / r);
    const bias = opts.bias ?? true;
    this.param('fc1.weight', defaultUniform([this.reduced, channels], channels));
    this.param('fc1.bias', bias ? defaultUniform([this.reduced], channels) : null);
    this.param('fc2.weight', defaultUniform([channels, this.reduced], this.reduced));
    this.param('fc2.bias', bias ? defaultUniform([channels], this.reduced) : null);
  }

  seParams(): SeParams {
    return { fc1Weight: this.p('fc1.weight'), fc1Bias: this.maybeP('fc1.bias'), fc2Weight: this.p('fc2.weight'), fc2Bias: this.maybeP('fc2.bias') };
  }

  /** The channel excitation σ(ẑ) as [N,1,1,C], from generic ops. */
  excitation(x: Tensor): Tensor {
    const [N, , , C] = x.shape as [number, number, number, number];
    const z = reshape(globalAvgPool(x), [N, C]);
    const h = relu(linear(z, this.p('fc1.weight'), this.maybeP('fc1.bias')));
    return reshape(sigmoid(linear(h, this.p('fc2.weight'), this.maybeP('fc2.bias'))), [N, 1, 1, C]);
  }

  protected composed(x: Tensor): Tensor {
    return mul(x, this.excitation(x));
  }
}

/** sSE: x · σ(conv1x1(x)) — recalibrates pixels. */
export class SpatialSE extends SeBase {
  constructor(channels: number, opts: SeOptions = {}) {
    super('sse', channels, opts);
    this.param('conv.weight', defaultUniform([1, 1, 1, channels], channels));
    this.param('conv.bias', defaultUniform([1], channels));
  }

  seParams(): SeParams {
    return { convWeight: this.p('conv.weight'), convBias: this.p('conv.bias') };
  }

  /** The spatial excitation σ(q) as [N,H,W,1], from generic ops. */
  excitation(x: Tensor): Tensor {
    return sigmoid(conv2d(x, this.p('conv.weight'), this.p('conv.bias')));
  }

  protected composed(x: Tensor): Tensor {
    return mul(x, this.excitation(x));
  }
}

/** scSE: agg(cSE(x), sSE(x)) with agg = add (paper) | max | mul. Parameters under cSE.* and sSE.*. */
export class ChannelSpatialSE extends SeBase {
  readonly cSE: ChannelSE;
  readonly sSE: SpatialSE;
  private readonly agg: SeAggregation;

  constructor(channels: number, opts: SeOptions = {}) {
    super('scse', channels, opts);
    this.agg = opts.aggregation ?? 'add';
    if (!['add', 'max', 'mul'].includes(this.agg)) throw new OpArgumentError('scse', `argument 'aggregation' must be add|max|mul, got '${String(this.agg)}'`);
    this.cSE = this.module('cSE', new ChannelSE(channels, opts));
    this.sSE = this.module('sSE', new SpatialSE(channels, opts));
  }

  protected override aggregation(): SeAggregation {
    return this.agg;
  }

  seParams(): SeParams {
    return { ...this.cSE.seParams(), ...this.sSE.seParams() };
  }

  protected composed(x: Tensor): Tensor {
    const a = mul(x, this.cSE.excitation(x));
    const b = mul(x, this.sSE.excitation(x));
    if (this.agg === 'add') return add(a, b);
    if (this.agg === 'max') return maximum(a, b);
    return mul(a, b);
  }
}

export type SeKind = 'none' | SeBlockKind;

/** Builds the SE block of a kind ('none' gives null). */
export function createSe(kind: SeKind, channels: number, opts: SeOptions = {}): SeBase | null {
  if (kind === 'none') return null;
  if (kind === 'cse') return new ChannelSE(channels, opts);
  if (kind === 'sse') return new SpatialSE(channels, opts);
  if (kind === 'scse') return new ChannelSpatialSE(channels, opts);
  throw new OpArgumentError('createSe', `argument 'kind' must be none|cse|sse|scse, got '${String(kind)}'`);
}
