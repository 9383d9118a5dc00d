/**
 * The named bounds of the transfer engine live with every other limit in src/core/limits.ts; this
 * module re-exports them for the transfer layer's files.
 */
export { TRANSFER_LIMITS } from '../core/limits.js';
