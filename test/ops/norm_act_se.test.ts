// batchNormActSe (batch norm + activation + SE block in one op) against tfjs built from primitives
// (tfBnAct, then tfSe), against the composition of our own batchNormAct and squeezeExcite at sizes
// where every loop runs on all threads, in eval mode (where it is that composition), and its
// argument errors from TypeScript and from C++.
import { describe, expect, it } from 'vitest';

import { native } from '../../src/native.js';
import type { NormActivation } from '../../src/ops/norm_act.js';
import { batchNormAct } from '../../src/ops/norm_act.js';
import { batchNormActSe, type SeSpec } from '../../src/ops/norm_act_se.js';
import { squeezeExcite, type SeAggregation, type SeBlockKind, type SeParams } from '../../src/ops/se.js';
import { Tensor } from '../../src/tensor.js';
import { expectClose, expectError, randn, randt } from '../helpers.js';
import { checkAgainstTf } from '../reference/compare.js';
import { tfBnAct } from '../reference/norm_tf.js';
import { tfSe } from '../reference/se_tf.js';

type Kind = SeBlockKind;
const KEYS = ['fc1Weight', 'fc1Bias', 'fc2Weight', 'fc2Bias', 'convWeight', 'convBias'] as const;

// The SE parameters' shapes for C channels, reduction 2 (null: the block has none).
function seShapes(kind: Kind, C: number, bias: boolean): (number[] | null)[] {
  const Cr = Math.max(1, C >> 1);
  const ch = kind !== 'sse';
  const sp = kind !== 'cse';
  return [ch ? [Cr, C] : null, ch && bias ? [Cr] : null, ch ? [C, Cr] : null, ch && bias ? [C] : null, sp ? [1, 1, 1, C] : null, sp ? [1] : null];
}

function paramsOf<T>(shapes: (number[] | null)[], ts: T[]): Record<string, T | null> {
  let k = 0;
  return Object.fromEntries(KEYS.map((key, i) => [key, shapes[i] ? ts[k++]! : null]));
}

// [name, N, H, W, C, activation, slope length (0: none), kind, aggregation, MLP biases]
const cases: [string, number, number, number, number, NormActivation, number, Kind, SeAggregation, boolean][] = [
  ['cSE, relu', 2, 5, 6, 8, 'relu', 0, 'cse', 'add', true],
  ['sSE, relu, 30 pixels (a partial group of 4)', 2, 5, 6, 8, 'relu', 0, 'sse', 'add', true],
  ['scSE add, relu, no MLP biases', 3, 4, 4, 6, 'relu', 0, 'scse', 'add', false],
  ['scSE max, relu', 2, 4, 5, 8, 'relu', 0, 'scse', 'max', true],
  ['scSE mul, none', 2, 3, 5, 4, 'none', 0, 'scse', 'mul', true],
  ['scSE add, prelu shared slope', 2, 4, 3, 8, 'prelu', 1, 'scse', 'add', true],
  ['cSE, prelu per-channel slope', 1, 6, 5, 6, 'prelu', 6, 'cse', 'add', true],
  ['sSE, none, 21 pixels (a tail of 1)', 2, 3, 7, 5, 'none', 0, 'sse', 'add', true],
];

describe('batchNormActSe training mode against tfjs (BN → activation → SE from primitives; forward and every gradient)', () => {
  for (const [name, N, H, W, C, act, na, kind, agg, bias] of cases) {
    it(name, () => {
      const se = seShapes(kind, C, bias);
      const used = se.filter((s): s is number[] => s !== null);
      const shapes = [[N, H, W, C], [C], [C], ...(na ? [[na]] : []), ...used];
      const k = na ? 4 : 3;
      checkAgainstTf(
        (x, ...ts) =>
          batchNormActSe(x, ts[0]!, ts[1]!, { training: true, activation: act, ...(na ? { slope: ts[2]! } : {}) }, { kind, aggregation: agg, params: paramsOf(se, ts.slice(k - 1)) as SeParams }),
        (x, ...ts) => tfSe(tfBnAct([x], ts[0]!, ts[1]!, act, na ? ts[2] : undefined), kind, paramsOf(se, ts.slice(k - 1)) as never, agg),
        shapes,
        900 + C * N,
        { rtol: 5e-4, atol: 5e-4 },
      );
    });
  }
});

