// The impairment proxy's public surface (`ferry impair`). A standalone program on top of the
// transport layer's seeded impairment, so it sits beside the other adapters (src/fuse, src/nbd), not
// inside the transport it impairs.
export {
  ImpairProxy,
  IMPAIR_PROXY_SCHEMA,
  type ImpairProxyOptions,
  type ImpairProxySettings,
  type ImpairProxyStats,
  type ImpairDirection,
} from './impair-proxy.js';
