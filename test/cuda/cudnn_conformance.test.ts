// Conformance with the real cuDNN 9 (unpacked from NVIDIA's wheel by scripts/cudnn-wheel.mjs; no
// GPU needed): our declarations against its headers at compile time, our loader and status names
// against its library and header, and the descriptors our ops build as the library reads them
// back, also against the CPU stand-in (native/cuda/emu/cudnn) when it is built.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { conv2d, convTranspose2d } from '../../src/ops/conv.js';
import { Tensor } from '../../src/tensor.js';
import { cudaCompiled, hooks, type ProbeCase, type ProbeResult } from './hooks.js';
import {
  cudaInclude,
  cudaIncludeMissing,
  emuLib,
  emuMissing,
  haveCc,
  haveGxx,
  reference,
  referenceMissing,
  root,
} from './cudnn_reference.js';

const nativeDir = join(root, 'native');
const ourHeader = join(nativeDir, 'cuda', 'cudnn.h');
const checkFile = join(nativeDir, 'cuda', 'conformance', 'cudnn_abi_check.cc');

function skipReason(parts: [boolean, string][]): string {
  return parts.find(([ok]) => !ok)?.[1] ?? '';
}
function announce(what: string, reason: string): boolean {
  if (reason) console.log(`cudnn_conformance: ${what} skipped: ${reason}`);
  return reason !== '';
}

// ---- 1. declarations: cudnn_abi_check.cc compiled against the real headers ------------------------
const abiSkip = skipReason([[reference !== null, referenceMissing], [haveGxx, 'no g++'], [cudaInclude !== null, cudaIncludeMissing]]);

function compileCheck(firstInclude?: string) {
  const args = ['-std=c++17', '-fsyntax-only', '-Wall', '-Wextra'];
  if (firstInclude) args.push('-I', firstInclude);
  args.push('-I', nativeDir, '-I', reference!.include, '-I', cudaInclude!, checkFile);
  return spawnSync('g++', args, { encoding: 'utf8' });
}

describe.skipIf(announce('ABI check', abiSkip))('our cuDNN declarations against the real cuDNN headers', () => {
  const header = readFileSync(ourHeader, 'utf8');
  const check = readFileSync(checkFile, 'utf8');

  it('the check covers every constant and every function type of cuda/cudnn.h', () => {
    const constants = new Set([...header.matchAll(/\b(CUDNN_[A-Z0-9_]+)\s*=/g)].map((m) => m[1]));
    const enumList = /#define SCSE_CUDNN_ENUMS\(X\)([\s\S]*?)\n\n/.exec(check)![1]!;
    const checked = new Set([...enumList.matchAll(/X\((CUDNN_\w+)\)/g)].map((m) => m[1]));
    // the two that are macros in the real header are checked one by one
    for (const m of ['CUDNN_DIM_MAX', 'CUDNN_BN_MIN_EPSILON']) {
      expect(check).toContain(`== ${m},`);
      checked.add(m);
    }
    expect([...checked].sort()).toEqual([...constants].sort());
    expect(constants.size).toBe(67);

    // The check walks the loader's X-macro lists: every fn:: type must be in one of them.
    const fnBlock = /namespace fn \{([\s\S]*?)\}\s*\/\/ namespace fn/.exec(header)![1]!;
    const types = new Set([...fnBlock.matchAll(/using (cudnn\w+) =/g)].map((m) => m[1]));
    const lists = /#define SCSE_CUDNN_REQUIRED\(X\)([\s\S]*?)#define SCSE_CUDNN_OPTIONAL\(X\)(.*)/.exec(header)!;
    const listed = new Set([...(lists[1]! + lists[2]!).matchAll(/X\((cudnn\w+)\)/g)].map((m) => m[1]));
    expect([...listed].sort()).toEqual([...types].sort());
    expect(types.size).toBe(52);
  });

  it('compiles: every value, function type and the algo-perf layout equal the real ones', () => {
    const r = compileCheck();
    expect(r.stderr, 'g++ on cudnn_abi_check.cc').toBe('');
    expect(r.status).toBe(0);
  });

  // The check must be able to fail: a copy of our header with one wrong value, one wrong
  // parameter type, one swapped struct member.
  describe('fails on a deliberately wrong copy of cuda/cudnn.h', () => {
    let dir = '';
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'scse-cudnn-abi-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const mutants: [string, string, string, string][] = [
      ['an enum value', 'CUDNN_TENSOR_NHWC = 1', 'CUDNN_TENSOR_NHWC = 0', 'CUDNN_TENSOR_NHWC: our value differs'],
      ['a parameter type', 'cudnnDeriveBNTensorDescriptor = S (*)(TD derived, TD xD', 'cudnnDeriveBNTensorDescriptor = S (*)(TD derived, FD xD', 'function::cudnnDeriveBNTensorDescriptor'],
      ['a struct member order', '  float time;\n  size_t memory;', '  size_t memory;\n  float time;', 'cudnnConvolutionFwdAlgoPerf_t::time: offset differs'],
    ];
    it.each(mutants)('%s', (_what, from, to, message) => {
      expect(header).toContain(from);
      const sub = join(dir, `m${mutants.findIndex((m) => m[1] === from)}`);
      mkdirSync(join(sub, 'cuda'), { recursive: true });
      writeFileSync(join(sub, 'cuda', 'cudnn.h'), header.replace(from, to));
      const r = compileCheck(sub);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(message);
    });
  });
});

