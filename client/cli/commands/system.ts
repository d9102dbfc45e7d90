import type { Command } from 'commander';
import { leafCommand } from '../command-builder.js';
import type { CliContext } from '../context.js';

export function systemCommands(program: Command, context: CliContext): void {
  leafCommand(program, 'version', "Show the daemon's version and Node.js runtime", { examples: ['banger version'] }).action(
    context.action(async (session) => {
      const version = await session.client().version();
      if (session.output.json) return session.output.printJson(version);
      session.output.line(`banger daemon ${version.version} (node ${version.node})`);
    }),
  );
}
