// Convolution layers with PyTorch's names (weight, bias) and default initialisation, in our
// layouts: Conv2d weight OHWI [outC, kH, kW, inC]; ConvTranspose2d weight [inC, kH, kW, outC].
import { OpArgumentError } from '../errors.js';
import { conv2d, convTranspose2d, type Conv2dOptions, type ConvTranspose2dOptions } from '../ops/conv.js';
import type { Tensor } from '../tensor.js';
import { defaultUniform } from './init.js';
import { Module } from './module.js';

type Pair = [number, number];

export interface Conv2dLayerOptions extends Conv2dOptions {
  /** learnable bias (default true) */
  bias?: boolean;
}

export interface ConvTranspose2dLayerOptions extends ConvTranspose2dOptions {
  /** learnable bias (default true) */
  bias?: boolean;
}

function positive(layer: string, arg: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new OpArgumentError(layer, `argument '${arg}' must be a positive integer, got ${String(v)}`);
  return v;
}

function kernelPair(layer: string, k: number | Pair): Pair {
  const p = Array.isArray(k) ? k : [k, k];
  if (p.length !== 2) throw new OpArgumentError(layer, `argument 'kernel' must be a number or [kH, kW], got ${JSON.stringify(k)}`);
  return [positive(layer, 'kernel', p[0]), positive(layer, 'kernel', p[1])];
}

/** nn.Conv2d: weight and bias ~ U(±1/√fanIn), fanIn = inC·kH·kW (kaiming_uniform_(a=√5)). */
export class Conv2d extends Module {
  readonly kernel: Pair;
  readonly opts: Conv2dOptions;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernel: number | Pair,
    opts: Conv2dLayerOptions = {},
  ) {
    super();
    positive('Conv2d', 'inChannels', inChannels);
    positive('Conv2d', 'outChannels', outChannels);
    this.kernel = kernelPair('Conv2d', kernel);
    const { bias = true, ...geometry } = opts;
    this.opts = geometry;
    const fanIn = inChannels * this.kernel[0] * this.kernel[1];
    this.param('weight', defaultUniform([outChannels, this.kernel[0], this.kernel[1], inChannels], fanIn));
    this.param('bias', bias ? defaultUniform([outChannels], fanIn) : null);
  }

  get weight(): Tensor {
    return this.p('weight');
  }

  get bias(): Tensor | null {
    return this.maybeP('bias');
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.p('weight'), this.maybeP('bias'), this.opts);
  }
}

/**
 * nn.ConvTranspose2d. PyTorch stores its weight as [inC, outC, kH, kW] and its fan-in comes from
 * dim 1 (torch.nn.init._calculate_fan_in_and_fan_out): fanIn = outC·kH·kW, for the weight and
 * the bias alike. We store [inC, kH, kW, outC] and use that same fan-in.
 */
export class ConvTranspose2d extends Module {
  readonly kernel: Pair;
  readonly opts: ConvTranspose2dOptions;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernel: number | Pair,
    opts: ConvTranspose2dLayerOptions = {},
  ) {
    super();
    positive('ConvTranspose2d', 'inChannels', inChannels);
    positive('ConvTranspose2d', 'outChannels', outChannels);
    this.kernel = kernelPair('ConvTranspose2d', kernel);
    const { bias = true, ...geometry } = opts;
    this.opts = geometry;
    const fanIn = outChannels * this.kernel[0] * this.kernel[1];
    this.param('weight', defaultUniform([inChannels, this.kernel[0], this.kernel[1], outChannels], fanIn));
    this.param('bias', bias ? defaultUniform([outChannels], fanIn) : null);
  }

  get weight(): Tensor {
    return this.p('weight');
  }

  get bias(): Tensor | null {
    return this.maybeP('bias');
  }

  forward(x: Tensor): Tensor {
    return convTranspose2d(x, this.p('weight'), this.maybeP('bias'), this.opts);
  }
}
