// tfjs (pure-JS CPU backend, NHWC like us) as the independent reference for forward values and
// gradients (tf.grads).
import * as tf from '@tensorflow/tfjs';

await tf.setBackend('cpu');
tf.env().set('PROD', true);

export { tf };

export function tfFrom(data: Float32Array | number[], shape: readonly number[]): tf.Tensor {
  return tf.tensor(Float32Array.from(data), [...shape]);
}

/** Runs f under tf.grads and returns [value, grads] as plain arrays (the seed is `dy`). */
export function tfValueAndGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], dy?: tf.Tensor): { y: Float32Array; grads: Float32Array[] } {
  return tf.tidy(() => {
    const y = f(...inputs);
    const g = tf.grads((...xs: tf.Tensor[]) => f(...xs))(inputs, dy);
    return { y: y.dataSync() as Float32Array, grads: g.map((t) => t.dataSync() as Float32Array) };
  });
}
