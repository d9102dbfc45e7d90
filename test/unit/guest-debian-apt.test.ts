import t from 'tap';
import { aptErrorSummary, privateNamespaceArgs, withAptMessage } from '../../server/guest/debian/apt-run.js';
import { debianMirrorLines, parseDeb822Sources, parseOneLineSources } from '../../server/guest/debian/apt-sources.js';
import { basePackageName, checkPackageNames, isValidPackageName, missingPackages, parseDpkgStatus } from '../../server/guest/debian/packages.js';
import { bootstrapSources } from '../../server/guest/debian-rootfs.js';
import { RunError } from '../../server/host/runner.js';

t.test('package names', async (t) => {
  for (const name of ['jq', 'openssh-server', 'g++', 'libc6:amd64', 'docker.io', 'jq=1.6-2.1', 'python3.11']) t.ok(isValidPackageName(name), name);
  for (const name of ['', '-o', '--allow-unauthenticated', 'a', 'Jq', 'jq,vim', 'jq vim', 'jq;rm', '../x', 'jq\n']) t.notOk(isValidPackageName(name), JSON.stringify(name));
  t.throws(() => checkPackageNames(['jq', '-oAPT::x=1']), /invalid Debian package name: "-oAPT::x=1"/);
  t.doesNotThrow(() => checkPackageNames([]));
  t.equal(basePackageName('libc6:amd64'), 'libc6');
  t.equal(basePackageName('jq=1.6-2.1'), 'jq');
});

t.test('dpkg status', async (t) => {
  const status = [
    'Package: jq',
    'Status: install ok installed',
    'Architecture: amd64',
    'Version: 1.6-2.1',
    'Description: lightweight JSON processor',
    ' continued description',
    '',
    'Package: removed-thing',
    'Status: deinstall ok config-files',
    'Version: 1',
    '',
    'Package: adduser',
    'Status: install ok installed',
    'Architecture: all',
    'Version: 3.134',
    '',
  ].join('\n');
  const installed = parseDpkgStatus(status);
  t.same(installed, [
    { name: 'adduser', version: '3.134', architecture: 'all' },
    { name: 'jq', version: '1.6-2.1', architecture: 'amd64' },
  ]);
  t.same(missingPackages(['jq', 'removed-thing', 'adduser=3.134', 'tree'], installed), ['removed-thing', 'tree']);
});

t.test('apt error lines', async (t) => {
  const stderr = [
    'I: installing remaining packages inside the chroot...',
    'Reading package lists...',
    'E: Unable to locate package nosuch',
    'E: setup failed: E: apt-get -o Dir::Bin::dpkg=env --yes install nosuch failed',
    'I: main() received signal PIPE: waiting for setup...',
    'E: mmdebstrap failed to run',
  ].join('\n');
  t.equal(aptErrorSummary(stderr), 'E: Unable to locate package nosuch');
  t.equal(aptErrorSummary('E: mmdebstrap failed to run\n'), null);
  t.equal(aptErrorSummary('all good'), null);

  const failure = new RunError('unshare exited with code 25: E: mmdebstrap failed to run', {
    command: 'unshare',
    args: [...privateNamespaceArgs(), 'mmdebstrap', '--variant=minbase'],
    exitCode: 25,
    signal: null,
    stderr,
    stdout: '',
    reason: 'exit',
  });
  const clearer = withAptMessage(failure);
  t.ok(clearer instanceof RunError);
  t.equal((clearer as RunError).message, 'mmdebstrap failed: E: Unable to locate package nosuch');
  t.equal((clearer as RunError).stderr, stderr, 'the full output stays');
  t.equal((withAptMessage(failure, 'apt-get') as RunError).message, 'apt-get failed: E: Unable to locate package nosuch');
  const cancelled = new RunError('cancelled', { command: 'unshare', args: [], exitCode: null, signal: 'SIGTERM', stderr, stdout: '', reason: 'aborted' });
  t.equal(withAptMessage(cancelled), cancelled, 'a cancel stays a cancel');
});

t.test('namespace wrapper', async (t) => {
  const args = privateNamespaceArgs('/build/root/proc');
  for (const flag of ['--mount', '--pid', '--fork', '--kill-child']) t.ok(args.includes(flag), flag);
  t.equal(args[args.indexOf('--propagation') + 1], 'private');
  t.ok(args.includes('--mount-proc=/build/root/proc'));
  t.equal(args.at(-1), '--');
});

