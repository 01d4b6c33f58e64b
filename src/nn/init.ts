// PyTorch's default initialisation, so weights drawn here are distributed like nn.Conv2d /
// nn.Linear's: kaiming_uniform_(a=√5) on weights = U(-1/√fanIn, 1/√fanIn), and the same bound for
// biases.
import { noGrad } from '../autograd/tape.js';
import { uniform_ } from '../ops/random.js';
import { Tensor } from '../tensor.js';

export function defaultUniform(shape: readonly number[], fanIn: number): Tensor {
  const t = Tensor.empty(shape);
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  noGrad(() => uniform_(t, -bound, bound));
  return t;
}
