/**
 * Uploaded files keep their source's permission bits: the part file and journal are 0600 while the
 * upload runs, and the published file takes the mode the client sent (mode & 0o777), on the memory
 * and the directory backend.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initChecksums } from '../../../src/core/checksum.js';
import { DirectoryFlatFs } from '../../../src/flatfs/directory.js';
import { MemoryFlatFs } from '../../../src/flatfs/memory.js';
import type { FlatFs } from '../../../src/flatfs/types.js';
import { partFileSink } from '../../../src/transfer/client/download-part.js';
import { bufferSource } from '../../../src/transfer/client/sources.js';
import { uploadNames } from '../../../src/transfer/names.js';
import { serveOnFakeNetwork } from '../../helpers/fake-server.js';

test.before(() => initChecksums());

async function serve(t: import('ava').ExecutionContext, fs: FlatFs) {
  return (await serveOnFakeNetwork(t, fs)).client;
}

interface Made {
  fs: FlatFs;
  hostMode?: (name: string) => Promise<number>;
  cleanup?: () => Promise<void>;
}

const backends: Array<[string, () => Promise<Made>]> = [
  ['memory', async () => ({ fs: new MemoryFlatFs({ quotaBytes: 1 << 26 }) })],
  [
    'directory',
    async () => {
      const root = await mkdtemp(path.join(tmpdir(), 'ferry-mode-'));
      const fs = await DirectoryFlatFs.open({ root });
      return {
        fs,
        hostMode: async (name: string) => (await stat(path.join(root, name))).mode & 0o777,
        cleanup: () => rm(root, { recursive: true, force: true }),
      };
    },
  ],
];

for (const [kind, make] of backends) {
  test(`${kind}: an upload lands with the source's mode, its part file 0600 meanwhile`, async (t) => {
    const made = await make();
    const { fs } = made;
    if (made.cleanup) t.teardown(made.cleanup);
    const client = await serve(t, fs);
    const source = { ...bufferSource(randomBytes(50_000)), fileMode: 0o4751 };
    // While the upload is open its part file is the server user's alone.
    const begin = await client.rpc.call('UPLOAD_BEGIN', {
      sizeBytes: 10,
      blockBytes: 4096,
      fileMode: 0o755,
      sourceTag: 1n,
      resume: 0,
      name: 'open.bin',
    });
    const part = uploadNames('open.bin').part;
    t.is((await fs.stat(part)).mode, 0o600);
    if (made.hostMode) t.is(await made.hostMode(part), 0o600, 'the host part file is 0600');
    await client.rpc.call('TRANSFER_ABORT', { transferId: begin.transferId, keepJournal: 0 });

    await client.upload(source, 'tool.sh');
    t.is((await fs.stat('tool.sh')).mode, 0o751, 'the source mode, without setuid');
    if (made.hostMode) t.is(await made.hostMode('tool.sh'), 0o751, 'the host file has the mode');
    await client.upload({ ...bufferSource(randomBytes(100)), fileMode: 0o600 }, 'secret.txt');
    t.is((await fs.stat('secret.txt')).mode, 0o600);
  });
}

test('a download takes the server file mode for its local copy', async (t) => {
  const fs = new MemoryFlatFs({ quotaBytes: 1 << 26 });
  const client = await serve(t, fs);
  const data = randomBytes(70_000);
  await client.upload({ ...bufferSource(data), fileMode: 0o640 }, 'report.txt');
  const dir = await mkdtemp(path.join(tmpdir(), 'ferry-mode-dl-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const local = path.join(dir, 'report.txt');
  await client.download('report.txt', (_size, g) => partFileSink(local, g));
  t.is((await stat(local)).mode & 0o777, 0o640);
  t.true((await readFile(local)).equals(data));
});