// Our composition, at a size where the image loops run on all threads and outputs are streamed.
function compare(kind: Kind, agg: SeAggregation, act: NormActivation, shape: number[], seed: number): void {
  const C = shape[3]!;
  const se = seShapes(kind, C, true);
  const make = () => {
    const x = randt(shape, seed);
    const gamma = Tensor.fromArray(randn([C], seed + 1).map((v) => 1 + 0.3 * v), [C], { requiresGrad: true });
    const beta = randt([C], seed + 2);
    const slope = act === 'prelu' ? Tensor.fromArray(randn([C], seed + 3).map((v) => 0.25 + 0.1 * v), [C], { requiresGrad: true }) : undefined;
    const ps = se.map((s, i) => (s ? randt(s, seed + 10 + i, true, 0.3) : null));
    const rm = Tensor.zeros([C]);
    const rv = Tensor.ones([C]);
    return { x, gamma, beta, slope, ps, rm, rv };
  };
  const a = make();
  const b = make();
  const spec = (ps: (Tensor | null)[]): SeSpec => ({ kind, aggregation: agg, params: Object.fromEntries(KEYS.map((k, i) => [k, ps[i]])) as SeParams });
  const opts = (t: ReturnType<typeof make>) => ({ training: true, activation: act, runningMean: t.rm, runningVar: t.rv, ...(t.slope ? { slope: t.slope } : {}) });
  const fused = batchNormActSe(a.x, a.gamma, a.beta, opts(a), spec(a.ps));
  const u = batchNormAct(b.x, b.gamma, b.beta, opts(b));
  const composed = squeezeExcite(u, kind, spec(b.ps).params, agg);
  const dy = randn(shape, seed + 50);
  fused.backward(Tensor.fromArray(dy, shape));
  composed.backward(Tensor.fromArray(dy, shape));
  expectClose(fused.dataSync(), composed.dataSync(), 1e-5, 1e-5, 'forward');
  expectClose(a.rm.dataSync(), b.rm.dataSync(), 1e-6, 1e-7, 'running mean');
  expectClose(a.rv.dataSync(), b.rv.dataSync(), 1e-6, 1e-7, 'running var');
  const grads = (t: ReturnType<typeof make>) => [t.x, t.gamma, t.beta, ...(t.slope ? [t.slope] : []), ...t.ps.filter((p): p is Tensor => p !== null)];
  const ga = grads(a);
  const gb = grads(b);
  ga.forEach((t, i) => {
    const want = gb[i]!.grad!.dataSync();
    const scale = Array.from(want).reduce((m: number, v: number) => Math.max(m, Math.abs(v)), 0);
    expectClose(t.grad!.dataSync(), want, 1e-4, 1e-4 * scale, `grad ${i}`);
  });
}

describe('batchNormActSe equals batchNormAct + squeezeExcite at thread-parallel sizes', () => {
  it('scSE add, relu, 4×32×32×64 (the models’ case)', () => compare('scse', 'add', 'relu', [4, 32, 32, 64], 11));
  it('scSE max, prelu, 3×20×18×32', () => compare('scse', 'max', 'prelu', [3, 20, 18, 32], 12));
  it('cSE, relu, 5×16×16×48', () => compare('cse', 'add', 'relu', [5, 16, 16, 48], 13));
  it('sSE, relu, 2×40×24×40', () => compare('sse', 'add', 'relu', [2, 40, 24, 40], 14));
});

describe('batchNormActSe and native memory', () => {
  it('leaves no native tensor behind after forward + backward, with and without gradients', () => {
    const C = 8;
    const before = native.memory().tensors;
    for (const grad of [true, false]) {
      const x = randt([2, 4, 4, C], 30, grad);
      const g = randt([C], 31, grad);
      const b = randt([C], 32, grad);
      const se = seShapes('scse', C, true).map((s, i) => randt(s!, 33 + i, grad));
      const params = Object.fromEntries(KEYS.map((k, i) => [k, se[i]])) as SeParams;
      const y = batchNormActSe(x, g, b, { training: true, activation: 'relu' }, { kind: 'scse', params });
      const dy = Tensor.fromArray(randn(y.shape, 40), y.shape);
      if (grad) y.backward(dy);
      for (const t of [dy, y, x, g, b, ...se]) {
        t.grad?.dispose();
        t.dispose();
      }
    }
    expect(native.memory().tensors).toBe(before);
  });
});

