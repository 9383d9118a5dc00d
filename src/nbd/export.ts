/**
 * What the server offers: one block device under one name, and the flags that describe it.
 *
 * Why here and not in the negotiation: the transmission flags must say exactly what the request
 * handler supports, so both read them from one function. The export also answers to the empty name
 * (the protocol's "default export"), so clients that name no export find it.
 */
import type { BlockDevice } from '../blockdev/types.js';
import {
  NBD_FLAG_CAN_MULTI_CONN,
  NBD_FLAG_HAS_FLAGS,
  NBD_FLAG_READ_ONLY,
  NBD_FLAG_SEND_DF,
  NBD_FLAG_SEND_FLUSH,
  NBD_FLAG_SEND_FUA,
  NBD_FLAG_SEND_TRIM,
  NBD_FLAG_SEND_WRITE_ZEROES,
} from './constants.js';

export interface NbdExport {
  /** The export's name ('' is allowed: then only the default export exists). */
  readonly name: string;
  /** A one-line description for NBD_INFO_DESCRIPTION. */
  readonly description: string;
  readonly device: BlockDevice;
  /** True when writes are refused: the device is read-only or the server was asked to be. */
  readonly readOnly: boolean;
  /**
   * True when every connection sees the same device and a flush on one makes every connection's
   * completed writes durable (one shared BlockDevice without a per-connection cache).
   */
  readonly multiConn: boolean;
  /** Advertised maximum payload (READ/WRITE length) in bytes. */
  readonly maxPayloadBytes: number;
}

/** True when `name` selects this export: its own name, or '' (the default export). */
export function exportMatches(exp: NbdExport, name: string): boolean {
  return name === exp.name || name === '';
}

/** Transmission flags for this export; SEND_DF only once structured replies were negotiated. */
export function transmissionFlagsOf(exp: NbdExport, structuredReplies: boolean): number {
  let flags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH;
  if (exp.readOnly) flags |= NBD_FLAG_READ_ONLY;
  else flags |= NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES;
  if (structuredReplies) flags |= NBD_FLAG_SEND_DF;
  if (exp.multiConn) flags |= NBD_FLAG_CAN_MULTI_CONN;
  return flags;
}

/** Block size constraints: any alignment, the device's block as preferred, our payload limit as max. */
export function blockSizesOf(exp: NbdExport): { minBytes: number; preferredBytes: number; maxBytes: number } {
  const preferredBytes = Math.max(512, Math.min(exp.device.blockBytes, exp.maxPayloadBytes));
  return { minBytes: 1, preferredBytes, maxBytes: exp.maxPayloadBytes };
}
