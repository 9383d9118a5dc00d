// The S3 backend of the flat filesystem: the FlatFs, its store seam and its limits.
export { S3FlatFs, type S3FlatFsOptions } from './flatfs.js';
export { S3Store, checkBucketName, s3Error, type S3Credentials, type S3StoreOptions } from './store.js';
export { S3_LIMITS } from './limits.js';
