#!/usr/bin/env node
// Builds the native addon with cmake-js. `--if-missing` (the npm install hook) skips the build
// when a usable prebuilt binary is already there. Extra CMake options come from the environment:
// SCSE_CUDA=OFF|AUTO, SCSE_CUDA_ARCHS="75-real;...".
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ifMissing = process.argv.includes('--if-missing');
const prebuilt = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
if (ifMissing && existsSync(prebuilt) && readdirSync(prebuilt).some((f) => f.endsWith('.node'))) {
  console.log(`scse: using prebuilt addon in ${prebuilt}`);
  process.exit(0);
}
const args = ['compile', '--directory', root, '--out', join(root, 'build')];
if (process.env.SCSE_CUDA) args.push(`--CDSCSE_CUDA=${process.env.SCSE_CUDA}`);
if (process.env.SCSE_CUDA_ARCHS) args.push(`--CDSCSE_CUDA_ARCHS=${process.env.SCSE_CUDA_ARCHS}`);
const cmakeJs = join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
const r = spawnSync(process.execPath, [existsSync(cmakeJs) ? cmakeJs : 'cmake-js', ...args], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
