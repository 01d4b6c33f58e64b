import { Command } from 'commander';

import { cudaStatus, describeDeviceChoice, type CudaStatus } from '../device.js';
import { native } from '../native.js';
import { packageVersion } from '../version.js';
import { deviceOption, resolveCliDevice } from './device.js';

export interface BackendInfo {
  version: string;
  backends: { cpu: { compiled: true; usable: true; onednn: string; threads: number }; cuda: CudaStatus };
}

export function backendInfo(): BackendInfo {
  const i = native.info();
  return {
    version: packageVersion,
    backends: { cpu: { compiled: true, usable: true, onednn: i.onednn, threads: i.threads }, cuda: cudaStatus() },
  };
}

const gib = (b: number): string => `${(b / 2 ** 30).toFixed(1)} GiB`;
const cudaVersion = (v: number): string => `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}`;

function cudaLines(c: CudaStatus): string[] {
  if (!c.compiled) return [`cuda: not usable: ${c.reason}`];
  const lines = [
    `${c.backend === 'cuda-emu' ? 'cuda-emu (CPU emulator of the CUDA backend, for tests)' : 'cuda'}: compiled (runtime ${cudaVersion(c.runtimeVersion)}, archs ${c.archs}), ` +
      (c.usable ? 'usable' : `not usable: ${c.reason}`),
  ];
  if (c.driverVersion) lines.push(`      driver supports CUDA ${cudaVersion(c.driverVersion)}`);
  for (const d of c.devices) {
    lines.push(
      `      cuda:${d.index} ${d.name}, sm_${d.computeCapability.replace('.', '')}, ${gib(d.totalMemory)}, ${d.multiProcessors} SMs` +
        (d.usable ? '' : ` - not usable: ${d.reason}`),
    );
  }
  const n = c.cudnn;
  lines.push(n.loaded ? `      cuDNN ${n.version} at ${n.path}` : `      cuDNN: not loaded: ${n.reason}`);
  return lines;
}

export function infoCommand(): Command {
  return new Command('info')
    .description('print the version, the compiled and usable backends (with the reason when CUDA is not usable) and the device that would run')
    .option('--json', 'machine-readable output')
    .addOption(deviceOption())
    .action((opts: { json?: boolean; device?: string }, cmd: Command) => {
      resolveCliDevice(cmd, opts.device); // exits 1 with the reason when the device cannot run
      const choice = describeDeviceChoice(opts.device);
      const info = { ...backendInfo(), device: { selected: choice.device, why: choice.why } };
      if (opts.json) console.log(JSON.stringify(info, null, 2));
      else {
        const b = info.backends;
        console.log(`scse ${info.version}`);
        console.log(`cpu : oneDNN ${b.cpu.onednn}, ${b.cpu.threads} threads`);
        for (const l of cudaLines(b.cuda)) console.log(l);
        console.log(`device: ${choice.device} (${choice.why})`);
      }
    });
}
