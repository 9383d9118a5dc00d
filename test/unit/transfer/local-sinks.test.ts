/**
 * Local download sinks never write through a symlink planted at their hidden temporary names (a
 * shared folder where another user can create entries): what is at the name is replaced, the file
 * it points to is untouched.
 */
import test from 'ava';
import { mkdtemp, readFile, rm, symlink, writeFile, lstat, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { downloadPartNames, partFileSink } from '../../../src/transfer/client/download-part.js';
import { fileSink, downloadTempStem } from '../../../src/transfer/client/sources.js';

async function dir(t: import('ava').ExecutionContext): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'ferry-sinks-'));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
}

test('fileSink replaces a symlink at its temporary name instead of writing through it', async (t) => {
  const d = await dir(t);
  const victim = path.join(d, 'victim');
  await writeFile(victim, 'precious');
  const target = path.join(d, 'out.bin');
  await symlink(victim, path.join(d, `.${downloadTempStem('out.bin')}.ferry-part`));
  const sink = await fileSink(target, 4);
  await sink.write(0, Buffer.from('data'));
  await sink.commit();
  t.is(await readFile(victim, 'utf8'), 'precious');
  t.is(await readFile(target, 'utf8'), 'data');
  t.is((await stat(target)).mode & 0o777, 0o600, 'the temporary file is created 0600');
});

test('partFileSink replaces a symlink at its part name instead of writing through it', async (t) => {
  const d = await dir(t);
  const victim = path.join(d, 'victim');
  await writeFile(victim, 'precious');
  const target = path.join(d, 'out.bin');
  const names = downloadPartNames(target);
  await symlink(victim, names.part);
  const sink = await partFileSink(target, {
    sizeBytes: 4,
    blockBytes: 4096,
    blockCount: 1,
    sourceTag: 1n,
    resume: false,
    blockBytesAsked: false,
  });
  await sink.write(0, Buffer.from('data'));
  await sink.discard();
  t.is(await readFile(victim, 'utf8'), 'precious');
  await t.throwsAsync(lstat(names.part), undefined, 'the part file is gone, the symlink with it');
});
