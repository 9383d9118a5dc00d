// The impairment layer's public surface: the seeded Impairment, its settings, and the address helpers
// (the standalone UDP proxy built on it lives in src/proxy/).
export {
  Impairment,
  impairmentFromEnv,
  IMPAIR_ENV,
  IMPAIRMENT_SCHEMA,
  readImpairmentConfig,
  type ImpairmentConfig,
  type ImpairmentStats,
} from './impairment.js';
export { parseHostPort, formatHostPort, isLoopbackHost, type HostPort } from './address.js';
