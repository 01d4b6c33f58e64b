#!/usr/bin/env node
// prebuildify calls `node-gyp rebuild ...`; it has no cmake-js backend (prebuild/prebuildify#49),
// so this stand-in runs our cmake-js build instead (incremental: an up-to-date build/ is reused).
// The result is build/Release/scse.node, which prebuildify then copies and tags.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = join(dirname(fileURLToPath(import.meta.url)), 'build-addon.mjs');
const r = spawnSync(process.execPath, [script], { stdio: 'inherit' });
process.exit(r.status ?? 1);
