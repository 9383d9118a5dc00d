/** Builds the link of one transport implementation (in the worker process that will use it). */
import { DgramLink } from './dgram-link.js';
import { FerryLink } from './ferry-link.js';
import type { ImplName, Link, LinkOptions } from './link.js';
import { TcpLink } from './tcp-link.js';
import { UdxLink } from './udx-link.js';

export function createLink(impl: ImplName, opts: LinkOptions): Link {
  switch (impl) {
    case 'dgram':
      return new DgramLink(opts);
    case 'tcp':
      return new TcpLink(opts);
    case 'udx':
      return new UdxLink(opts);
    case 'ferry':
      return new FerryLink(opts);
    case 'ferry-tcp':
      return new FerryLink(opts, 'tcp');
  }
}
