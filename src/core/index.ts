// The core layer's public surface: errors, limits, config, clock, pool, checksums.
export * from './errors.js';
export * from './limits.js';
export * from './config.js';
export * from './clock.js';
export * from './pool.js';
export * from './checksum.js';
export * from './address.js';
export * from './xxh32.js';
