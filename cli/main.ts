/**
 * The `ferry` command: parses arguments with yargs and hands each command to its module in
 * cli/commands/. Exit codes: 0 success, 1 failure, 2 bad usage (always with a one-line message).
 */
import yargs, { type Argv } from 'yargs';
import { describeFailure, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './util.js';
import { commands } from './commands/index.js';

export async function main(argv: string[]): Promise<number> {
  const parser: Argv = yargs(argv)
    .scriptName('ferry')
    .usage('$0 <command> [options]\n\nLarge-file and block transfer over a reliable UDP protocol.')
    .strict()
    .strictCommands()
    .demandCommand(1, 'name a command')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      // Throwing here stops yargs before any command handler runs.
      if (err) throw err;
      throw new UsageError(msg);
    });
  for (const c of commands) parser.command(c);
  const first = argv[0];
  if (first !== undefined && !first.startsWith('-') && !commandNames().includes(first)) {
    process.stderr.write(
      `ferry: unknown command "${first}": use one of ${commandNames().join(', ')} (see ferry --help)\n`,
    );
    return EXIT_USAGE;
  }
  try {
    await parser.parseAsync();
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`ferry: ${err.message} (see ferry --help)\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(describeFailure(err) + '\n');
    return EXIT_FAILURE;
  }
  return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
}

/** The first word of every registered command (`serve`, `cp`, ...). */
function commandNames(): string[] {
  return commands.map((c) => String(Array.isArray(c.command) ? c.command[0] : c.command).split(' ')[0]!);
}
