import { Command } from 'commander';

/** Placeholder until the CLI lands: only `serve`. */
export async function runCli(argv: string[]): Promise<number> {
  const program = new Command('banger');
  program
    .command('serve')
    .option('--state-dir <dir>')
    .option('--socket <path>')
    .option('--listen <host:port>')
    .option('--token <token>')
    .action(async (options) => {
      const { serve } = await import('../../server/main.js');
      await serve(options);
      await new Promise(() => {});
    });
  await program.parseAsync(argv);
  return 0;
}
