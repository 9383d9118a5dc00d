// The block device layer's public surface: the contract, the two backends, and the factory.
export type { BlockDevice, BlockExtent } from './types.js';
export { MemoryBlockDevice, MEMORY_CHUNK_BYTES, type MemoryBlockDeviceOptions } from './memory.js';
export { FileBlockDevice, type FileBlockDeviceOptions } from './file.js';
export { openBlockDevice, parseBlockDeviceSpec, type BlockDeviceSpec } from './factory.js';
export { checkRange, checkBytes, checkOpen, checkGeometry, type BlockOp, type DeviceGate } from './range.js';
