import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { frozenLayerName, nextLayerPath } from '../../server/hypervisor/qemu/disk-layers.js';
import { receiveState, sendState } from '../../server/hypervisor/qemu/state-stream.js';
import { UndoStack } from '../../server/hypervisor/qemu/undo-stack.js';

const dir = await mkdtemp(join(tmpdir(), 'banger-qemu-snapshot-unit-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

t.test('layer names keep the format readable from the name', async (t) => {
  t.equal(nextLayerPath('/vm/root.qcow2'), '/vm/root.qcow2', 'a qcow2 disk is followed by a layer at the same path');
  t.equal(nextLayerPath('/vm/work.ext4'), '/vm/work.qcow2', 'a raw disk by a .qcow2 sibling');
  t.equal(nextLayerPath('/vm.d/work'), '/vm.d/work.qcow2', 'a dot in a directory name is no extension');
  t.equal(nextLayerPath('/vm/.work'), '/vm/.work.qcow2', 'nor is a leading dot');
  t.equal(frozenLayerName('work', 'raw'), 'work.raw');
  t.equal(frozenLayerName('root', 'qcow2'), 'root.qcow2');
});

t.test('a state file streams through a unix socket, whole and synced', async (t) => {
  const source = join(dir, 'source.state');
  const target = join(dir, 'target.state');
  const socketPath = join(dir, 'migrate.sock');
  const content = Buffer.alloc(3 * 1024 * 1024 + 17, 'state ');
  await writeFile(source, content);
  const receiver = await receiveState(socketPath, target);
  await sendState(socketPath, source);
  t.equal(await receiver.done, content.length, 'done resolves with the bytes written');
  t.ok(readFileSync(target).equals(content), 'the file is what was sent');
  t.notOk(existsSync(socketPath), 'the socket is gone');

  const refused = await receiveState(socketPath, target).catch((error: unknown) => error);
  t.match(String(refused), /EEXIST/, 'an existing state file is never overwritten');

  const closed = await receiveState(socketPath, join(dir, 'never.state'));
  closed.close();
  await t.rejects(closed.done, /closed before it ended/, 'a receiver closed before the stream ended rejects');
  t.notOk(existsSync(socketPath), 'and leaves no socket');
});

t.test('undo steps run newest first, all of them', async (t) => {
  const ran: string[] = [];
  const undo = new UndoStack();
  undo.push('first', async () => void ran.push('first'));
  undo.push('broken', async () => {
    throw new Error('no way back');
  });
  undo.push('last', async () => void ran.push('last'));
  t.same(await undo.unwind(), ['broken: no way back'], 'what failed is reported');
  t.same(ran, ['last', 'first'], 'the others still ran, in reverse');
  t.same(await undo.unwind(), [], 'nothing runs twice');
});
