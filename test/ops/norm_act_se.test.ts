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
  // tails of 1, 2 and 3 pixels (the masked repeats of sumsGroup / squeezeGroup) in every mode
  ['scSE mul, prelu per-channel, 15 pixels (a tail of 3), odd C', 2, 3, 5, 5, 'prelu', 5, 'scse', 'mul', true],
  ['scSE max, prelu shared slope, N = 1, 13 pixels (a tail of 1)', 1, 1, 13, 3, 'prelu', 1, 'scse', 'max', true],
  ['cSE, relu, C = 1 (Cr = 1), 9 pixels (a tail of 1)', 3, 3, 3, 1, 'relu', 0, 'cse', 'add', true],
  ['cSE, prelu per-channel, no MLP biases, 7 pixels (a tail of 3)', 2, 1, 7, 7, 'prelu', 7, 'cse', 'add', false],
  ['scSE add, prelu per-channel, 5 pixels (a tail of 1)', 3, 5, 1, 6, 'prelu', 6, 'scse', 'add', true],
  ['scSE mul, relu, 10 pixels (a tail of 2)', 2, 2, 5, 4, 'relu', 0, 'scse', 'mul', true],
  ['scSE max, none, 11 pixels (a tail of 3)', 2, 11, 1, 3, 'none', 0, 'scse', 'max', true],
  ['sSE, prelu shared slope, 6 pixels (a tail of 2)', 2, 2, 3, 5, 'prelu', 1, 'sse', 'add', true],
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

// Our composition, at a size where the image loops run on all threads. `more`: the PReLU slope's
// length (default C), x = offset + scale·noise, and which inputs require gradients (default all).
interface CompareOptions {
  slopeLen?: number;
  xOffset?: number;
  xScale?: number;
  grad?: { x: boolean; norm: boolean; se: boolean };
}
function compare(kind: Kind, agg: SeAggregation, act: NormActivation, shape: number[], seed: number, more: CompareOptions = {}): void {
  const C = shape[3]!;
  const se = seShapes(kind, C, true);
  const rg = more.grad ?? { x: true, norm: true, se: true };
  const make = () => {
    const x = Tensor.fromArray(randn(shape, seed).map((v) => (more.xOffset ?? 0) + (more.xScale ?? 1) * v), shape, { requiresGrad: rg.x });
    const gamma = Tensor.fromArray(randn([C], seed + 1).map((v) => 1 + 0.3 * v), [C], { requiresGrad: rg.norm });
    const beta = randt([C], seed + 2, rg.norm);
    const na = more.slopeLen ?? C;
    const slope = act === 'prelu' ? Tensor.fromArray(randn([na], seed + 3).map((v) => 0.25 + 0.1 * v), [na], { requiresGrad: rg.norm }) : undefined;
    const ps = se.map((s, i) => (s ? randt(s, seed + 10 + i, rg.se, 0.3) : null));
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
    expect(t.grad === undefined, `grad ${i} present`).toBe(gb[i]!.grad === undefined);
    if (!t.requiresGrad) return;
    const want = gb[i]!.grad!.dataSync();
    const scale = Array.from(want).reduce((m: number, v: number) => Math.max(m, Math.abs(v)), 0);
    expectClose(t.grad!.dataSync(), want, 1e-4, 1e-4 * scale, `grad ${i}`);
  });
  for (const t of [...ga, ...gb, a.rm, a.rv, b.rm, b.rv, fused, composed, u]) {
    t.grad?.dispose();
    t.dispose();
  }
}

// On `threads` OpenMP threads (restored afterwards).
function withThreads(threads: number, fn: () => void): void {
  const before = native.info().threads;
  native.setNumThreads(threads);
  try {
    fn();
  } finally {
    native.setNumThreads(before);
  }
}

describe('batchNormActSe equals batchNormAct + squeezeExcite at thread-parallel sizes', () => {
  it('scSE add, relu, 4×32×32×64 (the models’ case)', () => compare('scse', 'add', 'relu', [4, 32, 32, 64], 11));
  it('scSE max, prelu, 3×20×18×32', () => compare('scse', 'max', 'prelu', [3, 20, 18, 32], 12));
  it('cSE, relu, 5×16×16×48', () => compare('cse', 'add', 'relu', [5, 16, 16, 48], 13));
  it('sSE, relu, 2×40×24×40', () => compare('sse', 'add', 'relu', [2, 40, 24, 40], 14));
});

