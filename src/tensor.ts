// Tensor: a shape, a dtype, a device and a native handle that owns pooled memory. dispose() frees
// it at once; tidy() disposes what a scope made; the native handle's GC finalizer is a backstop.
import ndarray from 'ndarray';
import type { NdArray } from 'ndarray';

import { attach, backward as runBackward, needsGrad, type GradNode } from './autograd/tape.js';
import { track } from './autograd/scope.js';
import { tensorDevice, type DeviceSpec, type ResolvedDevice } from './device.js';
import { OpArgumentError, shapeStr } from './errors.js';
import { native, type DType, type NativeTensor } from './native.js';

export type { DType } from './native.js';
/** Where a tensor's memory is: the CPU or CUDA device N. */
export type Device = ResolvedDevice;
export type TypedData = Float32Array | Int32Array;

let nextId = 1;

export class Tensor {
  readonly isTensor = true;
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly dtype: DType;
  requiresGrad = false;
  /** Accumulated gradient of a leaf tensor after backward(). */
  grad: Tensor | null = null;
  /** The op that produced this tensor, when recorded by autograd. */
  gradFn: GradNode | null = null;
  outputIndex = 0;
  private h: NativeTensor | null;
  private where: Device;

  private constructor(h: NativeTensor) {
    this.h = h;
    this.shape = Object.freeze(h.shape.slice());
    this.dtype = h.dtype;
    this.where = (h.device ?? 'cpu') as Device;
    track(this);
  }

