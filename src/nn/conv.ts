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

/**
 * What the two layers share: argument checks, the geometry options, and weight and bias drawn
 * from U(±1/√fanIn) (kaiming_uniform_(a=√5)), the weight first (the generator's order decides
 * the values). `transposed`: weight [inC, kH, kW, outC] and fanIn = outC·kH·kW; otherwise OHWI
 * and fanIn = inC·kH·kW. Exported only for the declaration files (src/nn/index.ts does not).
 */
export abstract class ConvLayer<O extends Conv2dOptions | ConvTranspose2dOptions> extends Module {
  readonly kernel: Pair;
  readonly opts: O;

  protected constructor(
    layer: string,
    readonly inChannels: number,
    readonly outChannels: number,
    kernel: number | Pair,
    opts: O & { bias?: boolean },
    transposed: boolean,
  ) {
    super();
    positive(layer, 'inChannels', inChannels);
    positive(layer, 'outChannels', outChannels);
    this.kernel = kernelPair(layer, kernel);
    const { bias = true, ...geometry } = opts;
    this.opts = geometry as O;
    const [kH, kW] = this.kernel;
    const fanIn = (transposed ? outChannels : inChannels) * kH * kW;
    this.param('weight', defaultUniform(transposed ? [inChannels, kH, kW, outChannels] : [outChannels, kH, kW, inChannels], fanIn));
    this.param('bias', bias ? defaultUniform([outChannels], fanIn) : null);
  }

  get weight(): Tensor {
    return this.p('weight');
  }

  get bias(): Tensor | null {
    return this.maybeP('bias');
  }
}

/** nn.Conv2d: weight and bias ~ U(±1/√fanIn), fanIn = inC·kH·kW (kaiming_uniform_(a=√5)). */
export class Conv2d extends ConvLayer<Conv2dOptions> {
  constructor(inChannels: number, outChannels: number, kernel: number | Pair, opts: Conv2dLayerOptions = {}) {
    super('Conv2d', inChannels, outChannels, kernel, opts, false);
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
export class ConvTranspose2d extends ConvLayer<ConvTranspose2dOptions> {
  constructor(inChannels: number, outChannels: number, kernel: number | Pair, opts: ConvTranspose2dLayerOptions = {}) {
    super('ConvTranspose2d', inChannels, outChannels, kernel, opts, true);
  }

  forward(x: Tensor): Tensor {
    return convTranspose2d(x, this.p('weight'), this.maybeP('bias'), this.opts);
  }
}
