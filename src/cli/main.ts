#!/usr/bin/env node
// The `scse` command line. Commands are added one file each under src/cli/.
import { Command } from 'commander';

import { infoCommand } from './info.js';

export function buildCli(): Command {
  const program = new Command('scse')
    .description('Train and evaluate fully convolutional segmentation networks with squeeze & excitation blocks (cSE, sSE, scSE)')
    .showHelpAfterError();
  program.addCommand(infoCommand());
  return program;
}

await buildCli().parseAsync(process.argv);
