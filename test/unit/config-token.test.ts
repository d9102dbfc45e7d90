// Where the bearer token comes from, on the daemon (server/config.ts) and in the CLI
// (client/cli/connection.ts): --token, BANGER_TOKEN, --token-file, BANGER_TOKEN_FILE.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { connectionFrom } from '../../client/cli/connection.js';
import { chooseTokenSource, ConfigError, resolveConfig, tokenFromFile } from '../../server/config.js';

const token = '0123456789abcdef0123456789abcdef';

t.test('which setting applies: flags over the environment, a token and a token file exclude each other', async (t) => {
  t.equal(chooseTokenSource({}, {}), null);
  t.same(chooseTokenSource({ token }, {}), { source: '--token', value: token });
  t.same(chooseTokenSource({ tokenFile: '/etc/banger/token' }, {}), { source: '--token-file', value: '/etc/banger/token' });
  t.same(chooseTokenSource({}, { BANGER_TOKEN: token }), { source: 'BANGER_TOKEN', value: token });
  t.same(chooseTokenSource({}, { BANGER_TOKEN_FILE: '/t' }), { source: 'BANGER_TOKEN_FILE', value: '/t' });
  t.same(chooseTokenSource({ tokenFile: '/t' }, { BANGER_TOKEN: token }), { source: '--token-file', value: '/t' }, 'a flag beats the environment');
  t.same(chooseTokenSource({ token }, { BANGER_TOKEN_FILE: '/t' }), { source: '--token', value: token });
  t.throws(() => chooseTokenSource({ token, tokenFile: '/t' }, {}), { constructor: ConfigError, message: /--token and --token-file are alternatives/ });
  t.throws(() => chooseTokenSource({}, { BANGER_TOKEN: token, BANGER_TOKEN_FILE: '/t' }), /BANGER_TOKEN and BANGER_TOKEN_FILE are alternatives/);
});

t.test("a token file's mode and text", async (t) => {
  t.equal(tokenFromFile('/t', 0o100600, `${token}\n`), token, 'the trailing newline is trimmed');
  t.equal(tokenFromFile('/t', 0o100400, `  ${token}  \r\n`), token, 'read-only, surrounding blanks');
  for (const mode of [0o100644, 0o100640, 0o100604, 0o100660, 0o100620, 0o100666]) {
    t.throws(
      () => tokenFromFile('/etc/banger/token', mode, token),
      { constructor: ConfigError, message: `the token file /etc/banger/token is open to other users (mode 0${(mode & 0o777).toString(8)}); make it private: chmod 600 /etc/banger/token` },
      `mode ${(mode & 0o777).toString(8)} is refused`,
    );
  }
  t.throws(() => tokenFromFile('/t', 0o100600, ' \n'), /the token file \/t is empty/);
  t.throws(() => tokenFromFile('/t', 0o100600, `${token}\nsecond line\n`), /must hold only the token, on one line/);
  t.throws(() => tokenFromFile('/t', 0o100600, 'two words'), /on one line/);
});

t.test('resolveConfig reads the token file and says where the token came from', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'banger-token-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'token');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  const base = { BANGER_STATE_DIR: dir };

  const fromFlag = resolveConfig({ listen: '127.0.0.1:0', tokenFile: file }, base);
  t.equal(fromFlag.token, token);
  t.equal(fromFlag.tokenSource, '--token-file');
  const fromEnv = resolveConfig({}, { ...base, BANGER_LISTEN: '127.0.0.1:0', BANGER_TOKEN_FILE: file });
  t.equal(fromEnv.token, token);
  t.equal(fromEnv.tokenSource, 'BANGER_TOKEN_FILE');
  t.equal(resolveConfig({ token }, base).tokenSource, '--token', 'the one the daemon warns about');
  t.equal(resolveConfig({}, { ...base, BANGER_TOKEN: token }).tokenSource, 'BANGER_TOKEN');
  t.equal(resolveConfig({}, base).tokenSource, null);

  chmodSync(file, 0o644);
  t.throws(() => resolveConfig({ tokenFile: file }, base), { constructor: ConfigError, message: new RegExp(`${file} is open to other users \\(mode 0644\\); make it private: chmod 600 ${file}`) });
  chmodSync(file, 0o600);

  writeFileSync(file, 'short\n');
  t.throws(() => resolveConfig({ tokenFile: file }, base), /at least 16 characters/, 'the length rule holds for a file too');
  t.throws(() => resolveConfig({ tokenFile: join(dir, 'missing') }, base), { constructor: ConfigError, message: /cannot read the token file .*missing \(--token-file\): ENOENT/ });
  t.throws(() => resolveConfig({ tokenFile: dir }, base), /is not a regular file/);
  t.throws(() => resolveConfig({}, { ...base, BANGER_TOKEN_FILE: '' }), /BANGER_TOKEN_FILE names no file/);
  writeFileSync(file, 'x'.repeat(5000));
  t.throws(() => resolveConfig({ tokenFile: file }, base), /too large to hold just a token/);
  t.throws(() => resolveConfig({ listen: '127.0.0.1:7070' }, base), /--listen needs --token \(or BANGER_TOKEN\) or --token-file \(or BANGER_TOKEN_FILE\)/);
});

t.test('the CLI takes a token file too, with the same rules', async (t) => {
  const files: Record<string, { mode: number; text: string }> = {
    '/private': { mode: 0o100600, text: `${token}\n` },
    '/open': { mode: 0o100644, text: `${token}\n` },
    '/empty': { mode: 0o100600, text: '\n' },
  };
  const read = (path: string) => {
    const file = files[path];
    if (!file) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
    return file;
  };
  const url = 'http://127.0.0.1:7070';
  t.same(connectionFrom({ url, tokenFile: '/private' }, {}, read), { baseUrl: url, token });
  t.same(connectionFrom({}, { BANGER_URL: url, BANGER_TOKEN_FILE: '/private' }, read), { baseUrl: url, token });
  t.same(connectionFrom({ url, token: 'from-the-flag' }, { BANGER_TOKEN_FILE: '/private' }, read), { baseUrl: url, token: 'from-the-flag' }, 'a flag beats the environment');
  t.same(connectionFrom({ url }, { BANGER_TOKEN: 'from-env' }, read), { baseUrl: url, token: 'from-env' });
  t.throws(() => connectionFrom({ url, tokenFile: '/open' }, {}, read), /the token file \/open is open to other users \(mode 0644\); make it private: chmod 600 \/open/);
  t.throws(() => connectionFrom({ url, tokenFile: '/empty' }, {}, read), /is empty/);
  t.throws(() => connectionFrom({ url, tokenFile: '/missing' }, {}, read), /cannot read the token file \/missing \(--token-file\): ENOENT/);
  t.throws(() => connectionFrom({ url, token, tokenFile: '/private' }, {}, read), /--token and --token-file are alternatives/);
  t.throws(() => connectionFrom({ url }, { BANGER_TOKEN: token, BANGER_TOKEN_FILE: '/private' }, read), /BANGER_TOKEN and BANGER_TOKEN_FILE are alternatives/);
  t.throws(() => connectionFrom({ url }, {}, read), /--url needs --token \(or BANGER_TOKEN\) or --token-file/);
  t.same(connectionFrom({ socket: '/run/banger.sock', tokenFile: '/open' }, {}, read), { socketPath: '/run/banger.sock' }, 'the socket needs no token: the file is not read');
});
