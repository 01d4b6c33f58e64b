#!/usr/bin/env node
// The `scse` command line. One file per command under src/cli/. Exit codes: 0 success, 1 failure,
// 2 bad usage.
import { Command, CommanderError } from 'commander';

import { experimentCommand } from './experiment.js';
import { infoCommand } from './info.js';
import { phantomCommand } from './phantom.js';
import { trainCommand } from './train.js';
import { evalCommand } from './eval.js';
import { predictCommand } from './predict.js';
import { packageVersion } from '../version.js';

export function buildCli(): Command {
  const program = new Command('scse')
    .description('Train and evaluate fully convolutional segmentation networks with squeeze & excitation blocks (cSE, sSE, scSE)')
    .version(packageVersion, '-V, --version', 'print the package version')
    .showHelpAfterError();
  for (const cmd of [trainCommand(), evalCommand(), predictCommand(), experimentCommand(), phantomCommand(), infoCommand()]) {
    program.addCommand(cmd.showHelpAfterError());
  }
  for (const cmd of [program, ...program.commands]) cmd.exitOverride();
  return program;
}

try {
  await buildCli().parseAsync(process.argv);
} catch (e) {
  if (!(e instanceof CommanderError)) throw e;
  // help and --version exit 0; anything else commander rejects is bad usage
  process.exitCode = e.exitCode === 0 ? 0 : e.code.startsWith('commander.') ? 2 : e.exitCode;
}
