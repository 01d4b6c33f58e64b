// Small layers: activations, channel dropout and Sequential (children named "0", "1", ... as in
// PyTorch's nn.Sequential).
import { OpArgumentError } from '../errors.js';
import { prelu, relu } from '../ops/eltwise.js';
import { dropout2d } from '../ops/random.js';
import { Tensor } from '../tensor.js';
import { Module } from './module.js';

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/** nn.PReLU: `weight` holds numParameters slopes (1 = one shared slope, or one per channel), init 0.25. */
export class PReLU extends Module {
  /** number of slopes (PyTorch's num_parameters; `numParameters()` is Module's element count) */
  readonly slopes: number;

  constructor(numParameters = 1, init = 0.25) {
    super();
    this.slopes = numParameters;
    if (!Number.isInteger(numParameters) || numParameters < 1) {
      throw new OpArgumentError('PReLU', `argument 'numParameters' must be a positive integer, got ${String(numParameters)}`);
    }
    if (!Number.isFinite(init)) throw new OpArgumentError('PReLU', `argument 'init' must be a finite number, got ${String(init)}`);
    this.param('weight', Tensor.full([numParameters], init));
  }

  get weight(): Tensor {
    return this.p('weight');
  }

  forward(x: Tensor): Tensor {
    return prelu(x, this.p('weight'));
  }
}

/** nn.Dropout2d: zeroes whole channels with probability p in training; identity in eval. */
export class Dropout2d extends Module {
  /** drop probability (PyTorch's `p`; `p()` is Module's parameter accessor) */
  readonly prob: number;

  constructor(p = 0.5) {
    super();
    this.prob = p;
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new OpArgumentError('Dropout2d', `argument 'p' must be in [0, 1], got ${String(p)}`);
  }

  forward(x: Tensor): Tensor {
    return dropout2d(x, this.prob, this.training);
  }
}

/** Applies its children in order; their names are their positions. */
export class Sequential extends Module {
  private readonly layers: Module[];

  constructor(...layers: Module[]) {
    super();
    layers.forEach((m, i) => {
      if (!(m instanceof Module)) throw new OpArgumentError('Sequential', `argument 'layers[${i}]' must be a Module`);
      this.module(String(i), m);
    });
    this.layers = layers;
  }

  get length(): number {
    return this.layers.length;
  }

  at(i: number): Module | undefined {
    return this.layers[i];
  }

  forward(x: Tensor): Tensor {
    let h = x;
    for (const m of this.layers) h = m.forward(h);
    return h;
  }
}
