// The cuDNN loader against fake libcudnn.so.9 files built here with the C compiler (no cuDNN on
// this machine): version decoding, the major-9 requirement, a missing symbol, a file or a
// directory in SCSE_CUDNN_PATH, and status-code names for 8.x and 9.x.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { cudaCompiled, hooks } from './hooks.js';

const root = join(import.meta.dirname, '..', '..');
const haveCc = spawnSync('cc', ['--version']).status === 0;

describe.runIf(cudaCompiled)('cuDNN version decoding and status names', () => {
  const h = hooks!;

  it('decodes 9.x (M*10000+m*100+p) and 8.x (M*1000+m*100+p) versions', () => {
    const cases: [number, string][] = [
      [90000, '9.0.0'], [90100, '9.1.0'], [91002, '9.10.2'], [91700, '9.17.0'], [100000, '10.0.0'],
      [8907, '8.9.7'], [8100, '8.1.0'], [8004, '8.0.4'], [7605, '7.6.5'],
    ];
    for (const [raw, want] of cases) expect(h.decodeCudnnVersion(raw).string, String(raw)).toBe(want);
    expect(h.decodeCudnnVersion(91002)).toEqual({ major: 9, minor: 10, patch: 2, string: '9.10.2' });
  });

  it('names status codes by major: 9.x renumbered every non-zero code', () => {
    expect(h.cudnnStatusName(0, 9)).toBe('CUDNN_STATUS_SUCCESS');
    expect(h.cudnnStatusName(0, 8)).toBe('CUDNN_STATUS_SUCCESS');
    expect(h.cudnnStatusName(2000, 9)).toBe('CUDNN_STATUS_BAD_PARAM');
    expect(h.cudnnStatusName(3, 8)).toBe('CUDNN_STATUS_BAD_PARAM');
    expect(h.cudnnStatusName(1008, 9)).toBe('CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED');
    expect(h.cudnnStatusName(3007, 9)).toBe('CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH');
    expect(h.cudnnStatusName(4004, 9)).toBe('CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED');
    expect(h.cudnnStatusName(5003, 9)).toBe('CUDNN_STATUS_EXECUTION_FAILED_CUDART');
    expect(h.cudnnStatusName(6, 8)).toBe('CUDNN_STATUS_ARCH_MISMATCH');
    expect(h.cudnnStatusName(14, 8)).toBe('CUDNN_STATUS_VERSION_MISMATCH');
    // A v8 code read as v9 (and vice versa) is not silently given the wrong name.
    expect(h.cudnnStatusName(3, 9)).toBe('CUDNN_STATUS_3');
    expect(h.cudnnStatusName(2000, 8)).toBe('CUDNN_STATUS_2000');
    // Newer 9.x codes than our table: named by category.
    expect(h.cudnnStatusName(2099, 9)).toBe('CUDNN_STATUS_BAD_PARAM_99 (2099)');
    expect(h.cudnnStatusName(3014, 9)).toBe('CUDNN_STATUS_NOT_SUPPORTED_INVALID_DYNAMIC_SHAPE'); // 9.18
    expect(h.cudnnStatusName(3099, 9)).toBe('CUDNN_STATUS_NOT_SUPPORTED_99 (3099)');
    expect(h.cudnnStatusName(9999, 9)).toBe('CUDNN_STATUS_9999');
  });

  it('resolves the documented subset: required symbols plus optional 9.x-only ones', () => {
    const { required, optional } = h.cudnnSymbols();
    expect(required.length).toBe(51); // NATIVE-NOTES §2, without the optional cudnnGetLastErrorString
    expect(new Set(required).size).toBe(required.length);
    expect(required).toContain('cudnnConvolutionBackwardFilter');
    expect(required).toContain('cudnnBatchNormalizationBackward');
    expect(optional).toEqual(['cudnnGetLastErrorString']);
  });
});

