/**
 * The plain TCP baseline of `ferry bench wan`: a Node `net` stream from a file to a file, no
 * protocol at all. Run as its own process inside a namespace:
 *
 *   tcp-pipe receive HOST PORT OUT_FILE   prints "listening", takes one connection, writes it to
 *                                         OUT_FILE, then closes its side and exits
 *   tcp-pipe send HOST PORT IN_FILE       streams IN_FILE, ends its side, exits once the receiver
 *                                         has closed (so the file is written when send exits)
 *
 * Each side exits non-zero on any error; the benchmark bounds both in time and kills them by pid.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { connect, createServer } from 'node:net';
import { pipeline } from 'node:stream/promises';

const HIGH_WATER = 1024 * 1024;

async function receive(host: string, port: number, out: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer({ allowHalfOpen: true }, (sock) => {
      server.close();
      const file = createWriteStream(out, { highWaterMark: HIGH_WATER });
      pipeline(sock, file).then(() => {
        sock.end();
        sock.once('close', () => resolve());
      }, reject);
    });
    server.once('error', reject);
    server.listen(port, host, () => process.stdout.write('listening\n'));
  });
}

async function send(host: string, port: number, input: string): Promise<void> {
  const sock = connect({ host, port, allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  const closed = new Promise<void>((resolve, reject) => {
    sock.once('close', (hadError) =>
      hadError ? reject(new Error('connection closed with an error')) : resolve(),
    );
    sock.resume(); // the receiver sends nothing but its FIN
  });
  await pipeline(createReadStream(input, { highWaterMark: HIGH_WATER }), sock, { end: true });
  await closed;
}

const [mode, host, portText, file] = process.argv.slice(2);
const port = Number(portText);
if ((mode !== 'receive' && mode !== 'send') || !host || !file || !Number.isInteger(port)) {
  process.stderr.write('usage: tcp-pipe receive|send HOST PORT FILE\n');
  process.exit(2);
}
(mode === 'receive' ? receive(host, port, file) : send(host, port, file)).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`tcp-pipe ${mode}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
