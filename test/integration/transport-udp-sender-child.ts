/**
 * Child process of transport-udp-sender.test.ts: two endpoints on the dgram socket exchange a message
 * (so the sender's start-up and sends run), then it prints whether sends used dgram's native handle.
 */
import { Endpoint } from '../../src/index.js';

const a = await Endpoint.create({ socket: 'js', impair: null, config: 'nativeSend=true' });
const b = await Endpoint.create({ socket: 'js', impair: null });
b.onMessage(() => {});
const peer = await a.connect(b.address);
await a.send(peer, Buffer.alloc(100_000, 1)).delivered;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the link is internal; the child only reports which path ran
const native = (a as any).link.sender.native as boolean;
process.stdout.write(`native ${native}\n`);
await a.close();
await b.close();
