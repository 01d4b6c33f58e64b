// FC-DenseNet as in QuickNAT (Roy et al., 2019). Dense block with input C (F = 64, k = 5):
//   o1 = Conv k×k (C → F)      (PReLU(BN(x)))
//   o2 = Conv k×k (C+F → F)    (PReLU(BN(concat(x, o1))))
//   o3 = Conv 1×1 (C+2F → F)   (PReLU(BN(concat(x, o1, o2))))
// The block outputs o3 (F channels). One PReLU (a single slope) per block, used three times.
// Encoders and the bottleneck are dense blocks; a decoder max-unpools with the skip's pooling
// indices, concatenates (skip, unpooled) and runs a dense block with C = 2F.
//
// Parameter count, 1 channel in, 28 classes, F = 64, k = 5, no SE. A dense block with input C:
//   BN(C) + BN(C+64) + BN(C+128) = 2C + 2(C+64) + 2(C+128); PReLU 1;
//   convs 25·64·C + 64 + 25·64·(C+64) + 64 + 64·(C+128) + 64
//   C = 1:   2 + 130 + 258 + 1 + 1,664 + 104,064 + 8,320     = 114,439
//   C = 64:  128 + 256 + 384 + 1 + 102,464 + 204,864 + 12,352 = 320,449
//   C = 128: 256 + 384 + 512 + 1 + 204,864 + 307,264 + 16,448 = 529,729
//   encoders 114,439 + 3 · 320,449 = 1,075,786; bottleneck 320,449; decoders 4 · 529,729 =
//   2,118,916; classifier 64·28 + 28 = 1,820; total 3,516,971 (PAPER-NOTES), which fixes the
//   single shared slope: one slope per use would add 2 per block (18 in all).
import { BatchNorm2d } from '../nn/norm.js';
import { Conv2d } from '../nn/conv.js';
import { PReLU } from '../nn/layers.js';
import type { Tensor } from '../tensor.js';
import { Block, FCNN } from './fcnn.js';
import { resolveOptions, type ModelConfig, type ModelOptions } from './options.js';
import { unpoolTo } from './sdnet.js';

export class DenseBlock extends Block {
  private readonly decoder: boolean;
  private readonly prelu: PReLU;
  private readonly bn1: BatchNorm2d;
  private readonly conv1: Conv2d;
  private readonly bn2: BatchNorm2d;
  private readonly conv2: Conv2d;
  private readonly bn3: BatchNorm2d;
  private readonly conv3: Conv2d;

  constructor(inChannels: number, cfg: ModelConfig, kind: 'encoder' | 'bottleneck' | 'decoder') {
    super();
    const F = cfg.filters;
    this.decoder = kind === 'decoder';
    const C = this.decoder ? 2 * F : inChannels;
    const pad = (cfg.kernel - 1) / 2;
    this.prelu = this.module('prelu', new PReLU(1, 0.25));
    this.bn1 = this.module('bn1', new BatchNorm2d(C));
    this.conv1 = this.module('conv1', new Conv2d(C, F, cfg.kernel, { padding: pad }));
    this.bn2 = this.module('bn2', new BatchNorm2d(C + F));
    this.conv2 = this.module('conv2', new Conv2d(C + F, F, cfg.kernel, { padding: pad }));
    this.bn3 = this.module('bn3', new BatchNorm2d(C + 2 * F));
    this.conv3 = this.module('conv3', new Conv2d(C + 2 * F, F, 1));
    this.addTail(F, cfg, kind !== 'bottleneck');
  }

  forward(x: Tensor, skip?: Tensor, indices?: Tensor): Tensor {
    // The block's input h = [skip, unpooled] (decoder) or x, kept as separate parts: the fused
    // BN + PReLU reads concatenations without anyone building them (ops/norm_act.ts).
    const h = this.decoder ? [skip!, unpoolTo(x, skip!, indices!)] : [x];
    const a = this.prelu.weight;
    const o1 = this.conv1.forward(this.bn1.forwardAct(h, 'prelu', a));
    const o2 = this.conv2.forward(this.bn2.forwardAct([...h, o1], 'prelu', a));
    const o3 = this.conv3.forward(this.bn3.forwardAct([...h, o1, o2], 'prelu', a));
    return this.tail(o3);
  }
}

/** QuickNAT's FC-DenseNet ('densenet'). */
export class DenseNet extends FCNN {
  constructor(opts: ModelOptions) {
    const cfg = resolveOptions('densenet', opts);
    super('densenet', cfg);
    const F = cfg.filters;
    this.build(
      [0, 1, 2, 3].map((i) => new DenseBlock(i === 0 ? cfg.inChannels : F, cfg, 'encoder')),
      new DenseBlock(F, cfg, 'bottleneck'),
      [0, 1, 2, 3].map(() => new DenseBlock(F, cfg, 'decoder')),
    );
  }
}
