#!/usr/bin/env node
// Builds the native addon with cmake-js. `--if-missing` (the npm install hook) skips the build
// when a usable prebuilt binary is already there. Extra CMake options come from the environment:
// SCSE_CUDA=OFF|AUTO|EMU, SCSE_CUDA_ARCHS="75-real;...". `--which` prints the cmake-js it would run.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
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
// cmake-js is found the way Node finds modules from this package: in its own node_modules, or
// hoisted into a consumer's (npm's default layout), or further up.
let cmakeJs;
try {
  cmakeJs = join(dirname(createRequire(join(root, 'package.json')).resolve('cmake-js/package.json')), 'bin', 'cmake-js');
} catch {
  console.error('scse: cmake-js (a dependency of scse) was not found from ' + root + '; reinstall scse with npm');
  process.exit(1);
}
if (process.argv.includes('--which')) {
  console.log(cmakeJs);  // where cmake-js was found (for the install-layout test), nothing built
  process.exit(0);
}
const r = spawnSync(process.execPath, [cmakeJs, ...args], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
