/**
 * Settings of an NBD server, declared once as a schema (defaults, bounds, one line of doc each).
 *
 * Why a schema: every queue and window of the server has a named bound; the ceilings live in
 * LIMITS (core), the defaults here, and `readNbdConfig` checks a user's values once with messages
 * that name the fix.
 */
import { LIMITS, MiB, readConfig, type ConfigOf } from '../core/index.js';

export const NBD_CONFIG_SCHEMA = {
  maxPayloadBytes: {
    kind: 'bytes',
    default: 32 * MiB,
    min: 64 * 1024,
    max: LIMITS.NBD_MAX_PAYLOAD_BYTES,
    doc: 'largest READ/WRITE payload, advertised as the maximum block size; larger requests get EINVAL',
  },
  maxInFlight: {
    kind: 'int',
    default: 128,
    min: 1,
    max: LIMITS.NBD_MAX_IN_FLIGHT,
    doc: 'requests one connection may have in flight; past it the server stops reading the socket',
  },
  maxInFlightBytes: {
    kind: 'bytes',
    default: 128 * MiB,
    min: 1 * MiB,
    max: LIMITS.NBD_MAX_IN_FLIGHT_BYTES,
    doc: 'payload bytes one connection may hold in flight before the server stops reading its socket',
  },
  maxConnections: {
    kind: 'int',
    default: 64,
    min: 1,
    max: LIMITS.NBD_MAX_CONNECTIONS,
    doc: 'client connections served at once; more are closed as soon as they connect',
  },
  handshakeTimeoutMs: {
    kind: 'ms',
    default: 10_000,
    min: 100,
    max: 600_000,
    doc: 'time a client has to finish option haggling before the server hangs up',
  },
  shutdownGraceMs: {
    kind: 'ms',
    default: 10_000,
    min: 0,
    max: 600_000,
    doc: 'on close, how long requests in flight may take to finish before connections are cut',
  },
} as const;

export type NbdConfig = ConfigOf<typeof NBD_CONFIG_SCHEMA>;

/** Reads and validates NBD server settings (object or `key=value,...`); throws INVALID_CONFIG. */
export function readNbdConfig(
  input?: Partial<Record<keyof typeof NBD_CONFIG_SCHEMA, unknown>> | string,
): NbdConfig {
  return readConfig(NBD_CONFIG_SCHEMA, input, 'nbd');
}
