// Tensor: a shape, a dtype, a device and a native handle that owns pooled memory. dispose() frees
// it at once; tidy() disposes what a scope made; the native handle's GC finalizer is a backstop.
import ndarray from 'ndarray';
import type { NdArray } from 'ndarray';

import { backward as runBackward, type GradNode } from './autograd/tape.js';
import { track } from './autograd/scope.js';
import { OpArgumentError, shapeStr } from './errors.js';
import { native, type DType, type NativeTensor } from './native.js';

export type { DType } from './native.js';
export type Device = 'cpu';
export type TypedData = Float32Array | Int32Array;

let nextId = 1;

export class Tensor {
  readonly isTensor = true;
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly device: Device = 'cpu';
  requiresGrad = false;
  /** Accumulated gradient of a leaf tensor after backward(). */
  grad: Tensor | null = null;
  /** The op that produced this tensor, when recorded by autograd. */
  gradFn: GradNode | null = null;
  outputIndex = 0;
  private h: NativeTensor | null;

  private constructor(h: NativeTensor) {
    this.h = h;
    this.shape = Object.freeze(h.shape.slice());
    this.dtype = h.dtype;
    track(this);
  }

  /** Wraps a handle returned by a native op (takes ownership). */
  static fromHandle(h: NativeTensor): Tensor {
    return new Tensor(h);
  }

  /** The native handle; throws if the tensor has been disposed. */
  get handle(): NativeTensor {
    if (!this.h) throw new Error(`tensor ${shapeStr(this.shape)} has been disposed`);
    return this.h;
  }

  get disposed(): boolean {
    return this.h === null;
  }

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  get rank(): number {
    return this.shape.length;
  }

  static empty(shape: readonly number[], dtype: DType = 'float32'): Tensor {
    checkShape('empty', shape);
    return new Tensor(native.empty(shape, dtype));
  }

  static full(shape: readonly number[], value: number, dtype: DType = 'float32'): Tensor {
    const t = Tensor.empty(shape, dtype);
    native.fill(t.handle, value);
    return t;
  }

  static zeros(shape: readonly number[], dtype: DType = 'float32'): Tensor {
    return Tensor.full(shape, 0, dtype);
  }

  static ones(shape: readonly number[], dtype: DType = 'float32'): Tensor {
    return Tensor.full(shape, 1, dtype);
  }

  /**
   * From a flat array (row-major, NHWC for images). A Float32Array/Int32Array fixes the dtype;
   * a plain array is float32 unless `dtype` says otherwise.
   */
  static fromArray(
    data: ArrayLike<number> | TypedData,
    shape: readonly number[],
    opts: { dtype?: DType; requiresGrad?: boolean } = {},
  ): Tensor {
    checkShape('fromArray', shape);
    const dtype: DType = opts.dtype ?? (data instanceof Int32Array ? 'int32' : 'float32');
    if ((data instanceof Float32Array && dtype !== 'float32') || (data instanceof Int32Array && dtype !== 'int32')) {
      throw new OpArgumentError('fromArray', `argument 'data' is a ${data.constructor.name} but dtype is '${dtype}'`);
    }
    if (dtype !== 'float32' && dtype !== 'int32') {
      throw new OpArgumentError('fromArray', `argument 'dtype' must be 'float32' or 'int32', got '${String(dtype)}'`);
    }
    const n = shape.reduce((a, b) => a * b, 1);
    if (data.length !== n) {
      throw new OpArgumentError('fromArray', `argument 'data' has ${data.length} elements, shape ${shapeStr(shape)} needs ${n}`);
    }
    const typed = dtype === 'float32' ? Float32Array.from(data) : Int32Array.from(data);
    if (dtype === 'int32' && !(data instanceof Int32Array)) {
      for (let i = 0; i < n; i++) {
        if (!Number.isInteger(data[i])) throw new OpArgumentError('fromArray', `argument 'data' must hold integers for int32, got ${data[i]} at ${i}`);
      }
    }
    const t = Tensor.empty(shape, dtype);
    t.handle.write(typed);
    t.requiresGrad = opts.requiresGrad ?? false;
    return t;
  }

  /** From an ndarray (any strides); the data are copied in row-major order. */
  static fromNdarray(nd: NdArray, opts: { dtype?: DType; requiresGrad?: boolean } = {}): Tensor {
    const shape = nd.shape.slice();
    const n = shape.reduce((a, b) => a * b, 1);
    const dtype: DType = opts.dtype ?? (nd.data instanceof Int32Array ? 'int32' : 'float32');
    const out = dtype === 'float32' ? new Float32Array(n) : new Int32Array(n);
    const idx = new Array<number>(shape.length).fill(0);
    for (let i = 0; i < n; i++) {
      out[i] = nd.get(...idx);
      for (let d = shape.length - 1; d >= 0; d--) {
        if (++idx[d]! < shape[d]!) break;
        idx[d] = 0;
      }
    }
    return Tensor.fromArray(out, shape, { dtype, requiresGrad: opts.requiresGrad });
  }

  /** A copy of the data as a row-major ndarray of this tensor's shape. */
  toNdarray(): NdArray<TypedData> {
    return ndarray(this.dataSync(), this.shape.slice());
  }

  /** A copy of the data. Synchronous: on CPU the data are ready as soon as an op returns. */
  dataSync(): TypedData {
    return this.handle.read();
  }

  /** A copy of the data; never blocks the event loop on a device. */
  async data(): Promise<TypedData> {
    return this.dataSync();
  }

  /** The value of a single-element tensor. */
  item(): number {
    if (this.size !== 1) throw new OpArgumentError('item', `tensor must have one element, got shape ${shapeStr(this.shape)}`);
    return this.dataSync()[0]!;
  }

  /** A copy with its own storage, not connected to the graph. */
  clone(): Tensor {
    return new Tensor(native.clone(this.handle));
  }

  /** A tensor sharing this one's storage, not connected to the graph. */
  detach(): Tensor {
    return new Tensor(this.handle.share());
  }

  /** Enables gradient accumulation on a leaf tensor (returns this). */
  requireGrad(on = true): this {
    if (on && this.dtype !== 'float32') throw new OpArgumentError('requireGrad', `only float32 tensors can require grad, got ${this.dtype}`);
    this.requiresGrad = on;
    return this;
  }

  backward(grad?: Tensor): void {
    runBackward(this, grad);
  }

  /** Frees the native memory now (idempotent). Gradients are disposed with their tensor. */
  dispose(): void {
    if (this.h) {
      this.h.dispose();
      this.h = null;
    }
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  toString(): string {
    return `Tensor(${shapeStr(this.shape)}, ${this.dtype}, ${this.device}${this.disposed ? ', disposed' : ''})`;
  }
}

function checkShape(op: string, shape: readonly number[]): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new OpArgumentError(op, `argument 'shape' must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
}
