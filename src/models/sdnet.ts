// SD-Net (Roy et al., ISBI 2017): encoder block Conv k×k (k = 7) → BN → ReLU; decoder block
// max-unpool with the encoder's pooling indices (output size from the skip tensor), concat(skip,
// unpooled), Conv k×k 2F→F → BN → ReLU; bottleneck one Conv → BN → ReLU.
//
// Parameter count, 1 channel in, 28 classes, F = 64, k = 7, no SE:
//   encode1     conv 1→64: 49·64 + 64 = 3,200; BN 128 → 3,328
//   encode2..4  3 × (49·4096 + 64 + 128) = 3 × 200,896 = 602,688
//   bottleneck  200,896
//   decode1..4  4 × (49·8192 + 64 + 128) = 4 × 401,600 = 1,606,400
//   classifier  64·28 + 28 = 1,820
//   total       2,415,132 (PAPER-NOTES: ≈ 2.4e6)
import { BatchNorm2d } from '../nn/norm.js';
import { Conv2d } from '../nn/conv.js';
import { maxUnpool2d } from '../ops/pool.js';
import { concat } from '../ops/shape.js';
import type { Tensor } from '../tensor.js';
import { Block, FCNN } from './fcnn.js';
import { resolveOptions, type ModelConfig, type ModelOptions } from './options.js';

/** Unpools x to the skip's size with the skip's pooling indices. */
export function unpoolTo(x: Tensor, skip: Tensor, indices: Tensor): Tensor {
  return maxUnpool2d(x, indices, [skip.shape[1]!, skip.shape[2]!]);
}

/** [skip, unpooled] concatenated along channels. */
export function unpoolConcat(x: Tensor, skip: Tensor, indices: Tensor): Tensor {
  return concat([skip, unpoolTo(x, skip, indices)]);
}

export class SDNetBlock extends Block {
  private readonly decoder: boolean;
  private readonly conv1: Conv2d;
  private readonly bn1: BatchNorm2d;

  constructor(inChannels: number, cfg: ModelConfig, kind: 'encoder' | 'bottleneck' | 'decoder') {
    super();
    const F = cfg.filters;
    this.decoder = kind === 'decoder';
    this.conv1 = this.module('conv1', new Conv2d(this.decoder ? 2 * F : inChannels, F, cfg.kernel, { padding: (cfg.kernel - 1) / 2 }));
    this.bn1 = this.module('bn1', new BatchNorm2d(F));
    this.addTail(F, cfg, kind !== 'bottleneck');
  }

  forward(x: Tensor, skip?: Tensor, indices?: Tensor): Tensor {
    const h0 = this.decoder ? unpoolConcat(x, skip!, indices!) : x;
    return this.normActTail(this.bn1, this.conv1.forward(h0), 'relu');
  }
}

export class SDNet extends FCNN {
  constructor(opts: ModelOptions) {
    const cfg = resolveOptions('sdnet', opts);
    super('sdnet', cfg);
    const F = cfg.filters;
    this.build(
      [0, 1, 2, 3].map((i) => new SDNetBlock(i === 0 ? cfg.inChannels : F, cfg, 'encoder')),
      new SDNetBlock(F, cfg, 'bottleneck'),
      [0, 1, 2, 3].map(() => new SDNetBlock(F, cfg, 'decoder')),
    );
  }
}
