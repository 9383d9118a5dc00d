// The transport layer's public surface: the Endpoint, its options and config, and the contract types.
export { Endpoint, type EndpointOptions } from './endpoint.js';
export { TRANSPORT_SCHEMA, readTransportConfig, type TransportConfig } from './config.js';
export type * from './types.js';