describe.runIf(cudaCompiled && haveCc)('cuDNN loader with fake libraries', () => {
  const h = hooks!;
  let dir = '';

  // A shared library exporting `symbols` (all returning 0) with cudnnGetVersion() = version.
  function fakeLib(name: string, version: number, symbols: string[]): string {
    const lines = ['#include <stddef.h>', `size_t cudnnGetVersion(void) { return ${version}; }`];
    for (const s of symbols) {
      if (s === 'cudnnGetVersion') continue;
      if (s === 'cudnnGetCudartVersion') lines.push('size_t cudnnGetCudartVersion(void) { return 13000; }');
      else if (s === 'cudnnGetErrorString') lines.push('const char* cudnnGetErrorString(int s) { (void)s; return "fake"; }');
      else lines.push(`int ${s}(void) { return 0; }`);
    }
    const out = join(dir, name);
    mkdirSync(join(out, '..'), { recursive: true });
    const src = `${out}.c`;
    writeFileSync(src, lines.join('\n') + '\n');
    const r = spawnSync('cc', ['-shared', '-fPIC', '-o', out, src], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    return out;
  }

  let all: string[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'scse-cudnn-'));
    const s = h.cudnnSymbols();
    all = [...s.required, ...s.optional];
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a complete 9.x library given as a file or as its directory', () => {
    const lib = fakeLib('v9/libcudnn.so.9', 91002, all);
    expect(h.tryLoadCudnn(lib)).toEqual({ loaded: true, version: '9.10.2', path: lib, reason: '', hasLastErrorString: true });
    const viaDir = h.tryLoadCudnn(join(dir, 'v9'));
    expect(viaDir.loaded).toBe(true);
    expect(viaDir.path).toBe(lib);
  });

  it('accepts a 9.x library without the optional symbols', () => {
    const lib = fakeLib('v9min/libcudnn.so.9', 90100, all.filter((s) => s !== 'cudnnGetLastErrorString'));
    expect(h.tryLoadCudnn(lib)).toMatchObject({ loaded: true, version: '9.1.0', hasLastErrorString: false });
  });

  it('refuses cuDNN 8 with the version and path', () => {
    const lib = fakeLib('v8/libcudnn.so.8', 8907, all);
    expect(h.tryLoadCudnn(lib)).toMatchObject({ loaded: false, version: '8.9.7', reason: `cuDNN 8.9.7 found at ${lib}; scse needs cuDNN 9` });
  });

  it('refuses a library missing one symbol of the subset, naming the symbol and the library', () => {
    const lib = fakeLib('partial/libcudnn.so.9', 90100, all.filter((s) => s !== 'cudnnConvolutionBackwardFilter'));
    const r = h.tryLoadCudnn(lib);
    expect(r.loaded).toBe(false);
    expect(r.reason).toMatch(new RegExp(`^cuDNN 9\\.1\\.0 at ${lib.replace(/[.]/g, '\\.')} lacks the symbol cudnnConvolutionBackwardFilter \\(`));
  });

  it('refuses a library that is not cuDNN, and a path that does not exist', () => {
    const lib = fakeLib('other/libfoo.so', 0, []);
    // fakeLib always defines cudnnGetVersion: build a library without it by hand.
    const src = join(dir, 'none.c');
    writeFileSync(src, 'int notCudnn(void) { return 1; }\n');
    const none = join(dir, 'none.so');
    expect(spawnSync('cc', ['-shared', '-fPIC', '-o', none, src]).status).toBe(0);
    expect(h.tryLoadCudnn(none).reason).toBe(`the library at ${none} does not export cudnnGetVersion: not a cuDNN library`);
    expect(h.tryLoadCudnn(lib).reason).toContain('found at'); // version 0 decodes to 0.0.0: not 9
    const missing = join(dir, 'nowhere');
    expect(h.tryLoadCudnn(missing).reason).toMatch(
      new RegExp(`^cuDNN could not be loaded from SCSE_CUDNN_PATH=${missing}: .*No such file or directory`),
    );
    // A directory without libcudnn.so.9: the message shows the file that was tried.
    expect(h.tryLoadCudnn(dir).reason).toContain(`SCSE_CUDNN_PATH=${dir} (${dir}/libcudnn.so.9): `);
  });

  it('the process-wide status honours SCSE_CUDNN_PATH (separate process: the result is cached)', () => {
    const lib = fakeLib('env/libcudnn.so.9', 90600, all);
    const script = `
      const a = require('node-gyp-build')(${JSON.stringify(root)});
      const s = a.cudaStatus();
      console.log(JSON.stringify({ cudnn: a.cudnnStatus(), usable: s.usable, reason: s.reason, runtimeUsable: s.runtimeUsable }));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, SCSE_CUDNN_PATH: join(dir, 'env') } });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { cudnn: Record<string, unknown>; usable: boolean; reason: string; runtimeUsable: boolean };
    expect(out.cudnn).toEqual({ loaded: true, version: '9.6.0', rawVersion: 90600, cudartVersion: 13000, path: lib, reason: '' });
    // cuDNN alone does not make CUDA usable: the runtime reason still comes first.
    if (!out.runtimeUsable) expect(out.usable).toBe(false);
    if (!out.runtimeUsable) expect(out.reason).not.toBe('');
  });
});
