// The --device option shared by commands that run ops: `auto | cpu | cuda | cuda:N`, default
// $SCSE_DEVICE or auto. Asking for CUDA where it cannot run ends the command with exit code 1
// and the precise reason on stderr (never a crash).
import { Option, type Command } from 'commander';

import { resolveDevice, type ResolvedDevice } from '../device.js';

export function deviceOption(): Option {
  return new Option('--device <device>', 'where to run: auto | cpu | cuda | cuda:N (default: $SCSE_DEVICE, else auto)');
}

/** The device for `spec` (the option's value, undefined when not given); exits 1 with the reason on failure. */
export function resolveCliDevice(_cmd: Command, spec: string | undefined): ResolvedDevice {
  try {
    return resolveDevice(spec, '--device');
  } catch (e) {
    // a failure, not bad usage: the reason alone (no usage text), exit code 1
    console.error(`scse: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
