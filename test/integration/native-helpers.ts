/**
 * Shared by the native socket tests: the gate that lets them pass on a machine where the addon did
 * not build (each test then asserts the fallback is reported, so nothing is skipped silently), and
 * a receiver that collects datagrams until a count is reached.
 *
 * `npm test` (and so CI) runs them with FERRY_REQUIRE_NATIVE=1: the addon builds at install, and a
 * missing one fails every test instead of passing through the fallback. The fallback itself is
 * covered in the same run: the loader tests load a missing and a broken addon file in-process
 * (test/unit/transport/native/loader.test.ts), and the UDP transport tests run on both sockets.
 */
import type { ExecutionContext } from 'ava';

import { nativeUdpStatus, selectSocketKind } from '../../src/transport/native/addon.js';
import { NativeUdpSocket, type ReceivedBatch } from '../../src/transport/native/native-udp-socket.js';

export const REQUIRE_NATIVE = process.env.FERRY_REQUIRE_NATIVE === '1';

/** True when the addon is there; otherwise asserts the fallback is reported (and fails if required). */
export function nativeOrFallback(t: ExecutionContext): boolean {
  const status = nativeUdpStatus();
  if (status.available) return true;
  t.false(REQUIRE_NATIVE, `FERRY_REQUIRE_NATIVE=1 but the addon is unavailable: ${status.reason}`);
  t.truthy(status.reason, 'an unavailable addon says why');
  t.is(selectSocketKind({}), 'js', 'without the addon the JavaScript socket is chosen');
  t.log(`native addon unavailable, fallback checked instead: ${status.reason}`);
  return false;
}

/** What a receiver saw: copies of every datagram (segments of coalesced ones split), with sources. */
export interface Received {
  datagrams: Buffer[];
  sources: string[];
  records: number;
  coalesced: number;
}

const WAIT_MS = 5000;

/** Collects from `rx` until `count` datagrams (segments counted) arrived; rejects after WAIT_MS. */
export function collect(rx: NativeUdpSocket, count: number): Promise<Received> {
  const got: Received = { datagrams: [], sources: [], records: 0, coalesced: 0 };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`received ${got.datagrams.length} of ${count} datagrams in ${WAIT_MS} ms`)),
      WAIT_MS,
    );
    rx.onBatch((b: ReceivedBatch) => {
      for (let i = 0; i < b.count; i++) {
        got.records++;
        if (b.segmentBytes(i) > 0) got.coalesced++;
        const src = b.source(i);
        for (let k = 0; k < b.segmentCount(i); k++) {
          got.datagrams.push(Buffer.from(b.segment(i, k)));
          got.sources.push(`${src.host}:${src.port}`);
        }
      }
      if (got.datagrams.length >= count) {
        clearTimeout(timer);
        resolve(got);
      }
    });
  });
}

/** `bytes` bytes whose content names datagram `index` (so a swap or a cut shows). */
export function patterned(index: number, bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (index * 31 + i * 7) & 0xff;
  if (bytes >= 4) b.writeUInt32BE(index, 0);
  return b;
}
