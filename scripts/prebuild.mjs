#!/usr/bin/env node
// npm run prebuild: prebuilds/<platform>-<arch>/scse.napi.glibc.node via prebuildify, with our
// cmake-js build standing in for node-gyp.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'node_modules', 'prebuildify', 'bin.js');
const shim = join(root, 'scripts', 'node-gyp-shim.mjs');
const r = spawnSync(process.execPath, [bin, '--napi', '--strip', '--tag-libc', '--node-gyp', shim], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
