// U-Net (Ronneberger et al.) as in the paper: encoder block 2 × (Conv k×k → BN → ReLU), decoder
// block = 2×2 stride-2 transposed conv (F→F) of the lower map, concat(skip, up), then 2 × (Conv →
// BN → ReLU) with the first conv 2F→F. Bottleneck = 2 × (Conv → BN → ReLU), F→F.
//
// Parameter count, 1 channel in, 28 classes, F = 64, k = 5, no SE (conv k×k Cin→Cout with bias:
// k²·Cin·Cout + Cout; BN: 2C):
//   encode1     conv 1→64: 25·64 + 64 = 1,664; conv 64→64: 25·4096 + 64 = 102,464; 2 BN: 256
//               = 104,384
//   encode2..4  3 × (2 × 102,464 + 256) = 3 × 205,184 = 615,552
//   bottleneck  205,184 (two convs: with one conv the total would be 2,120,476)
//   decode1..4  up (transposed 2×2, with bias): 4·4096 + 64 = 16,448; conv 128→64: 25·8192 + 64
//               = 204,864; conv 64→64: 102,464; 2 BN: 256 → 324,032; × 4 = 1,296,128
//   classifier  1×1 64→28 with bias: 64·28 + 28 = 1,820
//   total       104,384 + 615,552 + 205,184 + 1,296,128 + 1,820 = 2,223,068 (PAPER-NOTES)
// With max-unpooling instead of the transposed convs: 2,223,068 − 4 · 16,448 = 2,157,276, the
// other reference number, which pins down the bias of the transposed conv (without it the two
// numbers would differ by 4 · 16,384) and the two-conv bottleneck.
import { BatchNorm2d } from '../nn/norm.js';
import { Conv2d, ConvTranspose2d } from '../nn/conv.js';
import { concat } from '../ops/shape.js';
import type { Tensor } from '../tensor.js';
import { Block, FCNN } from './fcnn.js';
import { resolveOptions, type ModelConfig, type ModelOptions } from './options.js';

export class UNetBlock extends Block {
  private readonly up: ConvTranspose2d | null;
  private readonly conv1: Conv2d;
  private readonly bn1: BatchNorm2d;
  private readonly conv2: Conv2d;
  private readonly bn2: BatchNorm2d;

  /** decoder: upsample with a transposed conv and take 2F channels after the concat. */
  constructor(inChannels: number, cfg: ModelConfig, kind: 'encoder' | 'bottleneck' | 'decoder') {
    super();
    const F = cfg.filters;
    const pad = (cfg.kernel - 1) / 2;
    this.up = kind === 'decoder' ? this.module('up', new ConvTranspose2d(inChannels, F, 2, { stride: 2 })) : null;
    const c1In = kind === 'decoder' ? 2 * F : inChannels;
    this.conv1 = this.module('conv1', new Conv2d(c1In, F, cfg.kernel, { padding: pad }));
    this.bn1 = this.module('bn1', new BatchNorm2d(F));
    this.conv2 = this.module('conv2', new Conv2d(F, F, cfg.kernel, { padding: pad }));
    this.bn2 = this.module('bn2', new BatchNorm2d(F));
    this.addTail(F, cfg, kind !== 'bottleneck');
  }

  forward(x: Tensor, skip?: Tensor): Tensor {
    const h0 = this.up ? concat([skip!, this.up.forward(x)]) : x;
    const h1 = this.bn1.forwardAct(this.conv1.forward(h0), 'relu');
    return this.normActTail(this.bn2, this.conv2.forward(h1), 'relu');
  }
}

export class UNet extends FCNN {
  constructor(opts: ModelOptions) {
    const cfg = resolveOptions('unet', opts);
    super('unet', cfg);
    const F = cfg.filters;
    this.build(
      [0, 1, 2, 3].map((i) => new UNetBlock(i === 0 ? cfg.inChannels : F, cfg, 'encoder')),
      new UNetBlock(F, cfg, 'bottleneck'),
      [0, 1, 2, 3].map(() => new UNetBlock(F, cfg, 'decoder')),
    );
  }
}
