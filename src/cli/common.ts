// Shared CLI plumbing: option parsing helpers and error handling (exit 2 for bad usage, 1 for
// failures, a one-line human message either way; --json for machine-readable output).
import { InvalidArgumentError } from 'commander';

export class UsageError extends Error {}

// Every numeric option takes an explicit upper bound (the parameter is required so none can be
// forgotten): without one `--subjects 1000000000` just starts generating and `--epochs 1e99` is
// taken as an integer. The strict syntax also refuses what Number() would quietly accept
// ('' -> 0, '0x10' -> 16, ' 5' -> 5), and '1e3' for an integer so a count is always written out.
const INT = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export function intOption(name: string, min: number, max: number) {
  return (v: string): number => {
    const allowed = `(allowed: ${min}..${max})`;
    // '1e99' is too big before it is "not an integer": say the bound it broke.
    if (FLOAT.test(v) && Number(v) > max) throw new InvalidArgumentError(`${name} must be an integer <= ${max}, got '${v}' ${allowed}`);
    const n = INT.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got '${v}' ${allowed}`);
    if (n > max) throw new InvalidArgumentError(`${name} must be an integer <= ${max}, got '${v}' ${allowed}`);
    return n;
  };
}

export function floatOption(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = FLOAT.test(v) ? Number(v) : NaN;
    const allowed = `(allowed: ${min}..${max})`;
    if (!Number.isFinite(n) || n < min) throw new InvalidArgumentError(`${name} must be a number >= ${min}, got '${v}' ${allowed}`);
    if (n > max) throw new InvalidArgumentError(`${name} must be a number <= ${max}, got '${v}' ${allowed}`);
    return n;
  };
}

export function choice<T extends string>(name: string, values: readonly T[]) {
  return (v: string): T => {
    if (!values.includes(v as T)) throw new InvalidArgumentError(`${name} must be one of ${values.join('|')}, got '${v}'`);
    return v as T;
  };
}

/** Runs a command body; errors become a message on stderr and exit code 1 (2 for UsageError). */
export async function runCommand(json: boolean | undefined, body: () => Promise<unknown> | unknown): Promise<void> {
  try {
    const out = await body();
    if (json && out !== undefined) console.log(JSON.stringify(out, null, 2));
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (json) console.log(JSON.stringify({ error: msg }));
    console.error(`scse: ${msg}`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  }
}

/**
 * Ctrl-C for a command that trains: the first SIGINT prints `message` and aborts `signal` (the
 * command finishes its batch, saves a checkpoint and exits 130); another quits at once with 130.
 * `release()` (at the command's end) removes the handler unless the command was interrupted. Then
 * the handler stays (it keeps no process alive) and the process leaves through process.exit once
 * its work is done: after a natural end Node's teardown re-arms the default SIGINT action before
 * the process is gone, so a further Ctrl-C landing then would kill it by signal instead of the
 * exit code 130 that the command set.
 */
export function abortOnSigint(message: string): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    console.error(message);
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  return {
    signal: controller.signal,
    release: () => {
      if (controller.signal.aborted) process.once('beforeExit', () => process.exit());
      else process.off('SIGINT', onSigint);
    },
  };
}
