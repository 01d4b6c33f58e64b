#!/usr/bin/env node
// npm run test:emu: builds the addon with SCSE_CUDA=EMU (the native/cuda sources on the CPU
// emulator, native/cuda/emu/) into build-emu/, then runs the GPU suites and the emulator's own
// tests against it, and ends with "N passed, M failed, K skipped". Exit code: vitest's.
//   --no-build     use build-emu/ as it is
//   SCSE_EMU_BUILD_DIR=<dir>  build into / test from <dir> instead of build-emu/ (relative to the
//                  repository root; scripts/emu-sanitize.sh uses build-emu-asan/)
//   extra args     passed to vitest (e.g. a file filter)
// The schedule of the emulated threads comes from SCSE_CUEMU_ORDER (forward by default).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(root, process.env.SCSE_EMU_BUILD_DIR || 'build-emu');
const args = process.argv.slice(2);
const build = !args.includes('--no-build');
const vitestArgs = args.filter((a) => a !== '--no-build');

if (build) {
  console.log(`test:emu: building the emulated CUDA addon into ${relative(root, out)}/ (SCSE_CUDA=EMU)`);
  const cmakeJs = join(dirname(fileURLToPath(import.meta.resolve('cmake-js/package.json'))), 'bin', 'cmake-js');
  const r = spawnSync(process.execPath, [cmakeJs, 'compile', '--directory', root, '--out', out, '--CDSCSE_CUDA=EMU'], {
    stdio: 'inherit',
    cwd: root,
  });
  if (r.status !== 0) {
    console.log('0 passed, 1 failed, 0 skipped');
    process.exit(1);
  }
}
const addon = join(out, 'Release', 'scse.node');
if (!existsSync(addon)) {
  console.error(`test:emu: ${addon} is missing (run without --no-build)`);
  process.exit(1);
}

const report = join(out, 'vitest-emu.json');
rmSync(report, { force: true });
const env = {
  ...process.env,
  SCSE_ADDON: addon,
  SCSE_CUDNN_PATH: process.env.SCSE_CUDNN_PATH ?? join(out, 'Release', 'libscse_cudnn_emu.so'),
  SCSE_EMU_BUILD: out,
  SCSE_CUDNN_EMU_PATH: join(out, 'Release', 'libscse_cudnn_emu.so'),
};
const suites = vitestArgs.length ? vitestArgs : ['test/gpu', 'test/cuda', 'test/emu'];
const v = spawnSync(
  process.execPath,
  [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...suites],
  { stdio: 'inherit', cwd: root, env },
);
if (!existsSync(report)) {
  console.log('0 passed, 1 failed, 0 skipped');
  process.exit(1);
}
const r = JSON.parse(readFileSync(report, 'utf8'));
// a file that fails to load has no failed assertion but is a failure
const broken = r.testResults.filter((f) => f.status === 'failed' && !f.assertionResults.some((a) => a.status === 'failed')).length;
console.log(`${r.numPassedTests} passed, ${r.numFailedTests + broken} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
process.exit(v.status ?? 1);
