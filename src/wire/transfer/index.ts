// Transfer message layouts (pure encode/decode, no I/O): header, message table, hot-path blocks,
// record lists, the resume journal and discovery datagrams.
export * from './header.js';
export * from './codec.js';
export * from './messages.js';
export * from './block.js';
export * from './lists.js';
export * from './journal.js';
export * from './discovery.js';
export * from './file-batch.js';
