/**
 * Entry point of one benchmark process (a sender, a receiver, or both). The parent forks it, and it
 * follows the phases of protocol.ts over IPC. It ends itself: after its report (unless the parent
 * reuses it for the next run, as smoke runs do), when the parent goes away, and at the hard deadline
 * the parent gave it, so no run can leave a process behind.
 * SIGINT is ignored: on Ctrl-C the parent (which gets it too) asks for the reports and then ends.
 */
import { startResourceMeter } from '../lib/resources.js';
import { createLink } from './links/index.js';
import type { Link } from './links/link.js';
import type { FromWorker, ToWorker } from './protocol.js';
import { Traffic } from './traffic.js';

/** Time allowed to close a link at the end before reporting anyway. */
const CLOSE_TIMEOUT_MS = 2000;

let link: Link | null = null;
let traffic: Traffic | null = null;
let meter = startResourceMeter();
let deadline: NodeJS.Timeout | null = null;

/** Sends to the parent; resolves once the message has left (so exiting after it loses nothing). */
function say(msg: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(msg, undefined, undefined, () => resolve());
  });
}

async function fail(err: unknown): Promise<void> {
  await say({ t: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.t) {
    case 'init': {
      deadline = setTimeout(() => process.exit(3), msg.deadlineMs);
      deadline.unref();
      meter = startResourceMeter();
      link = createLink(msg.impl, msg.link);
      traffic = new Traffic(link, msg.plan);
      await say({ t: 'listening', port: await link.listen() });
      return;
    }
    case 'connect':
      await need(link).connect(need(traffic).node, msg.peers);
      await say({ t: 'connected' });
      return;
    case 'start':
      await need(traffic).run(BigInt(msg.startNs));
      await say({ t: 'sent' });
      return;
    case 'poll':
      await say({ t: 'progress', ...need(traffic).progress() });
      return;
    case 'finish':
      await finish(msg.stay);
      return;
    case 'exit':
      process.exit(0);
  }
}

async function finish(stay: boolean): Promise<void> {
  const t = need(traffic);
  t.finish();
  const report = t.report(meter.read());
  const l = need(link);
  await Promise.race([l.close().catch(() => {}), new Promise((r) => setTimeout(r, CLOSE_TIMEOUT_MS))]);
  link = null;
  traffic = null;
  if (deadline) clearTimeout(deadline);
  await say({ t: 'report', report });
  if (!stay) process.exit(0);
}

function need<T>(v: T | null): T {
  if (v === null) throw new Error('worker: message out of order');
  return v;
}

process.on('SIGINT', () => {});
process.on('disconnect', () => process.exit(0));
process.on('message', (msg: ToWorker) => void handle(msg).catch(fail));
