import { Command } from 'commander';

import { native } from '../native.js';

export function backendInfo(): Record<string, unknown> {
  const i = native.info();
  return {
    version: process.env.npm_package_version ?? '0.1.0',
    backends: { cpu: { compiled: true, usable: true, onednn: i.onednn, threads: i.threads }, cuda: { compiled: i.cudaCompiled } },
  };
}

export function infoCommand(): Command {
  return new Command('info')
    .description('print the version, the compiled and usable backends and the thread count')
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }) => {
      const info = backendInfo();
      if (opts.json) console.log(JSON.stringify(info, null, 2));
      else {
        const b = info.backends as { cpu: { onednn: string; threads: number }; cuda: { compiled: boolean } };
        console.log(`scse ${String(info.version)}`);
        console.log(`cpu : oneDNN ${b.cpu.onednn}, ${b.cpu.threads} threads`);
        console.log(`cuda: ${b.cuda.compiled ? 'compiled' : 'not compiled (no nvcc at build time)'}`);
      }
    });
}
