// The impairment layer's public surface: the seeded Impairment, its settings, and the UDP proxy.
export {
  Impairment,
  impairmentFromEnv,
  IMPAIR_ENV,
  IMPAIRMENT_SCHEMA,
  readImpairmentConfig,
  type ImpairmentConfig,
  type ImpairmentStats,
} from './impairment.js';
export {
  ImpairProxy,
  IMPAIR_PROXY_SCHEMA,
  type ImpairProxyOptions,
  type ImpairProxySettings,
  type ImpairProxyStats,
  type ImpairDirection,
} from './proxy.js';
export { parseHostPort, formatHostPort, isLoopbackHost, type HostPort } from './address.js';
