// The package's own version (not the consumer's $npm_package_version) in `scse --version` and
// `scse info`; the addon build finds cmake-js where npm puts it in a consumer's project (hoisted
// next to scse, not inside it).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
const cli = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), ...args], {
    encoding: 'utf8',
    cwd: root,
    env: { ...process.env, ...env },
    timeout: 60_000,
  });

describe('package version and install layout', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('scse --version prints package.json version', () => {
    const r = cli(['--version']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it("scse info reports scse's version, not the consumer's npm_package_version", () => {
    const r = cli(['info', '--json'], { npm_package_version: '9.9.9-consumer' });
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { version: string }).version).toBe(version);
  });

  it('the addon build resolves cmake-js hoisted into the consumer node_modules', () => {
    const consumer = mkdtempSync(join(tmpdir(), 'scse-consumer-'));
    dirs.push(consumer);
    const pkg = join(consumer, 'node_modules', 'scse');
    mkdirSync(join(pkg, 'scripts'), { recursive: true });
    cpSync(join(root, 'package.json'), join(pkg, 'package.json'));
    cpSync(join(root, 'scripts', 'build-addon.mjs'), join(pkg, 'scripts', 'build-addon.mjs'));
    symlinkSync(join(root, 'node_modules', 'cmake-js'), join(consumer, 'node_modules', 'cmake-js'));
    const r = spawnSync(process.execPath, [join(pkg, 'scripts', 'build-addon.mjs'), '--which'], { encoding: 'utf8', cwd: consumer });
    expect(r.status, r.stderr).toBe(0);
    // (Node resolves the symlink standing in for the hoisted copy to its real path)
    expect(r.stdout.trim()).toBe(join(realpathSync(join(consumer, 'node_modules', 'cmake-js')), 'bin', 'cmake-js'));
    // and without it anywhere: a message, not a crash
    rmSync(join(consumer, 'node_modules', 'cmake-js'));
    const miss = spawnSync(process.execPath, [join(pkg, 'scripts', 'build-addon.mjs'), '--which'], { encoding: 'utf8', cwd: consumer });
    expect(miss.status).toBe(1);
    expect(miss.stderr).toMatch(/cmake-js \(a dependency of scse\) was not found/);
  });
});
