#!/usr/bin/env node
// Unpacks the headers and libraries of NVIDIA's nvidia-cudnn-cu13 wheel (cuDNN 9 for CUDA 13)
// into .cache/cudnn/{include,lib} (ignored by git), the reference the conformance tests compare
// our own cuDNN declarations and descriptors against (test/cuda/cudnn_conformance.test.ts).
// cuDNN is never a build dependency: a machine without the wheel prints "not available: <why>"
// and exits 0, and those tests skip. Running it again is a no-op once the cache matches the wheel.
//
// The wheel is looked for in $SCSE_CUDNN_WHEEL (a file), then in pip's configured find-links
// folders and file:// indexes plus /opt/pypi-more/files and /opt/wheels, and last through
// `pip download --no-index` from those same places (never a network index).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cache = join(root, '.cache', 'cudnn');
const stampFile = join(cache, 'wheel.json');
const say = (msg) => console.log(`cudnn-wheel: ${msg}`);
const archTag = { x64: 'x86_64', arm64: 'aarch64' }[process.arch];

// nvidia_cudnn_cu13-9.24.0.43-py3-none-manylinux_2_27_x86_64.whl -> [9, 24, 0, 43]
function wheelVersion(file) {
  const m = /^nvidia_cudnn_cu13-(\d+(?:\.\d+)*)-[^-]+-[^-]+-(.+)\.whl$/.exec(basename(file));
  if (!m || !m[2].split('.').some((t) => t.startsWith('manylinux') && t.endsWith(`_${archTag}`))) return null;
  const v = m[1].split('.').map(Number);
  return v[0] === 9 ? v : null; // the loader accepts cuDNN 9 only
}
const newer = (a, b) => {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return false;
};

// pip's configured find-links and index URLs ("key='v1 v2'" lines of `pip config list`).
function pipSources() {
  const r = spawnSync('pip', ['config', 'list'], { encoding: 'utf8', timeout: 20000 });
  const values = { 'find-links': [], 'index-url': [], 'extra-index-url': [] };
  for (const line of r.status === 0 ? r.stdout.split('\n') : []) {
    const m = /\.([a-z-]+)='(.*)'$/.exec(line.trim());
    if (m && m[1] in values) values[m[1]].push(...m[2].split(/\s+/).filter(Boolean));
  }
  return values;
}

