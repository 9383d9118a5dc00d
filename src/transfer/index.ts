/**
 * The transfer layer's public surface: server, client, remote storage clients, copy sources/sinks,
 * discovery, and the limits they run under. Why: src/index.ts re-exports from here, so the folder
 * layout below can change without changing the public API.
 */
export { TransferServer, type TransferServerOptions, type ServerStats } from './server/transfer-server.js';
export {
  FerryServer,
  DEFAULT_MEMORY_QUOTA_BYTES,
  DEFAULT_SERVER_PORT,
  type FerryServerOptions,
} from './server/ferry-server.js';
export {
  FerryClient,
  DEFAULT_CONNECT_TIMEOUT_MS,
  type ConnectOptions,
  type ServerInfo,
} from './client/client.js';
export {
  SMALL_FILE_MAX_BYTES,
  BATCH_LIMITS,
  smallFileBatchBytes,
  localFileHash,
  writeWholeFile,
  type DownloadBatchResult,
  type SmallFile,
  type BatchResult,
} from './client/small-files.js';
export { openClient, type OpenClientOptions } from './client/open-client.js';
export { RemoteFlatFs, type RemoteFlatFsOptions } from './remote/remote-flatfs.js';
export { RemoteBlockDevice } from './remote/remote-blockdev.js';
export {
  fileSource,
  bufferSource,
  fileSink,
  bufferSink,
  streamSink,
  type UploadSource,
  type DownloadSink,
} from './client/sources.js';
export type { CopyOptions, CopyProgress, CopyStats } from './client/copy-options.js';
export { partFileSink, type DownloadGeometry } from './client/download-part.js';
export {
  discover,
  DiscoveryResponder,
  DEFAULT_DISCOVERY_PORT,
  DEFAULT_DISCOVERY_WAIT_MS,
  type DiscoveredServer,
  type DiscoverOptions,
} from './discovery.js';
export { parseRemote, formatRemote, looksRemote, type RemoteRef } from './client/remote-url.js';
export { TRANSFER_LIMITS } from '../core/limits.js';
