// The SE blocks written directly in tfjs (the authors' PyTorch formulation, NHWC), as an
// independent reference for forward values and gradients.
import type * as tfTypes from '@tensorflow/tfjs';

import { tf } from './tf.js';

type T = tfTypes.Tensor;
export interface TfSeParams {
  fc1Weight?: T; // [Cr, C]
  fc1Bias?: T | null;
  fc2Weight?: T; // [C, Cr]
  fc2Bias?: T | null;
  convWeight?: T; // [1,1,1,C]
  convBias?: T; // [1]
}

export function tfSe(x: T, kind: 'cse' | 'sse' | 'scse', p: TfSeParams, agg: 'add' | 'max' | 'mul' = 'add'): T {
  const [N, , , C] = x.shape as number[];
  const cse = (): T => {
    const z = tf.mean(x, [1, 2]); // [N, C]
    let h = tf.matMul(z, p.fc1Weight!, false, true);
    if (p.fc1Bias) h = tf.add(h, p.fc1Bias);
    let e = tf.matMul(tf.relu(h), p.fc2Weight!, false, true);
    if (p.fc2Bias) e = tf.add(e, p.fc2Bias);
    return tf.mul(x, tf.reshape(tf.sigmoid(e), [N!, 1, 1, C!]));
  };
  const sse = (): T => {
    const w = tf.reshape(p.convWeight!, [1, 1, C!, 1]); // HWIO
    const q = tf.sigmoid(tf.add(tf.conv2d(x as tfTypes.Tensor4D, w as tfTypes.Tensor4D, 1, 'valid'), p.convBias!));
    return tf.mul(x, q);
  };
  if (kind === 'cse') return cse();
  if (kind === 'sse') return sse();
  const a = cse();
  const b = sse();
  if (agg === 'add') return tf.add(a, b);
  if (agg === 'mul') return tf.mul(a, b);
  return tf.maximum(a, b);
}