// ---- 2. the loader and status names against the real library and header ---------------------------
const loaderSkip = skipReason([[cudaCompiled, 'the addon was built without CUDA'], [reference !== null, referenceMissing]]);

describe.skipIf(announce('loader conformance', loaderSkip))('the loader with the real libcudnn.so.9', () => {
  const h = hooks!;

  it('resolves every required and optional symbol and decodes the version of the header', () => {
    const r = h.tryLoadCudnn(reference!.lib);
    expect(r).toEqual({ loaded: true, version: reference!.version, path: reference!.lib, reason: '', hasLastErrorString: true });
    expect(h.cudnnSymbols().optional).toEqual(['cudnnGetLastErrorString']); // hasLastErrorString covers them all
  });

  const statusSkip = skipReason([[haveCc, 'no C compiler'], [cudaInclude !== null, cudaIncludeMissing]]);
  describe.skipIf(announce('status names', statusSkip))('status names', () => {
    // Every enumerator of the real cudnnStatus_t, its value as the compiler sees it, whether the
    // header marks it deprecated, and the library's own cudnnGetErrorString for it.
    let statuses: { name: string; code: number; deprecated: boolean; libraryName: string }[] = [];
    beforeAll(() => {
      const graph = readFileSync(join(reference!.include, 'cudnn_graph.h'), 'utf8');
      const body = /typedef\s+enum\s*\{([\s\S]*?)\}\s*cudnnStatus_t\s*;/.exec(graph)![1]!;
      const entries = body
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, '')
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean)
        .map((e) => ({ name: /^(CUDNN_STATUS_\w+)/.exec(e)![1]!, deprecated: e.includes('CUDNN_DEPRECATED_ENUM') }));
      const lines = entries.map(
        (e) => `  printf("%s %d ${e.deprecated ? 1 : 0} %s\\n", "${e.name}", (int)${e.name}, cudnnGetErrorString(${e.name}));`,
      );
      const dir = mkdtempSync(join(tmpdir(), 'scse-cudnn-status-'));
      try {
        const src = join(dir, 'statuses.c');
        writeFileSync(src, `#include <stdio.h>\n#include <cudnn.h>\nint main(void) {\n${lines.join('\n')}\n  return 0;\n}\n`);
        const exe = join(dir, 'statuses');
        const cc = spawnSync('cc', ['-Wno-deprecated-declarations', '-I', reference!.include, '-I', cudaInclude!, src, '-o', exe,
          '-L', reference!.libDir, '-l:libcudnn.so.9', `-Wl,-rpath,${reference!.libDir}`], { encoding: 'utf8' });
        if (cc.status !== 0) throw new Error(cc.stderr);
        const run = spawnSync(exe, { encoding: 'utf8' });
        if (run.status !== 0) throw new Error(run.stderr);
        statuses = run.stdout.trim().split('\n').map((l) => {
          const [name, code, dep, libraryName] = l.split(' ');
          return { name: name!, code: Number(code), deprecated: dep === '1', libraryName: libraryName! };
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    // A deprecated alias (ALLOC_FAILED = INTERNAL_ERROR_HOST_ALLOCATION_FAILED) goes by the current
    // name; a deprecated code of its own (INVALID_VALUE 2001) by its own.
    const canonical = () => {
      const byCode = new Map<number, string>();
      for (const s of statuses) if (!s.deprecated) {
        expect(byCode.has(s.code), `${s.name} shares ${s.code}`).toBe(false);
        byCode.set(s.code, s.name);
      }
      for (const s of statuses) if (!byCode.has(s.code)) byCode.set(s.code, s.name);
      return byCode;
    };

    it('names every code of the real cudnnStatus_t as the header and the library do', () => {
      expect(statuses.length).toBeGreaterThan(40); // 54 in 9.24
      const names = canonical();
      for (const [code, name] of names) {
        expect(statuses.find((s) => s.code === code)!.libraryName, `cudnnGetErrorString(${code})`).toBe(name);
        expect(h.cudnnStatusName(code, 9), `cudnnStatusName(${code}, 9)`).toBe(name);
      }
    });

    it('names no code the real header does not have', () => {
      const names = canonical();
      for (let code = 0; code < 6000; code++) {
        const name = h.cudnnStatusName(code, 9);
        if (/^CUDNN_STATUS_\d+$/.test(name) || name.includes('(')) continue; // "not in our table"
        expect(names.get(code), `our table names ${code} ${name}`).toBe(name);
      }
    });
  });
});

// ---- 3. descriptors: what the library reads back from the descriptors our ops build -----------------
const descSkip = loaderSkip;

type Pair = [number, number];
interface Spec {
  transposed?: boolean;
  N: number; H: number; W: number; inC: number; outC: number;
  k: number | Pair; stride?: number | Pair; pad?: number | Pair; dil?: number | Pair; outPad?: number | Pair;
  tf32?: boolean;
}
const pair = (v: number | Pair | undefined, d: number): Pair => (v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v);

// The shape families our networks and ops use: 'same' convolutions with odd sizes and kernels 1, 3,
// 5, 7, stride 2, dilation 2, non-square kernels and strides, linear layers as 1x1 convolutions
// (native/cuda/dispatch_conv.cc), TF32, and transposed convolutions (U-Net's 2x2 stride-2
// upsampling, 3x3 and 5x5 stride 2 with and without output padding, stride 1, dilation).
const convSpecs: Spec[] = [
  { N: 2, H: 7, W: 9, inC: 3, outC: 5, k: 1 },
  { N: 2, H: 7, W: 9, inC: 3, outC: 5, k: 3, pad: 1 },
  { N: 1, H: 13, W: 11, inC: 4, outC: 6, k: 5, pad: 2 },
  { N: 1, H: 15, W: 17, inC: 1, outC: 8, k: 7, pad: 3 },
  { N: 1, H: 15, W: 17, inC: 2, outC: 3, k: 7 },
  { N: 2, H: 9, W: 8, inC: 3, outC: 4, k: 3, stride: 2, pad: 1 },
  { N: 1, H: 16, W: 16, inC: 2, outC: 2, k: 2, stride: 2 },
  { N: 1, H: 11, W: 10, inC: 3, outC: 3, k: 3, dil: 2, pad: 2 },
  { N: 1, H: 12, W: 13, inC: 2, outC: 5, k: 5, stride: 2, dil: 2, pad: 1 },
  { N: 3, H: 6, W: 10, inC: 5, outC: 7, k: [3, 5], stride: [1, 2], pad: [0, 2] },
  { N: 4, H: 1, W: 1, inC: 33, outC: 10, k: 1 },
  { N: 1, H: 1, W: 1, inC: 1, outC: 1, k: 1 },
  { N: 2, H: 8, W: 8, inC: 16, outC: 16, k: 3, pad: 1, tf32: true },
  { transposed: true, N: 2, H: 4, W: 5, inC: 6, outC: 3, k: 2, stride: 2 },
  { transposed: true, N: 1, H: 5, W: 5, inC: 4, outC: 3, k: 3, stride: 2, pad: 1, outPad: 1 },
  { transposed: true, N: 1, H: 7, W: 6, inC: 3, outC: 2, k: 3, stride: 2, pad: 1 },
  { transposed: true, N: 1, H: 3, W: 4, inC: 2, outC: 5, k: 5, stride: 2, pad: 2, outPad: 1 },
  { transposed: true, N: 1, H: 6, W: 6, inC: 3, outC: 3, k: 3, pad: 1 },
  { transposed: true, N: 1, H: 5, W: 4, inC: 2, outC: 2, k: 3, stride: 2, dil: 2, pad: 2, outPad: 1 },
  { transposed: true, N: 2, H: 5, W: 3, inC: 3, outC: 4, k: [2, 3], stride: [2, 1], outPad: [1, 0] },
  { transposed: true, N: 2, H: 4, W: 4, inC: 3, outC: 3, k: 1 },
];
// Allowed by the op (outputPadding < dilation) but not expressible in cuDNN (outputPadding >= stride):
// the op must refuse it with its own message, the same from every library.
const inexpressible: Spec = { transposed: true, N: 1, H: 4, W: 4, inC: 2, outC: 2, k: 3, dil: 2, pad: 1, outPad: 1 };

const bnDims = [
  { N: 2, H: 3, W: 5, C: 7 },
  { N: 1, H: 1, W: 1, C: 1 },
  { N: 4, H: 16, W: 16, C: 33 },
  { N: 3, H: 5, W: 1, C: 5 },
  { N: 1, H: 9, W: 7, C: 64 },
];

// The op's output [N, OH, OW, outC], from the CPU op itself (src/ops/conv.ts + native/cpu/conv.cc).
function cpuOutput(s: Spec): number[] {
  const [kh, kw] = pair(s.k, 1);
  const x = Tensor.zeros([s.N, s.H, s.W, s.inC]);
  const w = Tensor.zeros(s.transposed ? [s.inC, kh, kw, s.outC] : [s.outC, kh, kw, s.inC]);
  const opts = { stride: pair(s.stride, 1), padding: pair(s.pad, 0), dilation: pair(s.dil, 1) };
  const y = s.transposed ? convTranspose2d(x, w, null, { ...opts, outputPadding: pair(s.outPad, 0) }) : conv2d(x, w, null, opts);
  const shape = [...y.shape];
  for (const t of [x, w, y]) t.dispose();
  return shape;
}

// cuda::ConvParams as native/cpu/conv.cc's cudaParams builds it.
function probeCase(s: Spec): ProbeCase {
  const [, OH, OW, OC] = cpuOutput(s) as [number, number, number, number];
  const [KH, KW] = pair(s.k, 1), [strideH, strideW] = pair(s.stride, 1), [padH, padW] = pair(s.pad, 0);
  const [dilationH, dilationW] = pair(s.dil, 1);
  return { kind: 'conv', transposed: !!s.transposed, N: s.N, IC: s.inC, IH: s.H, IW: s.W, OC, KH, KW, OH, OW,
    strideH, strideW, padH, padW, dilationH, dilationW, allowTf32: !!s.tf32 };
}

// An NHWC float tensor with logical dims (n, c, h, w): packed strides, channels innermost.
function nhwc(n: number, c: number, h: number, w: number) {
  const strides = [h * w * c, 1, w * c, c];
  return { status: 0, dataType: 0, dims: [n, c, h, w], strides, nd: { status: 0, dataType: 0, nbDims: 4, dims: [n, c, h, w], strides } };
}

describe.skipIf(announce('descriptor conformance', descSkip))('the descriptors our ops build, read back by the real cuDNN', () => {
  const h = hooks!;
  const cases = [...convSpecs.map(probeCase), probeCase(inexpressible), ...bnDims.map((d) => ({ kind: 'bn' as const, ...d }))];
  let real: ProbeResult[] = [];
  beforeAll(() => {
    const r = h.cudnnDescriptorProbe(reference!.lib, cases);
    expect(r.reason).toBe('');
    real = r.results!;
  });

  // One probe per ConvParams covers the op's three directions: cudnn_ops.cc builds the same
  // descriptors (cudnn_desc::setConvDescriptors) for forward, backward data and backward weights.
  it.each(convSpecs.map((s, i) => [JSON.stringify(s), i] as const))('conv %s', (_name, i) => {
    const c = cases[i] as Extract<ProbeCase, { kind: 'conv' }>;
    const r = real[i]!;
    expect(r.error).toBeNull();
    // The equivalent convolution (cudnn_descriptors.h): in -> out with a [K][KH][KW][C] filter.
    const t = c.transposed;
    const inDims = t ? [c.N, c.OC, c.OH, c.OW] : [c.N, c.IC, c.IH, c.IW];
    const outDims = t ? [c.N, c.IC, c.IH, c.IW] : [c.N, c.OC, c.OH, c.OW];
    // cuDNN's output size equals the CPU op's: y for a convolution; for a transposed one, the
    // convolution run back from its output gives its input.
    expect(r.outputDim).toEqual({ status: 0, dims: outDims });
    expect(r.in).toEqual(nhwc(...(inDims as [number, number, number, number])));
    expect(r.out).toEqual(nhwc(...(outDims as [number, number, number, number])));
    expect(r.filter).toEqual({ status: 0, dataType: 0, format: 1, dims: [t ? c.IC : c.OC, t ? c.OC : c.IC, c.KH, c.KW] });
    expect(r.conv).toEqual({
      status: 0, pad: [c.padH, c.padW], stride: [c.strideH, c.strideW], dilation: [c.dilationH, c.dilationW],
      mode: 1, computeType: 0, // CROSS_CORRELATION, FLOAT
      mathTypeStatus: 0, mathType: c.allowTf32 ? 0 : 3, // DEFAULT_MATH (TF32 allowed) or FMA_MATH (strict fp32)
      groupCountStatus: 0, groupCount: 1,
    });
  });

  it('refuses a transposed convolution with outputPadding >= stride (cuDNN cannot express it)', () => {
    const r = real[convSpecs.length]!;
    expect(r.outputDim!.status).toBe(0);
    expect(r.error).toMatch(/^convTranspose2d: cuDNN's convolution maps \[1, 7, 7, 2\] to \[1, 5, 5, 2\], not the expected \[1, 4, 4, 2\] \(a transposed convolution needs outputPadding < stride on CUDA\)$/);
  });

  it.each(bnDims.map((d, i) => [JSON.stringify(d), i] as const))('batch norm %s', (_name, i) => {
    const d = bnDims[i]!;
    const r = real[convSpecs.length + 1 + i]!;
    expect(r.error).toBeNull();
    expect(r.x).toEqual(nhwc(d.N, d.C, d.H, d.W));
    // scale, bias, mean, variance: 1xCx1x1, the C values contiguous (cuDNN derives NCHW strides)
    expect(r.bn).toEqual({ status: 0, dataType: 0, dims: [1, d.C, 1, 1], strides: [d.C, 1, 1, 1],
      nd: { status: 0, dataType: 0, nbDims: 4, dims: [1, d.C, 1, 1], strides: [d.C, 1, 1, 1] } });
  });

  describe.skipIf(announce('stand-in comparison', emuMissing))('the CPU stand-in', () => {
    it('answers exactly as the real library for every case', () => {
      const r = h.cudnnDescriptorProbe(emuLib!, cases);
      expect(r.reason).toBe('');
      for (let i = 0; i < cases.length; i++) expect(r.results![i], JSON.stringify(cases[i])).toEqual(real[i]);
    });
  });
});
