// Max pooling and unpooling layers. They hold no state and behave the same in train and eval, so
// they are small classes rather than Modules: their forwards take and return more than one
// tensor (pooling indices, an output size), which Module.forward's signature does not allow.
import { maxPool2d, maxUnpool2d } from '../ops/pool.js';
import type { Tensor } from '../tensor.js';

/** nn.MaxPool2d(kernel, stride, return_indices=True): {y, indices} (int32, h·W + w per plane). */
export class MaxPool2d {
  constructor(
    readonly kernel = 2,
    readonly stride = kernel,
  ) {}

  forward(x: Tensor): { y: Tensor; indices: Tensor } {
    return maxPool2d(x, { kernel: this.kernel, stride: this.stride });
  }
}

/** nn.MaxUnpool2d: scatters x to the pooling indices in a zero map of size outputSize (from the skip tensor). */
export class MaxUnpool2d {
  forward(x: Tensor, indices: Tensor, outputSize: readonly [number, number]): Tensor {
    return maxUnpool2d(x, indices, outputSize);
  }
}
