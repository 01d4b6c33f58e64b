// Where the conformance references are: the real cuDNN 9 unpacked by scripts/cudnn-wheel.mjs
// (or the folder in $SCSE_CUDNN_REFERENCE, with include/ and lib/),
// the CUDA headers its headers include, and the CPU stand-in library (native/cuda/emu/cudnn).
// Each is null with a `...Missing` reason when absent, so tests can skip saying why.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const root = join(import.meta.dirname, '..', '..');

export interface CudnnReference {
  include: string; // cudnn.h, cudnn_graph.h, ...
  libDir: string;
  lib: string; // libcudnn.so.9
  version: string; // from cudnn_version.h, "9.24.0"
}

function findReference(): CudnnReference | string {
  const dir = process.env.SCSE_CUDNN_REFERENCE || join(root, '.cache', 'cudnn'); // another unpacked cuDNN 9
  const include = join(dir, 'include');
  const lib = join(dir, 'lib', 'libcudnn.so.9');
  if (!existsSync(join(include, 'cudnn.h')) || !existsSync(lib)) {
    return `the real cuDNN is not unpacked in ${dir} (run node scripts/cudnn-wheel.mjs; it needs the nvidia-cudnn-cu13 wheel)`;
  }
  const text = readFileSync(join(include, 'cudnn_version.h'), 'utf8');
  const def = (name: string) => /^#define\s+\w+\s+(\d+)/m.exec(text.slice(text.indexOf(`#define ${name} `)))?.[1] ?? '?';
  return { include, libDir: dirname(lib), lib, version: `${def('CUDNN_MAJOR')}.${def('CUDNN_MINOR')}.${def('CUDNN_PATCHLEVEL')}` };
}

// The CUDA toolkit's include folder (cudnn.h includes cuda_runtime_api.h and library_types.h).
function findCudaInclude(): string | string[] {
  const nvcc = spawnSync('sh', ['-c', 'command -v nvcc'], { encoding: 'utf8' }).stdout.trim();
  const candidates = [process.env.CUDA_HOME, process.env.CUDA_PATH, '/usr/local/cuda', nvcc ? join(dirname(nvcc), '..') : undefined]
    .filter((d): d is string => !!d)
    .map((d) => join(d, 'include'));
  return candidates.find((d) => existsSync(join(d, 'cuda_runtime_api.h'))) ?? candidates;
}

const ref = findReference();
export const reference = typeof ref === 'string' ? null : ref;
export const referenceMissing = typeof ref === 'string' ? ref : '';

const cuda = findCudaInclude();
export const cudaInclude = typeof cuda === 'string' ? cuda : null;
export const cudaIncludeMissing = typeof cuda === 'string' ? '' : `no CUDA headers (cuda_runtime_api.h) in ${cuda.join(', ')}`;

export const haveGxx = spawnSync('g++', ['--version']).status === 0;
export const haveCc = spawnSync('cc', ['--version']).status === 0;

// The CPU stand-in: $SCSE_CUDNN_EMU_PATH, or where the emulator build puts it.
const emuCandidate = process.env.SCSE_CUDNN_EMU_PATH || join(root, 'build-emu', 'Release', 'libscse_cudnn_emu.so');
export const emuLib = existsSync(emuCandidate) ? emuCandidate : null;
export const emuMissing = emuLib ? '' : `no cuDNN stand-in built at ${emuCandidate} (set SCSE_CUDNN_EMU_PATH)`;