  /** 'cpu' or 'cuda:N': where the data live. Ops need all their tensors on one device. */
  get device(): Device {
    return this.where;
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

  /** Uninitialised memory on `device` (default the CPU; 'cuda' | 'cuda:N' | 'auto' as in resolveDevice). */
  static empty(shape: readonly number[], dtype: DType = 'float32', device: DeviceSpec | string = 'cpu'): Tensor {
    checkedSize('empty', shape, dtype);
    const d = tensorDevice(device);
    return new Tensor(d === 'cpu' ? native.empty(shape, dtype) : native.empty(shape, dtype, d));
  }

  static full(shape: readonly number[], value: number, dtype: DType = 'float32', device: DeviceSpec | string = 'cpu'): Tensor {
    const t = Tensor.empty(shape, dtype, device);
    native.fill(t.handle, value);
    return t;
  }

  static zeros(shape: readonly number[], dtype: DType = 'float32', device: DeviceSpec | string = 'cpu'): Tensor {
    return Tensor.full(shape, 0, dtype, device);
  }

  static ones(shape: readonly number[], dtype: DType = 'float32', device: DeviceSpec | string = 'cpu'): Tensor {
    return Tensor.full(shape, 1, dtype, device);
  }

  /**
   * From a flat array (row-major, NHWC for images). A Float32Array/Int32Array fixes the dtype;
   * a plain array is float32 unless `dtype` says otherwise. `device` (default the CPU) is where
   * the tensor is made; the data are copied there.
   */
  static fromArray(
    data: ArrayLike<number> | TypedData,
    shape: readonly number[],
    opts: { dtype?: DType; requiresGrad?: boolean; device?: DeviceSpec | string } = {},
  ): Tensor {
    const n = checkedSize('fromArray', shape); // both dtypes are 4 bytes wide
    const dtype: DType = opts.dtype ?? (data instanceof Int32Array ? 'int32' : 'float32');
    if ((data instanceof Float32Array && dtype !== 'float32') || (data instanceof Int32Array && dtype !== 'int32')) {
      throw new OpArgumentError('fromArray', `argument 'data' is a ${data.constructor.name} but dtype is '${dtype}'`);
    }
    if (dtype !== 'float32' && dtype !== 'int32') {
      throw new OpArgumentError('fromArray', `argument 'dtype' must be 'float32' or 'int32', got '${String(dtype)}'`);
    }
    if (data.length !== n) {
      throw new OpArgumentError('fromArray', `argument 'data' has ${data.length} elements, shape ${shapeStr(shape)} needs ${n}`);
    }
    if (dtype === 'int32' && !(data instanceof Int32Array)) {
      for (let i = 0; i < n; i++) {
        if (!Number.isInteger(data[i])) throw new OpArgumentError('fromArray', `argument 'data' must hold integers for int32, got ${data[i]} at ${i}`);
      }
    }
    // typed arrays of the right kind are written directly (the native write copies them)
    const typed = dtype === 'float32' ? (data instanceof Float32Array ? data : Float32Array.from(data)) : data instanceof Int32Array ? data : Int32Array.from(data);
    const t = Tensor.empty(shape, dtype, opts.device ?? 'cpu');
    t.handle.write(typed);
    t.requiresGrad = opts.requiresGrad ?? false;
    return t;
  }

  /** From an ndarray (any strides); the data are copied in row-major order. */
  static fromNdarray(nd: NdArray, opts: { dtype?: DType; requiresGrad?: boolean; device?: DeviceSpec | string } = {}): Tensor {
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
    return Tensor.fromArray(out, shape, { dtype, requiresGrad: opts.requiresGrad, device: opts.device });
  }

  /** A copy of the data as a row-major ndarray of this tensor's shape. */
  toNdarray(): NdArray<TypedData> {
    return ndarray(this.dataSync(), this.shape.slice());
  }

  /**
   * A copy of the data. Synchronous: on the CPU the data are ready as soon as an op returns; on
   * CUDA this waits for the device's queued work (prefer `await data()`).
   */
  dataSync(): TypedData {
    return this.handle.read();
  }

  /**
   * A copy of the data. On CUDA the copy runs on a worker thread, so the event loop never blocks;
   * the data are those of the tensor when data() was called (later in-place ops do not show).
   */
  async data(): Promise<TypedData> {
    if (this.where === 'cpu') return this.dataSync();
    return this.handle.readAsync();
  }

  /**
   * This tensor on `device` ('cpu' | 'cuda' | 'cuda:N' | 'auto'): the tensor itself when it is
   * already there, else a copy. Differentiable: the gradient is copied back to this device.
   * Asking for CUDA where it cannot run throws DeviceUnavailableError with the reason.
   */
  to(device: DeviceSpec | string): Tensor {
    const target = tensorDevice(device);
    if (target === this.device) return this;
    const y = new Tensor(native.toDevice(this.handle, target));
    if (needsGrad(this)) {
      const back = this.device;
      attach('to', [this], [y], [], ([g]) => [new Tensor(native.toDevice(g!.handle, back))]);
    }
    return y;
  }

  /**
   * Moves this tensor's data to `device` in place (the object keeps its identity, so optimizers
   * and modules holding it see the move; its gradient moves too). For leaf tensors only (module
   * parameters and buffers): a recorded op's output would leave its graph on the old device.
   */
  moveTo_(device: DeviceSpec | string): this {
    const target = tensorDevice(device);
    if (target === this.device) return this;
    if (this.gradFn) throw new OpArgumentError('moveTo_', 'only leaf tensors can be moved in place (this one is the output of a recorded op)');
    const moved = native.toDevice(this.handle, target);
    this.h!.dispose();
    this.h = moved;
    this.where = target;
    this.grad?.moveTo_(target);
    return this;
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

/**
 * The element count of `shape` for a new tensor (or a reshape), checked: every dimension a
 * non-negative safe integer, the count and its byte size (count × 4) at most 2^53 − 1. Beyond
 * that JS numbers are no longer exact, so a plain product could wrap or round to a small count
 * and back a huge shape with a tiny storage. Throws OpArgumentError naming the op, the shape and
 * the exact (BigInt) count. A zero dimension makes the count 0 whatever the others are (each of
 * them must still be a safe integer).
 */
export function checkedSize(op: string, shape: readonly number[], dtype: DType = 'float32'): number {
  if (!Array.isArray(shape)) throw new OpArgumentError(op, `argument 'shape' must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  shape.forEach((d, i) => {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new OpArgumentError(op, `argument 'shape' ${shapeStr(shape)}: dimension ${i} must be an integer in [0, 2^53 - 1], got ${String(d)}`);
    }
  });
  const count = shape.reduce((a, d) => a * BigInt(d), 1n);
  if (count > MAX_SAFE) throw new OpArgumentError(op, `shape ${shapeStr(shape)} has ${count} elements, over 2^53 - 1`);
  const bytes = count * BigInt(ELEMENT_BYTES[dtype] ?? 4);
  if (bytes > MAX_SAFE) throw new OpArgumentError(op, `shape ${shapeStr(shape)} needs ${bytes} bytes (${count} elements of ${ELEMENT_BYTES[dtype] ?? 4}), over 2^53 - 1`);
  return Number(count);
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const ELEMENT_BYTES: Record<string, number> = { float32: 4, int32: 4 };
