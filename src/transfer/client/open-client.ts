/**
 * Connects to a ferry server over UDP in one call: binds a client endpoint of the right family,
 * authenticates with the secret, and returns a FerryClient that closes the endpoint with itself.
 */
import { isIP } from 'node:net';
import { FerryError } from '../../core/errors.js';
import { Endpoint, type EndpointOptions } from '../../transport/endpoint.js';
import type { TransportConfig } from '../../transport/config.js';
import { FerryClient } from './client.js';

export interface OpenClientOptions {
  host: string;
  port: number;
  secret?: string | Buffer;
  /**
   * Seal every packet (default true). false is for benchmarks only: the endpoint refuses it
   * (INSECURE_BIND) unless the server is on loopback.
   */
  encrypt?: boolean;
  /** Transport settings (packet size, ...), as an object or `key=value,...`. */
  transport?: Partial<TransportConfig> | string;
  /** Impairment of received packets (default from FERRY_IMPAIR; null: none). */
  impair?: string | null;
  connectTimeoutMs?: number;
  /** Requests in flight at once. */
  maxInFlight?: number;
}

/**
 * Binds a client endpoint for `host` (loopback stays on loopback), connects and checks the server
 * answers. Throws BAD_URL for a host that is not an IP address, UNREACHABLE, AUTH_FAILED.
 *
 * @example
 * const client = await openClient({ host: '127.0.0.1', port: 7733, secret: process.env.FERRY_SECRET });
 * const stats = await client.upload(await fileSource('disk.img'), 'disk.img');
 * await client.close();
 */
export async function openClient(opts: OpenClientOptions): Promise<FerryClient> {
  const family = isIP(opts.host);
  if (family === 0)
    throw new FerryError(
      'BAD_URL',
      `"${opts.host}" is not an IP address: write the server's IPv4 or IPv6 address`,
    );
  const loopback = opts.host === '::1' || opts.host.startsWith('127.');
  const bindHost = loopback ? (family === 6 ? '::1' : '127.0.0.1') : family === 6 ? '::' : '0.0.0.0';
  // `encrypt` is a BindOptions field the endpoint's bind plan reads (see endpoint-shell.ts).
  const bind: EndpointOptions & { encrypt?: boolean } = {
    host: bindHost,
    port: 0,
    ...(opts.secret !== undefined ? { secret: opts.secret } : { insecure: !loopback }),
    ...(opts.encrypt !== undefined ? { encrypt: opts.encrypt } : {}),
    ...(opts.transport !== undefined ? { config: opts.transport } : {}),
    ...(opts.impair !== undefined ? { impair: opts.impair } : {}),
  };
  const endpoint = await Endpoint.create(bind);
  try {
    return await FerryClient.connect({
      endpoint,
      address: { host: opts.host, port: opts.port },
      ownsEndpoint: true,
      ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
      ...(opts.maxInFlight !== undefined ? { maxInFlight: opts.maxInFlight } : {}),
    });
  } catch (err) {
    await endpoint.close().catch(() => undefined);
    throw err;
  }
}