// Images just above the parallel grain (P·C > 2^15) whose pixel count leaves a partial group of
// 1, 2 or 3 pixels at the end of the last thread's chunk, with N = 1 and odd C, on 1, 3 and the
// default number of threads (the per-thread partial sums and the chunk boundaries move).
describe('batchNormActSe equals the composition for parallel images with a tail, on 1, 3 and all threads', () => {
  const runs: [string, Kind, SeAggregation, NormActivation, number, number[]][] = [
    ['cSE, prelu per-channel, N = 1, 169 pixels (tail 1)', 'cse', 'add', 'prelu', 200, [1, 13, 13, 200]],
    ['scSE mul, prelu shared, 182 pixels (tail 2), odd C', 'scse', 'mul', 'prelu', 1, [2, 14, 13, 181]],
    ['scSE max, relu, 183 pixels (tail 3)', 'scse', 'max', 'relu', 0, [2, 3, 61, 180]],
    ['sSE, none, 183 pixels (tail 3)', 'sse', 'add', 'none', 0, [2, 61, 3, 180]],
    ['scSE add, prelu per-channel, 169 pixels (tail 1), odd C', 'scse', 'add', 'prelu', 195, [2, 13, 13, 195]],
  ];
  for (const threads of [1, 3, 0]) {
    for (const [name, kind, agg, act, na, shape] of runs) {
      it(`${name}, ${threads || 'all'} thread(s)`, () =>
        withThreads(threads || native.info().threads, () => compare(kind, agg, act, shape, 60 + shape[3]!, { slopeLen: na || shape[3]! })));
    }
  }

  it('with images larger than the streaming threshold (output rows streamed)', () => compare('scse', 'mul', 'relu', [1, 96, 96, 256], 70));
});