// Candidate wheel files: folders are listed; a file:// simple index is read for the project's links.
function findWheels(folders, indexes) {
  const found = [];
  for (const folder of folders) {
    try {
      for (const f of readdirSync(folder)) if (wheelVersion(f)) found.push(join(folder, f));
    } catch {
      // a configured folder that does not exist here: nothing in it
    }
  }
  for (const index of indexes) {
    const page = join(index, 'nvidia-cudnn-cu13', 'index.html');
    if (!existsSync(page)) continue;
    for (const m of readFileSync(page, 'utf8').matchAll(/href="([^"#]+\.whl)/g)) {
      const file = resolve(dirname(page), decodeURIComponent(m[1]));
      if (wheelVersion(file) && existsSync(file)) found.push(file);
    }
  }
  return found;
}

function pipDownload(links) {
  if (links.length === 0) return null;
  const dir = mkdtempSync(join(tmpdir(), 'scse-cudnn-wheel-'));
  const args = ['download', '--no-deps', '--no-index', '--only-binary=:all:', '-d', dir];
  for (const l of links) args.push('--find-links', l);
  const r = spawnSync('pip', [...args, 'nvidia-cudnn-cu13>=9,<10'], { encoding: 'utf8', timeout: 300000 });
  const whl = r.status === 0 ? readdirSync(dir).find((f) => wheelVersion(f)) : undefined;
  return whl ? join(dir, whl) : null;
}

function readStamp() {
  try {
    return JSON.parse(readFileSync(stampFile, 'utf8'));
  } catch {
    return null;
  }
}
const cacheComplete = () => existsSync(join(cache, 'include', 'cudnn.h')) && existsSync(join(cache, 'lib', 'libcudnn.so.9'));

// Unpacks into a fresh folder next to the cache, then swaps it in: an interrupted run never
// leaves a half-extracted cache that later runs would take as complete.
function extract(wheel, version) {
  mkdirSync(dirname(cache), { recursive: true });
  const tmp = mkdtempSync(join(dirname(cache), 'cudnn.tmp-'));
  try {
    const members = ['nvidia/cudnn/include/*', 'nvidia/cudnn/lib/*', '*.dist-info/licenses/*'];
    let r = spawnSync('unzip', ['-q', '-o', wheel, ...members, '-d', tmp], { encoding: 'utf8' });
    if (r.error || r.status !== 0) {
      // no unzip here: python's zipfile (pip needs python, so it is there when wheels are)
      const py = `import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
for n in z.namelist():
    if n.startswith(('nvidia/cudnn/include/', 'nvidia/cudnn/lib/')) or '.dist-info/licenses/' in n:
        z.extract(n, sys.argv[2])`;
      r = spawnSync('python3', ['-c', py, wheel, tmp], { encoding: 'utf8' });
      if (r.error || r.status !== 0) throw new Error(`cannot unpack ${wheel}: ${r.error?.message ?? r.stderr.trim()}`);
    }
    const out = join(tmp, 'out');
    mkdirSync(out);
    renameSync(join(tmp, 'nvidia', 'cudnn', 'include'), join(out, 'include'));
    renameSync(join(tmp, 'nvidia', 'cudnn', 'lib'), join(out, 'lib'));
    const info = readdirSync(tmp).find((f) => f.endsWith('.dist-info'));
    const license = info && join(tmp, info, 'licenses', 'License.txt');
    if (license && existsSync(license)) renameSync(license, join(out, 'License.txt'));
    const stamp = { wheel: basename(wheel), size: statSync(wheel).size, version: version.slice(0, 3).join('.') };
    writeFileSync(join(out, 'wheel.json'), JSON.stringify(stamp, null, 2) + '\n');
    rmSync(cache, { recursive: true, force: true });
    renameSync(out, cache);
    return stamp;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function main() {
  if (process.platform !== 'linux' || !archTag) return say(`not available: the wheel is for Linux x86_64/aarch64, this is ${process.platform}-${process.arch}`);
  let wheel = process.env.SCSE_CUDNN_WHEEL || null;
  if (wheel && !wheelVersion(wheel)) return say(`not available: SCSE_CUDNN_WHEEL=${wheel} is not an nvidia-cudnn-cu13 9.x wheel for ${archTag}`);
  if (wheel && !existsSync(wheel)) return say(`not available: SCSE_CUDNN_WHEEL=${wheel} does not exist`);
  let folders = [];
  let indexes = [];
  let links = [];
  let downloaded = false; // pip's copy in a temp folder, removed once unpacked
  if (!wheel) {
    // The usual folders first; asking pip for its configuration costs a Python start-up.
    folders = ['/opt/pypi-more/files', '/opt/wheels'];
    let found = findWheels(folders, []);
    if (found.length === 0) {
      const pip = pipSources();
      const local = (u) => (u.startsWith('file://') ? fileURLToPath(u) : u.includes('://') ? null : u);
      folders = [...new Set([...pip['find-links'].map(local).filter(Boolean), ...folders])];
      indexes = [...new Set([...pip['index-url'], ...pip['extra-index-url']].map(local).filter(Boolean))];
      found = findWheels(folders, indexes);
    }
    for (const f of found) if (!wheel || newer(wheelVersion(f), wheelVersion(wheel))) wheel = f;
    links = [...folders.filter((f) => existsSync(f)), ...indexes.map((i) => join(i, 'nvidia-cudnn-cu13')).filter((p) => existsSync(p))];
  }
  const stamp = readStamp();
  if (cacheComplete() && stamp && (!wheel || (stamp.wheel === basename(wheel) && stamp.size === statSync(wheel).size))) {
    return say(`cuDNN ${stamp.version} (${stamp.wheel}) already in ${cache}`);
  }
  if (!wheel) {
    say(`no wheel in ${[...folders, ...indexes].join(', ')}; trying pip download --no-index`);
    wheel = pipDownload(links);
    downloaded = wheel !== null;
  }
  if (!wheel) return say(`not available: no nvidia-cudnn-cu13 9.x wheel for ${archTag} in pip's local stores (${[...folders, ...indexes].join(', ')}); set SCSE_CUDNN_WHEEL to one`);
  const t0 = Date.now();
  let s;
  try {
    s = extract(wheel, wheelVersion(wheel));
  } finally {
    if (downloaded) rmSync(dirname(wheel), { recursive: true, force: true });
  }
  say(`cuDNN ${s.version} headers and libraries from ${wheel} in ${cache} (include/, lib/; ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

try {
  main();
} catch (e) {
  // a reference for tests only: never fail CI over it
  say(`not available: ${e instanceof Error ? e.message : String(e)}`);
}
