// Shared benchmark plumbing: timing, the PyTorch peer in its best configuration on this machine,
// and result files (JSON + markdown) under bench/results/.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const benchDir = dirname(fileURLToPath(import.meta.url));
export const resultsDir = join(benchDir, 'results');

/** Median and fastest wall time in ms of `fn` over `reps` runs after `warmup` untimed runs. */
export function timeMs(fn: () => void, reps = 10, warmup = 2): { median: number; min: number } {
  for (let i = 0; i < warmup; i++) fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  return { median: ts[Math.floor(ts.length / 2)]!, min: ts[0]! };
}

/** Median wall time in ms of `fn` over `reps` runs after `warmup` untimed runs. */
export function medianMs(fn: () => void, reps = 10, warmup = 2): number {
  return timeMs(fn, reps, warmup).median;
}

const TCMALLOC = '/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4';

/**
 * Runs a bench/peers/*.py script with Debian's PyTorch (/usr/bin/python3) in its best configuration:
 * all cores, tcmalloc preloaded when installed (glibc malloc page-faults heavily on large
 * tensors), AVX-512 kernels. `arg` goes to the script as JSON in argv[1]. Returns its parsed JSON
 * stdout, or null with the reason. `progress`: the script's stderr (its progress lines) is shown
 * as it runs instead of being kept for the reason.
 */
export function runTorchPeer<T>(script: string, arg: unknown, opts: { progress?: boolean } = {}): { result: T | null; reason?: string; config: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, ATEN_CPU_CAPABILITY: 'avx512', OMP_NUM_THREADS: String(cpus().length) };
  const preload = existsSync(TCMALLOC);
  if (preload) env.LD_PRELOAD = TCMALLOC;
  const config = `threads=${cpus().length}, tcmalloc=${preload ? 'yes' : 'no (apt-get install libgoogle-perftools4)'}, ATEN_CPU_CAPABILITY=avx512`;
  if (!existsSync('/usr/bin/python3')) return { result: null, reason: 'no /usr/bin/python3', config };
  const stdio = opts.progress ? (['ignore', 'pipe', 'inherit'] as const) : (['ignore', 'pipe', 'pipe'] as const);
  const r = spawnSync('/usr/bin/python3', [join(benchDir, 'peers', script), JSON.stringify(arg)], { env, encoding: 'utf8', maxBuffer: 1 << 26, stdio: [...stdio] });
  if (r.status !== 0) return { result: null, reason: (r.stderr || r.error?.message || `exit status ${r.status}`).trim().split('\n').slice(-3).join(' '), config };
  return { result: JSON.parse(r.stdout) as T, config };
}

export function writeResults(name: string, json: unknown, markdown: string): void {
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, `${name}.json`), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(join(resultsDir, `${name}.md`), markdown);
  console.log(markdown);
  console.log(`wrote ${join(resultsDir, name)}.{json,md}`);
}

/** A Markdown table; `align`: 'r' right-aligns that column (numbers). */
export function mdTable(header: string[], rows: (string | number)[][], align: ('l' | 'r')[] = []): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (align[i] === 'r' ? '---:' : '---'))), ...rows.map(line)].join('\n');
}