describe('batchNormActSe accuracy and gradient subsets', () => {
  // |mean| ≫ std: the fused sums take x − mean per value as the composition's BN backward does
  for (const [kind, agg, act] of [
    ['scse', 'add', 'relu'],
    ['cse', 'add', 'none'],
    ['scse', 'mul', 'prelu'],
    ['sse', 'add', 'prelu'],
  ] as const) {
    it(`x = 1000 + 0.01·noise: ${kind} ${agg} ${act} equals the composition`, () => compare(kind, agg, act, [2, 9, 7, 6], 80, { xOffset: 1000, xScale: 0.01 }));
  }
  it('x = -3e4 + noise, odd pixel count, on the parallel path', () => compare('scse', 'max', 'prelu', [1, 13, 13, 200], 81, { xOffset: -3e4, slopeLen: 1 }));

  it('only the SE parameters and the norm parameters require gradients (x does not)', () =>
    compare('scse', 'add', 'prelu', [2, 5, 3, 6], 82, { grad: { x: false, norm: true, se: true } }));
  it('only x requires gradients', () => compare('scse', 'mul', 'relu', [2, 5, 3, 6], 83, { grad: { x: true, norm: false, se: false } }));
  it('only the SE parameters require gradients', () => compare('cse', 'add', 'relu', [2, 5, 3, 6], 84, { grad: { x: false, norm: false, se: true } }));
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
  // Without gradients the native eval-mode op runs (2 passes); it must equal the composition.
  const evalCases: [Kind, SeAggregation, NormActivation, number[]][] = [
    ['scse', 'add', 'relu', [2, 4, 4, 8]],
    ['scse', 'max', 'prelu', [3, 5, 3, 6]],
    ['scse', 'mul', 'none', [1, 7, 5, 5]],
    ['cse', 'add', 'relu', [4, 32, 32, 64]],
    ['sse', 'add', 'prelu', [2, 40, 24, 40]],
  ];
  for (const [kind, agg, act, shape] of evalCases) {
    it(`eval mode without gradients: the native op equals the composition (${kind}${kind === 'scse' ? ` ${agg}` : ''}, ${act}, ${shape.join('×')})`, () => {
      const C = shape[3]!;
      const x = randt(shape, 80, false);
      const g = randt([C], 81, false);
      const b = randt([C], 82, false);
      const slope = act === 'prelu' ? randt([C], 83, false, 0.3) : undefined;
      const rm = Tensor.fromArray(randn([C], 84), [C]);
      const rv = Tensor.fromArray(randn([C], 85).map((v) => 1 + v * v), [C]);
      const se = seShapes(kind, C, true).map((s, i) => (s ? randt(s, 86 + i, false, 0.3) : null));
      const params = Object.fromEntries(KEYS.map((k, i) => [k, se[i]])) as SeParams;
      const opts = { training: false, activation: act, runningMean: rm, runningVar: rv, ...(slope ? { slope } : {}) };
      const calls = { infer: 0 };
      const infer = native.batchNormActSeInfer;
      native.batchNormActSeInfer = (...a) => (calls.infer++, infer(...a));
      try {
        const y = batchNormActSe(x, g, b, opts, { kind, aggregation: agg, params });
        const want = squeezeExcite(batchNormAct(x, g, b, opts), kind, params, agg);
        expect(calls.infer).toBe(1);
        expectClose(y.dataSync(), want.dataSync(), 1e-6, 1e-7, 'eval forward');
      } finally {
        native.batchNormActSeInfer = infer;
      }
    });
  }

  it('eval mode without gradients: errors name the op and argument; a NaN names its image', () => {
    const C = 4;
    const h = (t: Tensor | null) => t?.handle ?? null;
    const x = Tensor.zeros([2, 3, 3, C]);
    const se = seShapes('scse', C, true).map((s) => h(Tensor.zeros(s!)));
    const [g, b, rm, rv] = [Tensor.ones([C]), Tensor.zeros([C]), Tensor.zeros([C]), Tensor.ones([C])].map(h);
    expectError(() => native.batchNormActSeInfer(2, h(x), ...se, g, b, rm, h(Tensor.ones([3])), 1e-5, 1, null), 'batchNormActSe scSE(add)', "'runningVar'", '[4]', '[3]');
    expectError(() => native.batchNormActSeInfer(2, h(x), ...se, g, b, null, rv, 1e-5, 1, null), 'batchNormActSe scSE(add)', "'runningMean'");
    const data = new Float32Array(2 * 9 * C);
    data[9 * C + 3] = Number.NaN;
    // activation 'none': the NaN reaches the squeeze (ReLU maps it to 0, in the composition too)
    expectError(() => native.batchNormActSeInfer(1, h(Tensor.fromArray(data, [2, 3, 3, C])), ...se, g, b, rm, rv, 1e-5, 0, null), 'batchNormActSe sSE', 'NaN or Inf', 'image 1');
  });

  it('eval mode with gradients is batchNormAct + squeezeExcite with the running statistics, bit for bit', () => {
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
    expectError(() => native.batchNormActSeTrain(2, h(x), null, ...p.slice(1), h(g), h(b), null, null, 0.1, 1e-5, 1, null), 'batchNormActSe scSE(add)', "'fc1.weight'", 'required');
    expectError(() => native.batchNormActSeTrain(1, h(x), ...p.slice(0, 4), null, null, h(g), h(b), null, null, 0.1, 1e-5, 1, null), 'batchNormActSe sSE', "'conv.weight'", 'required');
    expectError(() => native.batchNormActSeTrain(1, h(x), ...p, null, h(b), null, null, 0.1, 1e-5, 1, null), 'batchNormActSe sSE', "'gamma'", 'required');
    expectError(() => native.batchNormActSeTrain(2, h(x), ...p, h(g), h(b), null, null, 0.1, 1e-5, 3, null), 'batchNormActSe scSE(add)', "'act'");
    expectError(() => native.batchNormActSeTrain(2, h(x), ...p, h(g), h(b), null, null, 0.1, 1e-5, 2, h(Tensor.ones([C + 1]))), 'batchNormActSe scSE(add)', "'slope'", '[5]');
    expectError(() => native.batchNormActSeTrain(2, h(Tensor.zeros([1, 1, 1, C])), ...p, h(g), h(b), null, null, 0.1, 1e-5, 1, null), 'batchNormActSe scSE(add)', 'N*H*W > 1');
    expectError(() => native.batchNormActSeTrain(2, h(x), ...p, h(g), h(b)), 'batchNormActSe scSE(add)', "'momentum'");
    expectError(() => native.batchNormActSeBackward(2, h(x), ...p, h(g), h(b)), 'batchNormActSeBackward scSE(add)', "'mean'");
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
