// Issue 18 (d): every numeric option has bounds, and a value outside them is a usage error
// (commander's InvalidArgumentError, which main.ts turns into exit code 2) -- not a run.
import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';

import { floatOption, intOption } from '../../src/cli/common.js';
import { phantomCommand } from '../../src/cli/phantom.js';

describe('numeric option parsers', () => {
  it('accept values inside the bounds', () => {
    expect(intOption('--n', 1, 10)('1')).toBe(1);
    expect(intOption('--n', 1, 10)('10')).toBe(10);
    expect(floatOption('--x', 0, 1)('0.5')).toBe(0.5);
    expect(floatOption('--x', 0, 1)('1e-3')).toBe(0.001);
    expect(floatOption('--x', 0, 1)('.25')).toBe(0.25);
  });

  it('refuse what is out of range or not written as a number, naming option, value and range', () => {
    expect(() => intOption('--epochs', 1, 100000)('1e99')).toThrow("--epochs must be an integer <= 100000, got '1e99' (allowed: 1..100000)");
    expect(() => intOption('--epochs', 1, 100000)('100001')).toThrow("--epochs must be an integer <= 100000, got '100001' (allowed: 1..100000)");
    expect(() => intOption('--epochs', 1, 100000)('0')).toThrow("--epochs must be an integer >= 1, got '0'");
    expect(() => intOption('--epochs', 1, 100000)('zero')).toThrow(/--epochs must be an integer >= 1, got 'zero'/);
    for (const bad of ['', ' 5', '0x10', '2.5', '1e3', '2.5e0']) {
      expect(() => intOption('--n', 0, 1e6)(bad), JSON.stringify(bad)).toThrow(`got '${bad}'`);
    }
    expect(() => intOption('--n', 0, 1e6)('99999999999999999999')).toThrow("--n must be an integer <= 1000000");
    expect(() => floatOption('--lr', 0, 10)('1e99')).toThrow("--lr must be a number <= 10, got '1e99' (allowed: 0..10)");
    for (const bad of ['', 'Infinity', 'NaN', '0x1', '-1', '1e400']) {
      expect(() => floatOption('--lr', 0, 10)(bad), JSON.stringify(bad)).toThrow(`got '${bad}'`);
    }
  });
});

describe('scse phantom', () => {
  const parse = (args: string[]): unknown => {
    const cmd = phantomCommand().exitOverride().configureOutput({ writeErr: () => {} });
    cmd.action(() => {}); // parse only: never generate
    return cmd.parseAsync(['--out', '/nonexistent/never-written', ...args], { from: 'user' });
  };

  it('--subjects 1000000000 is a usage error, not a run', async () => {
    const e = await (parse(['--subjects', '1000000000']) as Promise<void>).then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(CommanderError);
    expect((e as CommanderError).code).toBe('commander.invalidArgument');
    expect((e as CommanderError).message).toContain("--subjects must be an integer <= 1000, got '1000000000' (allowed: 1..1000)");
  });

  it('values inside the bounds parse', async () => {
    await expect(parse(['--subjects', '2', '--size', '24', '--classes', '3', '--noise', '0.1', '--seed', '4294967295'])).resolves.toBeDefined();
  });
});
