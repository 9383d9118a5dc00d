/**
 * Child process for crash tests: uploads FILE to 127.0.0.1:PORT as NAME with BLOCK-byte blocks and
 * prints `acked N` (blocks acknowledged so far) after each block, so the parent can SIGKILL it, or the
 * server, at a known point of the copy. Not a test (no .test.ts): run by test/helpers/server-process.ts.
 */
import { fileSource, openClient } from '../../src/index.js';

const [portText, file, name, blockText] = process.argv.slice(2);
const blockBytes = Number(blockText);
const client = await openClient({ host: '127.0.0.1', port: Number(portText) });
const source = await fileSource(file!);
let acked = 0;
const stats = await client.upload(source, name!, {
  blockBytes,
  onProgress: () => {
    acked++;
    process.stdout.write(`acked ${acked}\n`);
  },
});
process.stdout.write(`done ${JSON.stringify(stats)}\n`);
await source.close();
await client.close();