t.test('apt sources: both formats', async (t) => {
  const oneLine = parseOneLineSources(
    [
      '# comment',
      'deb http://deb.example/debian bookworm main contrib # trailing',
      'deb-src http://deb.example/debian bookworm main',
      'deb [arch=amd64 signed-by=/usr/share/keyrings/vendor.gpg] https://vendor.example/apt bookworm main',
      'deb [enabled=no] http://off.example/debian bookworm main',
      'garbage',
    ].join('\n'),
  );
  t.same(oneLine, [
    { types: ['deb'], uris: ['http://deb.example/debian'], suites: ['bookworm'], components: ['main', 'contrib'], enabled: true },
    { types: ['deb-src'], uris: ['http://deb.example/debian'], suites: ['bookworm'], components: ['main'], enabled: true },
    { types: ['deb'], uris: ['https://vendor.example/apt'], suites: ['bookworm'], components: ['main'], enabled: true, signedBy: '/usr/share/keyrings/vendor.gpg' },
    { types: ['deb'], uris: ['http://off.example/debian'], suites: ['bookworm'], components: ['main'], enabled: false },
  ]);

  const deb822 = parseDeb822Sources(
    [
      'Types: deb',
      '# a comment inside the paragraph',
      'URIs: http://mirror.example/debian',
      'Suites: bookworm bookworm-updates',
      'Components: main',
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
      '',
      'Types: deb',
      'URIs: http://mirror.example/debian-security',
      'Suites: bookworm-security',
      'Components: main',
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
      '',
      'Types: deb',
      'URIs: https://inline.example/apt',
      'Suites: bookworm',
      'Components: main',
      'Signed-By:',
      ' -----BEGIN PGP PUBLIC KEY BLOCK-----',
      ' .',
      ' abc',
      ' -----END PGP PUBLIC KEY BLOCK-----',
      '',
      'Types: deb',
      'URIs: http://disabled.example/debian',
      'Suites: bookworm',
      'Components: main',
      'Enabled: no',
    ].join('\n'),
  );
  t.equal(deb822.length, 4);
  t.same(deb822[0]?.suites, ['bookworm', 'bookworm-updates']);
  t.match(deb822[2]?.signedBy, /BEGIN PGP PUBLIC KEY BLOCK[\s\S]*END PGP/);
  t.equal(deb822[3]?.enabled, false);

  t.same(debianMirrorLines([...deb822, ...oneLine], 'bookworm'), [
    'deb http://mirror.example/debian bookworm main',
    'deb http://deb.example/debian bookworm main',
    'deb http://mirror.example/debian bookworm-updates main',
    'deb http://mirror.example/debian-security bookworm-security main',
  ], 'Debian archives only: third-party and disabled entries are left out');
});

t.test('apt sources: a host on another Debian release lends its mirrors', async (t) => {
  const trixie = parseDeb822Sources(
    [
      'Types: deb',
      'URIs: http://mirror.example/debian',
      'Suites: trixie trixie-updates',
      'Components: main',
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
      '',
      'Types: deb',
      'URIs: http://mirror.example/debian-security',
      'Suites: trixie-security',
      'Components: main',
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
      '',
      'Types: deb',
      'URIs: https://vendor.example/apt',
      'Suites: nodistro',
      'Components: main',
      'Signed-By: /usr/share/keyrings/vendor.gpg',
    ].join('\n'),
  );
  t.same(debianMirrorLines(trixie, 'bookworm'), [
    'deb http://mirror.example/debian bookworm main',
    'deb http://mirror.example/debian bookworm-updates main',
    'deb http://mirror.example/debian-security bookworm-security main',
  ]);
  const ubuntu = parseOneLineSources('deb http://archive.example/ubuntu noble main restricted\n');
  t.same(debianMirrorLines(ubuntu, 'bookworm'), [], 'no Debian archive: no guess');
  t.same(debianMirrorLines([], 'bookworm'), []);
});

t.test('explicit bootstrap sources are checked', async (t) => {
  t.same(await bootstrapSources(['deb http://m.example/debian bookworm main']), ['deb http://m.example/debian bookworm main']);
  t.same(await bootstrapSources(['  deb [signed-by=/k.gpg] http://m.example/debian bookworm main contrib ']), [
    'deb [signed-by=/k.gpg] http://m.example/debian bookworm main contrib',
  ]);
  await t.rejects(bootstrapSources([]), /no apt sources/);
  await t.rejects(bootstrapSources(['--aptopt=x']), /not an apt source line/);
  await t.rejects(bootstrapSources(['deb http://m.example/debian']), /not an apt source line/);
});
