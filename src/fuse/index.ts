// The FUSE layer's public surface: mount a FlatFs, unmount (also a stale mount), settings, op stats.
export { mountFlatFs, checkFuseAvailable, type FuseMount } from './mount.js';
export { unmountFuse, type UnmountOptions, type UnmountReport } from './unmount.js';
export { findFuseMount, type MountEntry } from './mount-table.js';
export { FUSE_MOUNT_SCHEMA, readFuseMountConfig, type FuseMountConfig } from './config.js';
export { OpStats } from './op-stats.js';
