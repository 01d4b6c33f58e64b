// The CPU stand-in for cuDNN (native/cuda/emu/cudnn), which the emulated CUDA build loads through
// SCSE_CUDNN_PATH: builds it and its conformance program (native/cuda/emu/cudnn/test, naive
// float64 references, finite differences) with g++ into a temp dir, runs the program, checks
// that the library exports cuDNN's names and nothing else, and — when the addon has the CUDA
// layer — that the real loader accepts it (version 9.24.0, every required symbol).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const srcDir = join(root, 'native', 'cuda', 'emu', 'cudnn');
const haveGxx = spawnSync('g++', ['--version']).status === 0;
const haveNm = spawnSync('nm', ['--version']).status === 0;
if (!haveGxx) console.log('cudnn_emu.test: skipped, g++ is not installed');

// The addon is optional here: the stand-in is tested on its own, the loader path only when the
// addon is built with its CUDA layer (importing the hooks loads the addon, which may be absent).
type Hooks = typeof import('../cuda/hooks.js');
let loaderHooks: Hooks | null = null;
let loaderSkip = '';
try {
  loaderHooks = await import('../cuda/hooks.js');
  if (!loaderHooks.cudaCompiled || !loaderHooks.hooks) loaderSkip = 'the addon was built without the CUDA layer';
} catch (e) {
  loaderSkip = `the addon is not loadable (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`;
}
if (loaderSkip) console.log(`cudnn_emu.test: loader check skipped, ${loaderSkip}`);

// The descriptor getters the stand-in exports besides cudnn.h's list (for conformance tests).
const getters = [
  'cudnnGetTensor4dDescriptor', 'cudnnGetTensorNdDescriptor', 'cudnnGetFilter4dDescriptor',
  'cudnnGetConvolution2dDescriptor', 'cudnnGetConvolutionMathType', 'cudnnGetConvolutionGroupCount',
  'cudnnGetPooling2dDescriptor', 'cudnnGetActivationDescriptor',
];

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

describe.skipIf(!haveGxx)('cuDNN CPU stand-in', () => {
  let dir = '';
  let lib = '';
  let build = { status: -1 as number | null, stdout: '', stderr: '' };
  let testBuild = { status: -1 as number | null, stdout: '', stderr: '' };
  let result = { status: -1 as number | null, stdout: '', stderr: '' };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'scse-cudnn-emu-'));
    // The loader takes a file, or a directory holding libcudnn.so.9: name it like the real one.
    lib = join(dir, 'libcudnn.so.9');
    const sources = readdirSync(srcDir).filter((f) => f.endsWith('.cc')).map((f) => join(srcDir, f));
    build = run('g++', [
      '-std=c++17', '-O2', '-shared', '-fPIC', '-Wall', '-Wextra', '-I', join(root, 'native'), ...sources,
      `-Wl,--version-script=${join(srcDir, 'exports.map')}`, '-o', lib,
    ]);
    const exe = join(dir, 'cudnn_emu_test');
    testBuild = run('g++', [
      '-std=c++17', '-O2', '-Wall', '-Wextra', '-I', join(root, 'native'), join(srcDir, 'test', 'cudnn_emu_test.cc'),
      '-ldl', '-o', exe,
    ]);
    if (build.status === 0 && testBuild.status === 0) result = run(exe, [lib]);
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds without warnings (-Wall -Wextra), library and test program', () => {
    expect(build.status, build.stderr).toBe(0);
    expect(build.stderr).not.toMatch(/warning/);
    expect(testBuild.status, testBuild.stderr).toBe(0);
    expect(testBuild.stderr).not.toMatch(/warning/);
  });

  it('passes every check of the conformance program', () => {
    const summary = /^(\d+) passed, (\d+) failed$/m.exec(result.stdout);
    const failures = result.stdout.split('\n').filter((l) => l.startsWith('FAIL')).join('\n');
    expect(summary, result.stdout + result.stderr).not.toBeNull();
    expect(Number(summary![2]), failures).toBe(0);
    // The program runs ~300 checks (conv table x layouts x directions, BN, pooling, softmax,
    // activations, errors); far fewer means a section stopped early.
    expect(Number(summary![1])).toBeGreaterThanOrEqual(250);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^PASS conv fwd 2x8x32x32 k8 3x3 .* x:NHWC w:KRSC y:NHWC xcorr a1 b0$/m);
    expect(result.stdout).toMatch(/^PASS BN backward dx vs finite differences \(saved stats\) spatial NHWC/m);
  });

  it.skipIf(!haveNm)('exports exactly the cuDNN names', () => {
    const nm = run('nm', ['-D', '--defined-only', lib]);
    expect(nm.status, nm.stderr).toBe(0);
    const names = nm.stdout.split('\n').filter(Boolean).map((l) => l.trim().split(/\s+/).pop()!);
    expect(names.filter((n) => !n.startsWith('cudnn'))).toEqual([]);
    expect(names).toEqual(expect.arrayContaining(getters));
    if (loaderHooks?.hooks && !loaderSkip) {
      const { required, optional } = loaderHooks.hooks.cudnnSymbols();
      expect(new Set(names)).toEqual(new Set([...required, ...optional, ...getters]));
    } else {
      expect(names.length).toBe(51 + 1 + getters.length); // cudnn.h: 51 required, 1 optional
    }
  });

  it.skipIf(loaderSkip !== '')('loads through the real loader (tryLoadCudnn): 9.24.0, every symbol', () => {
    const h = loaderHooks!.hooks!;
    expect(h.tryLoadCudnn(lib)).toEqual({ loaded: true, version: '9.24.0', path: lib, reason: '', hasLastErrorString: true });
    expect(h.tryLoadCudnn(dir)).toMatchObject({ loaded: true, path: lib }); // the directory form of SCSE_CUDNN_PATH
  });
});
