// CUDA detection and device selection on a machine that may have no GPU: the addon must load,
// report why CUDA cannot run, refuse 'cuda' with that reason and fall back to the CPU for 'auto'.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { cudaStatus, DeviceUnavailableError, parseDevice, resolveDevice } from '../../src/device.js';
import { native } from '../../src/native.js';
import { cudaCompiled, hooks } from './hooks.js';
import { thrown } from '../helpers.js';

const root = join(import.meta.dirname, '..', '..');
const status = cudaStatus();
const noDriver = status.compiled && status.driverVersion === 0;

function cli(args: string[], env: Record<string, string | undefined> = {}) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], {
    encoding: 'utf8',
    cwd: root,
    env: { ...process.env, ...env },
  });
}

describe('build', () => {
  it('compiles the CUDA layer when nvcc is on PATH at build time (SCSE_CUDA=AUTO)', () => {
    const cache = join(root, 'build', 'CMakeCache.txt');
    const nvcc = spawnSync('nvcc', ['--version']).status === 0;
    const auto = existsSync(cache) && !/^SCSE_CUDA:STRING=OFF$/m.test(readFileSync(cache, 'utf8'));
    if (nvcc && auto) expect(native.info().cudaCompiled).toBe(true);
    expect(status.compiled).toBe(native.info().cudaCompiled);
    if (!status.compiled) expect(status.reason).toMatch(/^this build has no CUDA backend/);
  });

  // The binary the tests load (build/ first, then prebuilds/).
  const addon = (createRequire(import.meta.url)('node-gyp-build') as { resolve(dir: string): string }).resolve(root);
  const readelf = spawnSync('readelf', ['-d', addon], { encoding: 'utf8' });
  it.runIf(readelf.status === 0)('the addon needs no CUDA library at load time and binds every symbol (-z now)', () => {
    const needed = [...readelf.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
    expect(needed.filter((n) => /cuda|cudnn|nvidia/i.test(n))).toEqual([]);
    expect(readelf.stdout).toMatch(/BIND_NOW|Flags: NOW/);
  });
});

describe.runIf(noDriver)('on a machine without an NVIDIA driver', () => {
  const reason = 'no NVIDIA driver is installed (cudaGetDeviceCount: cudaErrorInsufficientDriver)';

  it('cudaStatus says why CUDA is not usable', () => {
    expect(status).toMatchObject({ compiled: true, usable: false, runtimeUsable: false, reason, driverVersion: 0, devices: [] });
    expect(status.runtimeVersion).toBeGreaterThanOrEqual(13000);
    expect(status.archs).toBe('75,80,86,89,90 + PTX 120');
    // cuDNN is evaluated independently of the driver.
    expect(status.cudnn.reason).not.toBe('');
  });

  it("resolveDevice: 'auto' -> cpu, 'cuda' / 'cuda:N' throw the reason", () => {
    expect(resolveDevice('auto')).toBe('cpu');
    expect(resolveDevice('cpu')).toBe('cpu');
    expect(thrown(() => resolveDevice('cuda'))).toBe(`cuda: not usable: ${reason}`);
    expect(() => resolveDevice('cuda:1')).toThrow(`cuda:1: not usable: ${reason}`);
    expect(() => resolveDevice('cuda')).toThrow(DeviceUnavailableError);
  });

  it('device memory functions fail with the reason instead of crashing', () => {
    expect(() => native.cudaRoundTrip(new Float32Array(4))).toThrow(`cudaRoundTrip: cuda:0: not usable: ${reason}`);
    expect(native.cudaMemory(0)).toEqual({ bytesInUse: 0, bytesReserved: 0, bytesCached: 0, backendAllocations: 0 });
    expect(() => native.cudaEmptyCache(0)).not.toThrow();
  });

  it('scse info --json reports it; --device cuda exits 1 with the reason on stderr', () => {
    const r = cli(['info', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout) as { backends: { cuda: typeof status }; device: { selected: string; why: string } };
    expect(info.backends.cuda).toMatchObject({ compiled: true, usable: false, reason });
    expect(info.device).toEqual({ selected: 'cpu', why: `CUDA not usable: ${reason}` });

    const bad = cli(['info', '--device', 'cuda']);
    expect(bad.signal).toBe(null);
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim()).toBe(`scse: cuda: not usable: ${reason}`);
    expect(bad.stdout).toBe('');
  });

  it('SCSE_DEVICE=cuda is refused the same way; text output names the reason', () => {
    const bad = cli(['info'], { SCSE_DEVICE: 'cuda' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(reason);
    const ok = cli(['info', '--device', 'auto'], { SCSE_DEVICE: 'cuda' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`not usable: ${reason}`);
    expect(ok.stdout).toContain('device: cpu (CUDA not usable: ');
  });

  it('SCSE_CUDNN_PATH pointing nowhere: the cuDNN reason names that path', () => {
    const r = cli(['info', '--json'], { SCSE_CUDNN_PATH: '/nonexistent/libcudnn.so.9' });
    expect(r.status, r.stderr).toBe(0);
    const cudnn = (JSON.parse(r.stdout) as { backends: { cuda: typeof status } }).backends.cuda.cudnn;
    expect(cudnn.loaded).toBe(false);
    expect(cudnn.reason).toMatch(/^cuDNN could not be loaded from SCSE_CUDNN_PATH=\/nonexistent\/libcudnn\.so\.9: .*No such file/);
  });
});

describe('device strings', () => {
  const saved = process.env.SCSE_DEVICE;
  afterEach(() => {
    if (saved === undefined) delete process.env.SCSE_DEVICE;
    else process.env.SCSE_DEVICE = saved;
  });

  it('parseDevice accepts auto, cpu, cuda, cuda:N and names what it expected otherwise', () => {
    expect(parseDevice('auto')).toEqual({ kind: 'auto' });
    expect(parseDevice(' cpu ')).toEqual({ kind: 'cpu' });
    expect(parseDevice('cuda')).toEqual({ kind: 'cuda', index: null });
    expect(parseDevice('cuda:3')).toEqual({ kind: 'cuda', index: 3 });
    for (const bad of ['gpu', 'CUDA', 'cuda:', 'cuda:-1', 'cuda:1.5', 'cuda:x', 'cuda0', ''])
      expect(() => parseDevice(bad), bad).toThrow(`device: expected 'auto', 'cpu', 'cuda' or 'cuda:N' (N a device index >= 0), got '${bad}'`);
    expect(() => parseDevice(3)).toThrow('got number');
  });

  it('SCSE_DEVICE is the default; an explicit spec wins; a bad value names the variable', () => {
    process.env.SCSE_DEVICE = 'cpu';
    expect(resolveDevice()).toBe('cpu');
    process.env.SCSE_DEVICE = 'nonsense';
    expect(() => resolveDevice()).toThrow("SCSE_DEVICE: expected 'auto', 'cpu', 'cuda' or 'cuda:N'");
    expect(resolveDevice('cpu')).toBe('cpu');
    process.env.SCSE_DEVICE = '';
    expect(resolveDevice()).toBe(status.usable ? `cuda:${status.devices.find((d) => d.usable)!.index}` : 'cpu');
  });

  it.runIf(!status.usable)("'cuda' throws exactly the status reason whatever the cause", () => {
    expect(thrown(() => resolveDevice('cuda'))).toBe(`cuda: not usable: ${status.reason}`);
  });
});

describe.runIf(cudaCompiled)('reason texts (pure functions)', () => {
  const h = hooks!;

  it('cudaGetDeviceCount failures: no driver, driver too old, no device, other', () => {
    expect(h.describeInitFailure(35, 0, 13000)).toBe('no NVIDIA driver is installed (cudaGetDeviceCount: cudaErrorInsufficientDriver)');
    expect(h.describeInitFailure(35, 12040, 13000)).toBe(
      'the NVIDIA driver is too old: it supports CUDA 12.4, this build needs CUDA 13.0 (driver >= 580); update the driver ' +
        '(cudaGetDeviceCount: cudaErrorInsufficientDriver)',
    );
    expect(h.describeInitFailure(35, 13000, 13000)).toMatch(/^the NVIDIA driver \(CUDA 13\.0\) was rejected by the CUDA 13\.0 runtime \(cudaGetDeviceCount: cudaErrorInsufficientDriver: /);
    expect(h.describeInitFailure(100, 13000, 13000)).toBe(
      'an NVIDIA driver (CUDA 13.0) is installed but no CUDA device is visible (cudaGetDeviceCount: cudaErrorNoDevice); ' +
        'check CUDA_VISIBLE_DEVICES and access to /dev/nvidia*',
    );
    expect(h.describeInitFailure(0, 13010, 13000)).toContain('no CUDA device is visible (cudaGetDeviceCount returned 0 devices)');
    expect(h.describeInitFailure(803, 13000, 13000)).toContain('different versions');
    expect(h.describeInitFailure(999, 13000, 13000)).toBe('CUDA initialisation failed (cudaGetDeviceCount: cudaErrorUnknown: unknown error)');
    expect(h.errorText(2)).toBe('cudaErrorMemoryAllocation: out of memory');
  });

  it('architecture coverage: SASS within a major, PTX forward, arch-specific exact', () => {
    const archs = h.buildArchs();
    expect(archs).toBe('75-real,80-real,86-real,89-real,90-real,120-virtual');
    const cases: [number, number, number][] = [
      [7, 5, 1], [8, 0, 1], [8, 6, 1], [8, 7, 1], [8, 9, 1], [9, 0, 1], [12, 0, 1], [12, 1, 1],
      [6, 1, 0], [7, 0, 0], [7, 2, 0],
      // Blackwell datacenter (10.x) and Thor (11.0): no SASS for their major and PTX 12.0 is newer.
      [10, 0, 0], [10, 3, 0], [11, 0, 0],
    ];
    for (const [ma, mi, want] of cases) expect(h.archSupports(archs, ma, mi), `sm_${ma}${mi}`).toBe(want);
    expect(h.archSupports('90a-real', 9, 0)).toBe(1);
    expect(h.archSupports('80a-real', 8, 6)).toBe(0);
    expect(h.archSupports('86', 9, 0)).toBe(1); // "86" = SASS + PTX
    expect(h.archSupports('86-real;native', 9, 0)).toBe(-1);
    expect(h.describeArchs(archs)).toBe('75,80,86,89,90 + PTX 120');
    expect(h.describeArchs('86;90a-real;native')).toBe('86,90a + PTX 86 + native');
  });

  it('no kernel image: names the GPU, the build archs and how to rebuild', () => {
    const archs = h.buildArchs();
    expect(h.describeNoKernelImage(archs, 10, 0, 'NVIDIA B200', 'cudaFuncGetAttributes: cudaErrorNoKernelImageForDevice')).toBe(
      "GPU sm_100 (NVIDIA B200) not in this build's architectures (75,80,86,89,90 + PTX 120); rebuild with " +
        'SCSE_CUDA_ARCHS="75-real;80-real;86-real;89-real;90-real;120-virtual;100-real" (cudaFuncGetAttributes: cudaErrorNoKernelImageForDevice)',
    );
    expect(h.describeNoKernelImage(archs, 6, 1, 'NVIDIA TITAN Xp', '')).toBe(
      "GPU sm_61 (NVIDIA TITAN Xp) not in this build's architectures (75,80,86,89,90 + PTX 120); CUDA 13 cannot compile " +
        'for it: rebuild with a CUDA 12.x toolkit and SCSE_CUDA_ARCHS="61-real" (and use cuDNN <= 9.10 for this GPU)',
    );
  });
});
