// The TCP transport's public surface: the endpoint, its options and config, and the frame layout.
export { TcpEndpoint, type TcpEndpointOptions } from './tcp-endpoint.js';
export { TCP_SCHEMA, TCP_ONLY_SCHEMA, readTcpConfig, type TcpConfig } from './tcp-config.js';
