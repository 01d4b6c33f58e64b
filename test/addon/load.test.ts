import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const prebuilt = join(root, 'prebuilds', `${process.platform}-${process.arch}`);

describe('addon loading', () => {
  it('npm run prebuild produced a tagged N-API binary', () => {
    expect(existsSync(prebuilt), `${prebuilt} missing: run \`npm run prebuild\``).toBe(true);
    expect(readdirSync(prebuilt).filter((f) => f.endsWith('.node'))).toEqual(['scse.glibc.node']);
  });

  it('loads from prebuilds/ alone (PREBUILDS_ONLY=1) and runs an op', () => {
    const script = `
      const load = require('node-gyp-build');
      const path = load.resolve(${JSON.stringify(root)});
      const a = load(${JSON.stringify(root)});
      const t = a.empty([4], 'float32');
      t.write(new Float32Array([-1, 2, -3, 4]));
      console.log(JSON.stringify({ path, y: Array.from(a.relu(t).read()) }));`;
    const r = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, PREBUILDS_ONLY: '1' }, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { path: string; y: number[] };
    expect(out.path.startsWith(prebuilt)).toBe(true);
    expect(out.y).toEqual([0, 2, 0, 4]);
  });

  it('the CLI prints help and backend info', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'info', '--json'], { encoding: 'utf8', cwd: root });
    expect(r.status, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout) as { backends: { cpu: { onednn: string } } };
    expect(info.backends.cpu.onednn).toMatch(/^2\.\d+\.\d+$/);
  });
});
