/**
 * Child process for crash tests: uploads FILE to 127.0.0.1:PORT as NAME with BLOCK-byte blocks and
 * prints `acked N` (blocks acknowledged so far) after each block, so the parent can SIGKILL it, or the
 * server, at a known point of the copy. Not a test (no .test.ts): run by test/helpers/server-process.ts.
 */
import { readUserSecret, userSecretPath } from '../../cli/secret.js';
import { fileSource, openClient } from '../../src/index.js';

const [portText, file, name, blockText] = process.argv.slice(2);
const blockBytes = Number(blockText);
// The server is a `ferry serve` on loopback: it keeps its secret in the test's config folder.
const secret = readUserSecret(userSecretPath()) ?? undefined;
const client = await openClient({
  host: '127.0.0.1',
  port: Number(portText),
  ...(secret !== undefined ? { secret } : {}),
});
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
