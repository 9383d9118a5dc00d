/** Builds the link of one transport implementation (in the worker process that will use it). */
import { DgramLink } from './dgram-link.js';
import type { ImplName, Link, LinkOptions } from './link.js';
import { TcpLink } from './tcp-link.js';
import { UdxLink } from './udx-link.js';

export async function createLink(impl: ImplName, opts: LinkOptions): Promise<Link> {
  switch (impl) {
    case 'dgram':
      return new DgramLink(opts);
    case 'tcp':
      return new TcpLink(opts);
    case 'udx':
      return new UdxLink(opts);
    case 'ferry':
      throw new Error('ferry: the transport Endpoint is not available yet');
  }
}
