/**
 * Child process of transport-tcp-restart.test.ts: listens on 127.0.0.1:PORT (TCP transport, through
 * the public createEndpoint), connects to the survivor and sends FIFO messages `TAG:i` (i = 0, 1, ...)
 * until it is killed or stopped. Prints `connected` once the session is up.
 */
import { createEndpoint } from '../../src/index.js';

const [survivorPort, ownPort, tag, config] = process.argv.slice(2);
const endpoint = await createEndpoint({
  transport: 'tcp',
  port: Number(ownPort),
  secret: 'restart-test',
  config,
});
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
