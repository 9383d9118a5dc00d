// The NBD adapter's public surface: the server, its settings, and the protocol codecs (for tests
// and for anyone writing an NBD client in TypeScript).
export { NbdServer, type NbdServerOptions, type NbdListenAddress, isLoopback } from './server.js';
export { NBD_CONFIG_SCHEMA, readNbdConfig, type NbdConfig } from './config.js';
export * as nbdProtocol from './constants.js';
