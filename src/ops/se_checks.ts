// Argument checks of the SE ops (squeezeExcite in ops/se.ts, batchNormActSe in ops/norm_act_se.ts)
// and the native mode code; not part of the public ops namespace (ops/se.ts re-exports seMode).
import { OpArgumentError, shapeStr } from '../errors.js';
import type { Tensor } from '../tensor.js';
import * as check from './check.js';
import type { SeAggregation, SeBlockKind, SeParams } from './se.js';

/** The native code of an SE block: cse 0, sse 1, scse add 2 / max 3 / mul 4 (math/se.h SeMode). */
export function seMode(kind: SeBlockKind, aggregation: SeAggregation = 'add'): number {
  if (kind === 'cse') return 0;
  if (kind === 'sse') return 1;
  const m = { add: 2, max: 3, mul: 4 }[aggregation];
  if (m === undefined) throw new OpArgumentError('squeezeExcite', `argument 'aggregation' must be add|max|mul, got '${String(aggregation)}'`);
  return m;
}

/**
 * Checks an SE block's arguments (names in errors under `op`) for an input x [N,H,W,C]: its mode
 * and its six parameter slots (fc1.weight, fc1.bias, fc2.weight, fc2.bias, conv.weight, conv.bias;
 * null where the block has none), before any native call.
 */
export function seArgs(op: string, x: Tensor, kind: SeBlockKind, p: SeParams, aggregation: SeAggregation): { mode: number; inputs: (Tensor | null)[] } {
  check.tensor(op, 'x', x);
  check.rank(op, 'x', x, 4);
  // seMode alone would take any other kind for scSE, and name squeezeExcite for a bad aggregation
  if (kind !== 'cse' && kind !== 'sse' && kind !== 'scse') throw new OpArgumentError(op, `argument 'kind' must be 'cse', 'sse' or 'scse', got '${String(kind)}'`);
  if (kind === 'scse' && !['add', 'max', 'mul'].includes(aggregation)) throw new OpArgumentError(op, `argument 'aggregation' must be add|max|mul, got '${String(aggregation)}'`);
  if (typeof p !== 'object' || p === null) throw new OpArgumentError(op, `argument 'params' must be an object of the block's parameters, got ${p === null ? 'null' : typeof p}`);
  const C = x.shape[3]!;
  const mode = seMode(kind, aggregation);
  const inputs: (Tensor | null)[] = [null, null, null, null, null, null];
  if (kind !== 'sse') {
    const w1 = check.tensor(op, 'fc1.weight', p.fc1Weight);
    const Cr = w1.shape[0]!;
    check.shape(op, 'fc1.weight', w1, [-1, C], `[C/r, C] with C = ${C} channels of x`);
    check.shape(op, 'fc2.weight', check.tensor(op, 'fc2.weight', p.fc2Weight), [C, Cr]);
    if (!!p.fc1Bias !== !!p.fc2Bias) throw new OpArgumentError(op, "arguments 'fc1.bias' and 'fc2.bias' must both be given or both be null");
    if (p.fc1Bias) check.shape(op, 'fc1.bias', check.tensor(op, 'fc1.bias', p.fc1Bias), [Cr]);
    if (p.fc2Bias) check.shape(op, 'fc2.bias', check.tensor(op, 'fc2.bias', p.fc2Bias), [C]);
    inputs[0] = p.fc1Weight!;
    inputs[1] = p.fc1Bias ?? null;
    inputs[2] = p.fc2Weight!;
    inputs[3] = p.fc2Bias ?? null;
  }
  if (kind !== 'cse') {
    check.shape(op, 'conv.weight', check.tensor(op, 'conv.weight', p.convWeight), [1, 1, 1, C], `1x1 conv from C = ${C} channels to 1`);
    check.shape(op, 'conv.bias', check.tensor(op, 'conv.bias', p.convBias), [1]);
    inputs[4] = p.convWeight!;
    inputs[5] = p.convBias!;
  }
  if (x.size === 0) throw new OpArgumentError(op, `argument 'x' must not be empty, got ${shapeStr(x.shape)}`);
  check.sameDevice(op, [['x', x], ...inputs.map((t, i): [string, Tensor | null] => [SE_PARAM_NAMES[i]!, t])]);
  return { mode, inputs };
}

const SE_PARAM_NAMES = ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias', 'conv.weight', 'conv.bias'];

/** Keeps the gradients of the parameters actually given (the non-null slots), disposing the rest. */
export function seParamGrads(inputs: (Tensor | null)[], grads: (Tensor | null)[]): (Tensor | null)[] {
  const out: (Tensor | null)[] = [];
  inputs.forEach((t, i) => {
    const g = grads[i] ?? null;
    if (t) out.push(g);
    else g?.dispose();
  });
  return out;
}