describe('batchNormActSe outside CPU training', () => {
  it('eval mode is batchNormAct + squeezeExcite with the running statistics, bit for bit', () => {
    const C = 8;
    const x = randt([2, 4, 4, C], 3);
    const g = randt([C], 4);
    const b = randt([C], 5);
    const rm = Tensor.fromArray(randn([C], 6), [C]);
    const rv = Tensor.fromArray(randn([C], 7).map((v) => 1 + v * v), [C]);
    const se = seShapes('scse', C, true).map((s, i) => randt(s!, 20 + i));
    const params = Object.fromEntries(KEYS.map((k, i) => [k, se[i]])) as SeParams;
    const opts = { training: false, activation: 'relu' as const, runningMean: rm, runningVar: rv };
    const y = batchNormActSe(x, g, b, opts, { kind: 'scse', params });
    const want = squeezeExcite(batchNormAct(x, g, b, opts), 'scse', params);
    expect(Array.from(y.dataSync())).toEqual(Array.from(want.dataSync()));
  });
});

describe('batchNormActSe errors', () => {
  const C = 4;
  const x = Tensor.zeros([2, 3, 3, C]);
  const g = Tensor.ones([C]);
  const b = Tensor.zeros([C]);
  const se = seShapes('scse', C, true).map((s) => Tensor.zeros(s!));
  const params = Object.fromEntries(KEYS.map((k, i) => [k, se[i]])) as SeParams;

  it('from TypeScript, naming the op, the argument and the shapes', () => {
    expectError(() => batchNormActSe(x, Tensor.ones([5]), b, { training: true }, { kind: 'scse', params }), 'batchNormActSe(scse, add)', "'gamma'", '[4]', '[5]');
    expectError(
      () => batchNormActSe(x, g, b, { training: true }, { kind: 'scse', params: { ...params, fc2Weight: Tensor.zeros([3, 2]) } }),
      'batchNormActSe(scse, add)',
      "'fc2.weight'",
      '[4, 2]',
      '[3, 2]',
    );
    expectError(() => batchNormActSe(x, g, b, { training: true, activation: 'prelu' }, { kind: 'cse', params }), 'batchNormActSe(cse)', "'slope'", 'required');
    expectError(() => batchNormActSe(Tensor.zeros([1, 1, 1, C]), g, b, { training: true }, { kind: 'sse', params }), 'batchNormActSe(sse)', 'N*H*W > 1', '[1, 1, 1, 4]');
  });

  it('from TypeScript, for a missing or malformed SE block (never a TypeError, never a silent scSE)', () => {
    const T = { training: true };
    expectError(() => batchNormActSe(x, g, b, T, undefined as never), 'batchNormActSe', "'se'", 'undefined');
    expectError(() => batchNormActSe(x, g, b, T, null as never), 'batchNormActSe', "'se'", 'null');
    expectError(() => batchNormActSe(x, g, b, T, { kind: 'scse' } as never), 'batchNormActSe(scse, add)', "'params'", 'undefined');
    expectError(() => batchNormActSe(x, g, b, T, { kind: 'cse', params: null } as never), 'batchNormActSe(cse)', "'params'", 'null');
    expectError(() => batchNormActSe(x, g, b, T, { kind: 'foo' as never, params }), 'batchNormActSe(foo)', "'kind'", "'foo'");
    expectError(() => batchNormActSe(x, g, b, T, { params } as never), 'batchNormActSe', "'kind'", 'undefined');
    expectError(() => batchNormActSe(x, g, b, T, { kind: 'scse', params, aggregation: 'min' as never }), 'batchNormActSe(scse, min)', "'aggregation'", "'min'");
    expectError(() => batchNormActSe(x, g, b, T, { kind: 'cse', params: { ...params, fc1Weight: null as never } }), 'batchNormActSe(cse)', "'fc1.weight'", 'null');
    expectError(() => batchNormActSe(x, g, b, T, { kind: 'sse', params: { ...params, convBias: undefined } }), 'batchNormActSe(sse)', "'conv.bias'");
    expectError(() => batchNormActSe(x, g, b, T, { kind: 'cse', params: { ...params, fc2Bias: null } }), 'batchNormActSe(cse)', "'fc1.bias' and 'fc2.bias'");
    expectError(() => batchNormActSe(x, g, b, { training: true, activation: 'prelu', slope: Tensor.ones([3]) }, { kind: 'sse', params }), 'batchNormActSe(sse)', "'slope'", '[3]');
    expectError(() => batchNormActSe(x, g, b, { training: true, activation: 'relu', slope: Tensor.ones([1]) }, { kind: 'sse', params }), 'batchNormActSe(sse)', "'slope'", 'prelu');
    expectError(() => batchNormActSe(x, g, b, { training: true, runningMean: Tensor.zeros([C]) }, { kind: 'sse', params }), 'batchNormActSe(sse)', 'together');
    expectError(() => batchNormActSe(x, g, b, { training: false }, { kind: 'sse', params }), 'batchNormActSe(sse)', 'runningMean');
  });

  it('from C++, for direct native calls', () => {
    const h = (t: Tensor | null) => t?.handle ?? null;
    const p = se.map(h);
    expectError(() => native.batchNormActSeTrain(2, h(x), ...p, h(Tensor.ones([3])), h(b), null, null, 0.1, 1e-5, 1, null), 'batchNormActSe scSE(add)', "'gamma'", '[4]', '[3]');
    expectError(() => native.batchNormActSeTrain(7, h(x), ...p, h(g), h(b), null, null, 0.1, 1e-5, 1, null), 'batchNormActSe', "'mode'", '7');
    expectError(() => native.batchNormActSeTrain(2, h(x), ...p, h(g), h(b), h(g), null, 0.1, 1e-5, 1, null), 'batchNormActSe scSE(add)', 'runningMean', 'together');
    expectError(() => native.batchNormActSeTrain(2, h(x), ...p, h(g), h(b), null, null, 0.1, 1e-5, 2, null), 'batchNormActSe scSE(add)', "'slope'");
    const [, m, v, ...aux] = native.batchNormActSeTrain(2, h(x), ...p, h(g), h(b), null, null, 0.1, 1e-5, 1, null);
    expectError(
      () => native.batchNormActSeBackward(2, h(x), ...p, h(g), h(b), m!, v!, 1e-5, 1, null, h(Tensor.zeros([2, 3, 4, C])), ...aux),
      'batchNormActSeBackward scSE(add)',
      "'dy'",
      '[2, 3, 4, 4]',
    );
    expectError(() => native.batchNormActSeBackward(2, h(x), ...p, h(g), h(b), m!, v!, 1e-5, 1, null, h(x), aux[0]!, aux[1]!, aux[2]!, aux[0]!), 'batchNormActSeBackward', "'q'", '[2, 3, 3]');
  });

  // The batch statistics catch a NaN or Inf in x and name the image it is in. With ReLU the SE block
  // alone would not: relu maps the NaN pre-activations to 0, and the running statistics took the NaN.
  it('a NaN or Inf in x fails with every activation and leaves the running statistics unchanged', () => {
    for (const [act, kind, v] of [
      ['none', 'sse', Number.NaN],
      ['relu', 'scse', Number.NaN],
      ['relu', 'cse', Number.POSITIVE_INFINITY],
      ['prelu', 'cse', Number.NEGATIVE_INFINITY],
    ] as const) {
      const data = randn([3, 4, 4, C], 8);
      data[2 * 16 * C + 5] = v;
      const x = Tensor.fromArray(data, [3, 4, 4, C]);
      const rm = Tensor.zeros([C]);
      const rv = Tensor.ones([C]);
      const slope = act === 'prelu' ? { slope: Tensor.full([1], 0.25) } : {};
      const opts = { training: true, activation: act, runningMean: rm, runningVar: rv, ...slope };
      expectError(() => batchNormActSe(x, g, b, opts, { kind, params }), `batchNormActSe ${kind === 'scse' ? 'scSE(add)' : kind === 'cse' ? 'cSE' : 'sSE'}`, 'NaN or Inf', 'image 2');
      expect(Array.from(rm.dataSync()), `${act} ${kind} ${v}`).toEqual([0, 0, 0, 0]);
      expect(Array.from(rv.dataSync())).toEqual([1, 1, 1, 1]);
      for (const t of [x, rm, rv, ...Object.values(slope)]) t.dispose();
    }
  });
});
