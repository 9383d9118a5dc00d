/**
 * Child process of transport-restart.test.ts: binds 127.0.0.1:PORT with the given transport, connects
 * to the survivor and sends FIFO messages `TAG:i` (i = 0, 1, ...) until it is killed or stopped.
 * Prints `connected` once the session is up. With TAG `listen` it only binds and waits (a restarted
 * peer that forgot the session). Uses only the public API (it is also the "plain script" check).
 *
 * Usage: transport-restart-child.ts udp|tcp SURVIVOR_PORT OWN_PORT TAG CONFIG
 */
import { createEndpoint, type TransportKind } from '../../src/index.js';

const [transport, survivorPort, ownPort, tag, config] = process.argv.slice(2);
const endpoint = await createEndpoint({
  transport: transport as TransportKind,
  port: Number(ownPort),
  secret: 'restart-test',
  impair: null,
  config,
});
if (tag === 'listen') {
  // a restarted peer that does not reconnect: it only answers what reaches it
  process.stdout.write('connected\n');
  await new Promise(() => {});
}
const peer = await endpoint.connect({ host: '127.0.0.1', port: Number(survivorPort) });
process.stdout.write('connected\n');
for (let i = 0; ; i++) {
  const h = endpoint.trySend(peer, Buffer.from(`${tag}:${i}`), { mode: 'fifo' });
  if (typeof h === 'string') {
    if (h !== 'BACK_PRESSURED') break;
    await endpoint.writable(peer).catch(() => undefined);
    i--;
    continue;
  }
  if (i % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
}
