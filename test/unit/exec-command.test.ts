import { spawnSync } from 'node:child_process';
import t from 'tap';
import { commandLineErrors, execCommandLine, execSpecErrors, killCommandLine, shellQuote } from '../../server/services/exec/exec-command.js';
import { OutputDecoder, outputBytes } from '../../server/services/exec/output-chunks.js';
import { prepareCommand } from '../../server/services/exec/guest-shells.js';
import type { GuestShell } from '../../server/guest/guest-shell.js';

const shellWords = (line: string): string[] => {
  // The words a POSIX shell makes of the quoted argv, printed one per line by printf.
  const result = spawnSync('sh', ['-c', `printf '%s\\n' ${line}`], { encoding: 'utf8' });
  return result.stdout.split('\n').slice(0, -1);
};

t.test('every word reaches the shell as one word, never as code', async (t) => {
  const words = ["it's", 'a b', '$HOME', '`id`', '$(id)', ';true', '"', '\\', '*', '', 'ünï ✓', "''"];
  t.same(shellWords(words.map(shellQuote).join(' ')), words);
});

t.test('the command line records its group, sets up, and execs the program', async (t) => {
  const line = execCommandLine({ command: ['make', 'test'], env: { CI: 'true', QUOTE: "a'b" }, cwd: '/root/src' }, { execId: 'e1', ended: ['e0'] });
  t.equal(line, "rm -f /run/banger-exec.e0; echo $$ >/run/banger-exec.e1; cd -- '/root/src' || exit 2; export CI='true'; export QUOTE='a'\\''b'; exec 'make' 'test'");
  t.match(execCommandLine({ command: ['id'], user: 'nobody' }, { execId: 'e2' }), /exec setpriv --reuid=nobody --regid="\$\(id -g nobody\)" --init-groups -- 'id'$/);
  t.equal(killCommandLine('e1'), 'read -r group </run/banger-exec.e1 && kill -KILL -- "-$group"; rm -f /run/banger-exec.e1');
  t.throws(() => killCommandLine('../x'), /invalid exec id/);
});

t.test('for dropbear the line makes its own session first, and switches user with busybox su', async (t) => {
  const line = execCommandLine({ command: ['id'], env: { Q: "a'b" }, user: 'nobody' }, { execId: 'e3', ended: ['e0'], server: 'dropbear' });
  t.match(line, /^rm -f \/run\/banger-exec\.e0; exec setsid \/bin\/sh -c '/);
  // What the inner shell reads is the same line OpenSSH would run, less the user switch.
  const inner = shellWords(line.slice(line.indexOf("exec setsid /bin/sh -c ") + 'exec setsid /bin/sh -c '.length));
  t.same(inner, [`echo $$ >/run/banger-exec.e3; export Q='a'\\''b'; exec su -s /bin/sh nobody -c 'exec "$0" "$@"' 'id'`]);
  t.same(commandLineErrors('x'.repeat(9001), 'dropbear').map((error) => error.field), ['body.command']);
  t.same(commandLineErrors('x'.repeat(9001), 'openssh'), []);
});

t.test('requests that cannot run are refused by field', async (t) => {
  t.same(execSpecErrors({ command: ['true'] }), []);
  const fields = (spec: Parameters<typeof execSpecErrors>[0]) => execSpecErrors(spec).map((error) => error.field);
  t.same(fields({ command: [''] }), ['body.command']);
  t.same(fields({ command: ['-rf'] }), ['body.command']);
  t.same(fields({ command: ['a\0b'] }), ['body.command']);
  t.same(fields({ command: ['true'], env: { 'A B': '1', '1X': '2', OK: '3' } }), ['body.env.A B', 'body.env.1X']);
  t.same(fields({ command: ['true'], cwd: 'tmp' }), ['body.cwd']);
  t.same(fields({ command: ['true'], user: 'Root;' }), ['body.user']);
  t.same(fields({ command: ['x'.repeat(300 * 1024)] }), ['body.command'], 'a command line too long for the guest');
});

t.test('output is text where it is UTF-8 and base64 where it is not, split characters kept whole', async (t) => {
  const decoder = new OutputDecoder();
  const check = Buffer.from('ok ✓', 'utf8'); // ✓ is three bytes
  t.same(decoder.write(check.subarray(0, 4)), { data: 'ok ', encoding: 'utf8' }, 'the start of ✓ waits');
  t.same(decoder.write(check.subarray(4, 5)), null, 'still unfinished');
  t.same(decoder.write(check.subarray(5)), { data: '✓', encoding: 'utf8' });
  const binary = Buffer.from([0xff, 0xfe, 0x00, 0x41]);
  const encoded = decoder.write(binary);
  t.same(encoded, { data: binary.toString('base64'), encoding: 'base64' });
  t.same(outputBytes(encoded as NonNullable<typeof encoded>), binary);
  t.same(decoder.write(Buffer.from([0x41, 0xe2])), { data: 'A', encoding: 'utf8' });
  t.same(decoder.end(), { data: Buffer.from([0xe2]).toString('base64'), encoding: 'base64' }, 'an unfinished character at the end is sent as bytes');
  t.same(decoder.end(), null);
});

t.test('a killed command leaves its group file to the kill, never to a later line’s cleanup', async (t) => {
  const shell = { client: {} as GuestShell['client'], server: 'openssh', channelsInUse: 0, endedCommands: [] } satisfies GuestShell;
  const ended = prepareCommand(shell, 'vm', { command: ['true'] });
  ended.finish('ended');
  const killed = prepareCommand(shell, 'vm', { command: ['sleep', '400'] });
  t.match(killed.commandLine, new RegExp(`^rm -f /run/banger-exec\\.${ended.execId};`), 'an ended command’s file goes with the next line');
  killed.finish('killed');
  t.same(shell.endedCommands, [], 'a killed one’s does not: the kill reads it, then removes it');
  const refused = prepareCommand(shell, 'vm', { command: ['true'] });
  refused.finish('not-run');
  refused.finish('ended');
  t.same([shell.endedCommands, shell.channelsInUse], [[], 0], 'a line that never ran removed nothing; finish counts once');
});
