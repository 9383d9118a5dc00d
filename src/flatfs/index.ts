// The flat filesystem layer's public surface: the contract, the backends, and the name rules.
export * from './types.js';
export { validateName, isValidName, isHiddenName, compareNames, internalName, SEPARATOR } from './names.js';
export { MemoryFlatFs, type MemoryFlatFsOptions } from './memory.js';
export { DirectoryFlatFs, type DirectoryFlatFsOptions } from './directory.js';
export { S3FlatFs, type S3FlatFsOptions, type S3Credentials, S3_LIMITS } from './s3/index.js';
