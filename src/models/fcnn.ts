// The skeleton the three networks share: 4 encoder blocks, each followed by 2×2 max pooling
// (indices kept), a bottleneck, 4 decoder blocks (decode1 is the deepest: it takes encode4's skip
// and pooling indices), and a 1×1 classifier. Blocks end with optional Dropout2d and then the
// optional SE block, so the skip connection carries the recalibrated features.
import { tidy } from '../autograd/scope.js';
import { OpArgumentError, shapeStr } from '../errors.js';
import { Conv2d } from '../nn/conv.js';
import { Module } from '../nn/module.js';
import { MaxPool2d } from '../nn/pool.js';
import type { BatchNorm2d } from '../nn/norm.js';
import { createSe, type SeBase } from '../nn/se.js';
import type { NormActivation } from '../ops/norm_act.js';
import { dropout2d } from '../ops/random.js';
import { Tensor } from '../tensor.js';
import type { ModelConfig, ModelName } from './options.js';

/** Pooling steps: H and W must be divisible by 2^DEPTH. */
export const DEPTH = 4;

/** A block's end: Dropout2d (training only, p > 0) and then its SE module (registered as `se`). */
export abstract class Block extends Module {
  private seBlock: SeBase | null = null;
  private dropoutP = 0;

  /** Call last in the constructor, so `se.*` follows the block's own names. */
  protected addTail(channels: number, cfg: ModelConfig, withSe: boolean): void {
    this.dropoutP = cfg.dropout;
    const se = withSe ? createSe(cfg.se, channels, cfg.seOptions) : null;
    if (se) this.seBlock = this.module('se', se);
  }

  protected tail(h: Tensor): Tensor {
    if (this.dropoutP > 0) h = dropout2d(h, this.dropoutP, this.training);
    return this.seBlock ? this.seBlock.forward(h) : h;
  }

  /**
   * tail(bn.forwardAct(x, activation)) for blocks that end with BN → activation: with a fused SE
   * block and no dropout to apply (none, or eval mode), one op that does not store the
   * activations (ops/norm_act_se.ts).
   */
  protected normActTail(bn: BatchNorm2d, x: Tensor, activation: NormActivation): Tensor {
    const spec = this.dropoutP > 0 && this.training ? null : (this.seBlock?.fusedSpec() ?? null);
    return spec ? bn.forwardActSe(x, activation, spec) : this.tail(bn.forwardAct(x, activation));
  }

  /** Encoder/bottleneck: forward(x). Decoder: forward(x, skip, indices) with indices of skip's pooling. */
  abstract override forward(x: Tensor, skip?: Tensor, indices?: Tensor): Tensor;
}

export abstract class FCNN extends Module {
  readonly config: Readonly<ModelConfig>;
  protected readonly encoders: Block[] = [];
  protected readonly decoders: Block[] = [];
  protected bottleneck!: Block;
  protected classifier!: Conv2d;
  private readonly pool = new MaxPool2d(2, 2);

  constructor(
    readonly name: ModelName,
    cfg: ModelConfig,
  ) {
    super();
    this.config = Object.freeze({ ...cfg, seOptions: Object.freeze({ ...cfg.seOptions }) });
  }

  /** Registers the blocks under PyTorch-style names: encode1..4, bottleneck, decode1..4, classifier. */
  protected build(encoders: Block[], bottleneck: Block, decoders: Block[]): void {
    encoders.forEach((b, i) => this.encoders.push(this.module(`encode${i + 1}`, b)));
    this.bottleneck = this.module('bottleneck', bottleneck);
    decoders.forEach((b, i) => this.decoders.push(this.module(`decode${i + 1}`, b)));
    this.classifier = this.module('classifier', new Conv2d(this.config.filters, this.config.numClasses, 1));
  }

  /** x [N, H, W, inChannels] with H, W divisible by 16 -> logits [N, H, W, numClasses]. */
  forward(x: Tensor): Tensor {
    this.checkInput(x);
    // Intermediates die with the scope (autograd keeps its own references to what it saved).
    return tidy(() => {
      const skips: Tensor[] = [];
      const indices: Tensor[] = [];
      let h = x;
      for (const enc of this.encoders) {
        const s = tidy(() => enc.forward(h));
        const p = this.pool.forward(s);
        skips.push(s);
        indices.push(p.indices);
        h = p.y;
      }
      h = tidy(() => this.bottleneck.forward(h));
      this.decoders.forEach((dec, i) => {
        const k = DEPTH - 1 - i;
        const below = h;
        h = tidy(() => dec.forward(below, skips[k]!, indices[k]!));
      });
      return this.classifier.forward(h);
    });
  }

  private checkInput(x: unknown): asserts x is Tensor {
    const { name } = this;
    const want = `[N, H, W, ${this.config.inChannels}] (NHWC, H and W divisible by ${2 ** DEPTH})`;
    if (!(x instanceof Tensor)) throw new OpArgumentError(name, `input must be a Tensor ${want}, got ${x === null ? 'null' : typeof x}`);
    if (x.disposed) throw new OpArgumentError(name, `input ${shapeStr(x.shape)} has been disposed`);
    if (x.dtype !== 'float32') throw new OpArgumentError(name, `input must be float32, got ${x.dtype}`);
    const device = this.device;
    if (x.device !== device) throw new OpArgumentError(name, `input is on ${x.device}, the model on ${device}: move one of them with .to('${device}')`);
    if (x.rank !== 4) throw new OpArgumentError(name, `input expected rank 4 ${want}, got shape ${shapeStr(x.shape)}`);
    const [N, H, W, C] = x.shape as [number, number, number, number];
    if (C !== this.config.inChannels) {
      throw new OpArgumentError(name, `input ${shapeStr(x.shape)} has ${C} channels, the model was built with inChannels = ${this.config.inChannels} (expected ${want})`);
    }
    const m = 2 ** DEPTH;
    if (N < 1 || H < m || W < m || H % m !== 0 || W % m !== 0) {
      throw new OpArgumentError(
        name,
        `input ${shapeStr(x.shape)} has H = ${H}, W = ${W}: both must be positive multiples of ${m} (${DEPTH} poolings by 2), and N >= 1; pad or crop the images first`,
      );
    }
    if (this.training && N * (H / m) * (W / m) < 2) {
      throw new OpArgumentError(
        name,
        `input ${shapeStr(x.shape)} in training mode: the bottleneck's BatchNorm needs N·(H/${m})·(W/${m}) >= 2 values per channel; use a larger batch or image, or eval()`,
      );
    }
  }
}
