/**
 * Settings of the TCP transport: every setting of the UDP transport (config.ts; the same string or
 * object works for both, so `createEndpoint` can switch transports without touching the settings)
 * plus the few only TCP has. Settings that mean nothing over TCP (packet sizes, retransmission
 * timers, congestion window, send pool, kernel buffers) are accepted and ignored.
 *
 * Used over TCP: maxMessageBytes, handshakeTimeoutMs, heartbeatStartMs/IntervalMs/TimeoutMs,
 * ackDelayMs, ackEveryPackets (frames instead of packets), messageTimeoutMs, tickMs,
 * maxQueuedMessages, maxQueuedBytes, maxReassemblyBytes, maxPeers.
 */
import { readConfig, type ConfigOf, type Schema } from '../../core/config.js';
import { MiB } from '../../core/limits.js';
import { readTransportConfig, TRANSPORT_SCHEMA, type TransportConfig } from '../config.js';

/** The settings only the TCP transport has. */
export const TCP_ONLY_SCHEMA = {
  tcpWriteQueueBytes: {
    kind: 'bytes',
    default: 16 * MiB,
    min: 64 * 1024,
    max: 1024 * MiB,
    doc: 'bytes a connection may hold in user space waiting for the kernel; past it trySend says BACK_PRESSURED until the socket drains',
  },
} as const satisfies Schema;

export const TCP_SCHEMA = { ...TRANSPORT_SCHEMA, ...TCP_ONLY_SCHEMA } as const satisfies Schema;

export type TcpConfig = ConfigOf<typeof TCP_SCHEMA>;

/** Reads and checks a TCP transport configuration (the UDP transport's cross-field rules included). */
export function readTcpConfig(
  input: Partial<Record<keyof TcpConfig, unknown>> | string | undefined,
): TcpConfig {
  const all = readConfig(TCP_SCHEMA, input, 'transport');
  const shared: Partial<Record<keyof TransportConfig, unknown>> = {};
  for (const key of Object.keys(TRANSPORT_SCHEMA) as (keyof TransportConfig)[]) shared[key] = all[key];
  readTransportConfig(shared); // the shared rules (heartbeat timeout >= interval, ...)
  return all;
}
