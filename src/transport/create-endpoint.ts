/**
 * `createEndpoint`: one call for either transport, so a program chooses UDP or TCP with one option
 * and otherwise uses the same MessageEndpoint API, options and settings.
 *
 * Why a factory and not a flag on Endpoint: the two transports share the contract, not their
 * internals; the factory keeps callers unaware of which class serves them.
 *
 * ```ts
 * const ep = await createEndpoint({ transport: 'tcp', port: 7000, secret: 's3cret' });
 * ```
 */
import { FerryError } from '../core/errors.js';
import { Endpoint, type EndpointOptions } from './endpoint.js';
import { TcpEndpoint } from './tcp/tcp-endpoint.js';
import type { TcpConfig } from './tcp/tcp-config.js';
import type { MessageEndpoint } from './types.js';

export type TransportKind = 'udp' | 'tcp';

export interface CreateEndpointOptions extends Omit<EndpointOptions, 'config'> {
  /** Default 'udp'. */
  transport?: TransportKind;
  /** Settings of the chosen transport (TCP accepts the UDP settings plus its own, tcp-config.ts). */
  config?: Partial<TcpConfig> | string;
}

/** Binds an endpoint of the chosen transport. Throws what Endpoint.create / TcpEndpoint.create throw. */
export async function createEndpoint(options: CreateEndpointOptions = {}): Promise<MessageEndpoint> {
  const { transport = 'udp', ...rest } = options;
  if (transport === 'tcp') {
    const { impair, ...tcp } = rest;
    if (impair !== undefined && impair !== null) {
      throw new FerryError(
        'INVALID_ARGUMENT',
        'impairment works on UDP datagrams only: drop impair, or use transport: udp',
      );
    }
    return TcpEndpoint.create(tcp);
  }
  if (transport !== 'udp') {
    throw new FerryError('INVALID_ARGUMENT', `transport must be 'udp' or 'tcp', got ${String(transport)}`);
  }
  const { config, ...udp } = rest;
  return Endpoint.create({ ...udp, config: config as EndpointOptions['config'] });
}
