/**
 * Child process of transport-restart.test.ts: binds 127.0.0.1:PORT, connects to the survivor and
 * sends FIFO messages `TAG:i` (i = 0, 1, ...) until it is killed. Prints `connected` once the session
 * is up. With TAG `listen` it only binds and waits (a restarted peer that forgot the session). Uses
 * only the public Endpoint API (it is also the "plain script" check).
 */
import { Endpoint } from '../../src/index.js';

const [survivorPort, ownPort, tag, config] = process.argv.slice(2);
const endpoint = await Endpoint.create({
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
