import { Command, Option } from 'commander';

/**
 * Commander only spots a parent's options before the first option it does not know, so
 * `banger image register x --rootfs r --json` would reject --json. Each leaf command therefore
 * accepts the global options too, hidden from its help, which lists them as global options.
 */
export function leafCommand(parent: Command, nameAndArgs: string, summary: string, help: { details?: string; examples: string[] }): Command {
  const command = parent.command(nameAndArgs).summary(summary).description(help.details ? `${summary}\n\n${help.details}` : summary);
  command.addOption(new Option('--socket <path>').hideHelp());
  command.addOption(new Option('--url <url>').hideHelp());
  command.addOption(new Option('--token <token>').hideHelp());
  command.addOption(new Option('--token-file <path>').hideHelp());
  command.addOption(new Option('--json').hideHelp());
  command.addHelpText('after', `\nExample${help.examples.length > 1 ? 's' : ''}:\n${help.examples.map((example) => `  $ ${example}`).join('\n')}\n`);
  return command;
}

/** A command that only groups others, like `image`. */
export function groupCommand(parent: Command, name: string, summary: string, examples: string[]): Command {
  const command = parent.command(name).summary(summary).description(summary);
  command.addHelpText('after', `\nExamples:\n${examples.map((example) => `  $ ${example}`).join('\n')}\n`);
  return command;
}

/** A repeatable option's values, in order (commander's argParser for --flag a --flag b). */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
