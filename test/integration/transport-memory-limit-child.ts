/**
 * Child process of transport-memory-limit.test.ts: an `encrypt: false` UDP endpoint on loopback (js
 * socket) whose receive memory is capped at CAP. Answers every message: `stats` with its
 * receive-memory stats as JSON, anything else with its length. Prints `listening PORT VMSIZE_KB`
 * once bound (the parent then caps its address space above VMSIZE_KB with prlimit).
 *
 * Usage: transport-memory-limit-child.ts CAP_BYTES
 */
import { readFileSync } from 'node:fs';
import { Endpoint } from '../../src/index.js';

const [cap] = process.argv.slice(2);
const PLAIN = { encrypt: false };
const ep = await Endpoint.create({
  ...PLAIN,
  socket: 'js',
  impair: null,
  config: `maxReceiveMemoryBytes=${cap}`,
});
ep.onMessage((m) => {
  const text = m.payload.length < 16 ? m.payload.toString() : '';
  const reply = text === 'stats' ? JSON.stringify(ep.stats().receiveMemory) : String(m.payload.length);
  ep.send(m.peer, Buffer.from(reply), { mode: 'fifo' });
});
const vmSizeKb = /VmSize:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
process.stdout.write(`listening ${ep.address.port} ${vmSizeKb}\n`);
