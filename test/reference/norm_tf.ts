// Batch norm + activation written in tfjs from primitives (moments, relu, minimum), NHWC, as an
// independent reference for forward values and gradients.
import type * as tfTypes from '@tensorflow/tfjs';

import type { NormActivation } from '../../src/ops/norm_act.js';
import { tf } from './tf.js';

export const BN_EPS = 1e-5;

/** act(BN(concat(xs))) in training (batch moments, differentiated) or inference mode (`stats`). */
export function tfBnAct(
  xs: tfTypes.Tensor[],
  g: tfTypes.Tensor,
  b: tfTypes.Tensor,
  act: NormActivation,
  a?: tfTypes.Tensor,
  stats?: [tfTypes.Tensor, tfTypes.Tensor],
): tfTypes.Tensor {
  const x = xs.length === 1 ? xs[0]! : tf.concat(xs, 3);
  const { mean, variance } = stats ? { mean: stats[0], variance: stats[1] } : tf.moments(x, [0, 1, 2]);
  const z = tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, BN_EPS))), g), b);
  if (act === 'none') return z;
  if (act === 'relu') return tf.relu(z);
  return tf.add(tf.relu(z), tf.mul(a!, tf.minimum(z, 0)));
}
