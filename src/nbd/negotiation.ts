/**
 * Option haggling of the fixed newstyle handshake, from the greeting to the transmission phase.
 *
 * Why it looks like this: the handshake is a dialogue (one option, its replies, the next option),
 * so it is written as sequential code over a HandshakeReader. Every option the server does not
 * implement (STARTTLS, EXTENDED_HEADERS, anything unknown) is answered with NBD_REP_ERR_UNSUP after
 * its data is skipped, so the dialogue stays in sync; malformed data of a known option gets
 * NBD_REP_ERR_INVALID. Only a broken magic, unknown client flags, a refused NBD_OPT_EXPORT_NAME (it
 * cannot carry an error) or endless haggling end the connection.
 */
import type { Socket } from 'node:net';
import { LIMITS } from '../core/index.js';
import {
  BASE_ALLOCATION,
  NBD_FLAG_C_FIXED_NEWSTYLE,
  NBD_FLAG_C_NO_ZEROES,
  NBD_FLAG_FIXED_NEWSTYLE,
  NBD_FLAG_NO_ZEROES,
  NBD_INFO_DESCRIPTION,
  NBD_INFO_NAME,
  NBD_OPT_ABORT,
  NBD_OPT_EXPORT_NAME,
  NBD_OPT_GO,
  NBD_OPT_INFO,
  NBD_OPT_LIST,
  NBD_OPT_LIST_META_CONTEXT,
  NBD_OPT_SET_META_CONTEXT,
  NBD_OPT_STRUCTURED_REPLY,
  NBD_REP_ACK,
  NBD_REP_ERR_INVALID,
  NBD_REP_ERR_SHUTDOWN,
  NBD_REP_ERR_TOO_BIG,
  NBD_REP_ERR_UNKNOWN,
  NBD_REP_ERR_UNSUP,
  NBD_REP_INFO,
  NBD_REP_META_CONTEXT,
  NBD_REP_SERVER,
} from './constants.js';
import { blockSizesOf, exportMatches, transmissionFlagsOf, type NbdExport } from './export.js';
import {
  CLIENT_FLAGS_BYTES,
  decodeInfoRequest,
  decodeMetaContextRequest,
  decodeOptionHeader,
  encodeExportNameReply,
  encodeGreeting,
  encodeInfoBlockSize,
  encodeInfoDescription,
  encodeInfoExport,
  encodeInfoName,
  encodeOptionReply,
  encodeRepMetaContext,
  encodeRepServer,
  OPTION,
} from './handshake-codec.js';
import type { HandshakeReader } from './handshake-reader.js';

/** The context id the server gives base:allocation when a client selects it. */
export const BASE_ALLOCATION_CONTEXT_ID = 1;

/** What the handshake agreed on, for the transmission phase. */
export interface Negotiated {
  structuredReplies: boolean;
  /** Context id of base:allocation, or 0 when the client selected no metadata context. */
  allocationContextId: number;
  transmissionFlags: number;
}

/** How the handshake ended when it did not reach the transmission phase. */
export type NegotiationEnd = 'aborted' | 'refused';

interface State {
  clientFlags: number;
  structuredReplies: boolean;
  /** Export name the last successful SET_META_CONTEXT selected base:allocation for, else null. */
  metaContextExport: string | null;
  options: number;
}

/**
 * Runs the handshake on `socket`. Resolves with the agreed settings once the client enters the
 * transmission phase, or with 'aborted' (client sent NBD_OPT_ABORT) / 'refused' (the server hung
 * up: bad flags or magic, unknown export for NBD_OPT_EXPORT_NAME, too many options). Rejects when
 * the connection closes or the reader fails (timeout, shutdown).
 */
export async function negotiate(
  socket: Socket,
  reader: HandshakeReader,
  exp: NbdExport,
  isShuttingDown: () => boolean,
): Promise<Negotiated | NegotiationEnd> {
  socket.write(encodeGreeting(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES));
  const clientFlags = (await reader.read(CLIENT_FLAGS_BYTES)).readUInt32BE(0);
  if ((clientFlags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)) !== 0) return 'refused';
  const state: State = { clientFlags, structuredReplies: false, metaContextExport: null, options: 0 };
  for (;;) {
    const header = decodeOptionHeader(await reader.read(OPTION.BYTES));
    if (!header) return 'refused';
    if (++state.options > LIMITS.NBD_MAX_OPTIONS) return 'refused';
    const { option, lengthBytes } = header;
    if (lengthBytes > LIMITS.NBD_MAX_OPTION_BYTES) {
      await reader.skip(lengthBytes);
      if (option === NBD_OPT_EXPORT_NAME) return 'refused';
      reply(
        socket,
        option,
        NBD_REP_ERR_TOO_BIG,
        `option data longer than ${LIMITS.NBD_MAX_OPTION_BYTES} bytes`,
      );
      continue;
    }
    const data = await reader.read(lengthBytes);
    if (isShuttingDown() && option !== NBD_OPT_ABORT) {
      if (option === NBD_OPT_EXPORT_NAME) return 'refused';
      reply(socket, option, NBD_REP_ERR_SHUTDOWN, 'the server is shutting down');
      continue;
    }
    const outcome = handleOption(socket, exp, state, option, data);
    if (outcome !== null) return outcome;
  }
}

/** Answers one option; returns the end of the handshake, or null to read the next option. */
function handleOption(
  socket: Socket,
  exp: NbdExport,
  state: State,
  option: number,
  data: Buffer,
): Negotiated | NegotiationEnd | null {
  switch (option) {
    case NBD_OPT_EXPORT_NAME:
      return exportName(socket, exp, state, data);
    case NBD_OPT_ABORT:
      reply(socket, option, NBD_REP_ACK);
      return 'aborted';
    case NBD_OPT_LIST:
      list(socket, exp, data);
      return null;
    case NBD_OPT_INFO:
    case NBD_OPT_GO:
      return infoOrGo(socket, exp, state, option, data);
    case NBD_OPT_STRUCTURED_REPLY:
      structuredReply(socket, state, data);
      return null;
    case NBD_OPT_LIST_META_CONTEXT:
    case NBD_OPT_SET_META_CONTEXT:
      metaContext(socket, exp, state, option, data);
      return null;
    default:
      reply(socket, option, NBD_REP_ERR_UNSUP, `option ${option} is not supported by this server`);
      return null;
  }
}

function exportName(socket: Socket, exp: NbdExport, state: State, data: Buffer): Negotiated | NegotiationEnd {
  const name = data.toString('utf8');
  if (data.includes(0) || !exportMatches(exp, name)) return 'refused';
  const flags = transmissionFlagsOf(exp, state.structuredReplies);
  const noZeroes = (state.clientFlags & NBD_FLAG_C_NO_ZEROES) !== 0;
  socket.write(encodeExportNameReply(exp.device.sizeBytes, flags, noZeroes));
  return agreed(exp, state, name, flags);
}

function list(socket: Socket, exp: NbdExport, data: Buffer): void {
  if (data.length !== 0) {
    reply(socket, NBD_OPT_LIST, NBD_REP_ERR_INVALID, 'NBD_OPT_LIST carries no data');
    return;
  }
  reply(socket, NBD_OPT_LIST, NBD_REP_SERVER, encodeRepServer(exp.name));
  reply(socket, NBD_OPT_LIST, NBD_REP_ACK);
}

function infoOrGo(
  socket: Socket,
  exp: NbdExport,
  state: State,
  option: number,
  data: Buffer,
): Negotiated | null {
  const req = decodeInfoRequest(data);
  if (!req) {
    reply(socket, option, NBD_REP_ERR_INVALID, 'malformed NBD_OPT_INFO/NBD_OPT_GO data');
    return null;
  }
  if (!exportMatches(exp, req.exportName)) {
    reply(socket, option, NBD_REP_ERR_UNKNOWN, `no export named "${req.exportName}"`);
    return null;
  }
  const flags = transmissionFlagsOf(exp, state.structuredReplies);
  reply(socket, option, NBD_REP_INFO, encodeInfoExport(exp.device.sizeBytes, flags));
  const sizes = blockSizesOf(exp);
  reply(
    socket,
    option,
    NBD_REP_INFO,
    encodeInfoBlockSize(sizes.minBytes, sizes.preferredBytes, sizes.maxBytes),
  );
  if (req.infoTypes.includes(NBD_INFO_NAME)) reply(socket, option, NBD_REP_INFO, encodeInfoName(exp.name));
  if (req.infoTypes.includes(NBD_INFO_DESCRIPTION) && exp.description !== '') {
    reply(socket, option, NBD_REP_INFO, encodeInfoDescription(exp.description));
  }
  reply(socket, option, NBD_REP_ACK);
  if (option !== NBD_OPT_GO) return null;
  return agreed(exp, state, req.exportName, flags);
}

function structuredReply(socket: Socket, state: State, data: Buffer): void {
  if (data.length !== 0) {
    reply(socket, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_INVALID, 'NBD_OPT_STRUCTURED_REPLY carries no data');
    return;
  }
  if (state.structuredReplies) {
    reply(socket, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_INVALID, 'structured replies are already negotiated');
    return;
  }
  state.structuredReplies = true;
  reply(socket, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK);
}

/**
 * LIST_META_CONTEXT and SET_META_CONTEXT. The only context is base:allocation. `base:` lists it
 * (LIST only); `base:allocation` selects it; other leaf names and other namespaces are ignored, as
 * the spec asks. SET always replaces the previous selection, even when it fails.
 */
function metaContext(socket: Socket, exp: NbdExport, state: State, option: number, data: Buffer): void {
  const isSet = option === NBD_OPT_SET_META_CONTEXT;
  if (isSet) state.metaContextExport = null;
  if (!state.structuredReplies) {
    reply(socket, option, NBD_REP_ERR_INVALID, 'negotiate NBD_OPT_STRUCTURED_REPLY first');
    return;
  }
  const req = decodeMetaContextRequest(data);
  if (!req) {
    reply(socket, option, NBD_REP_ERR_INVALID, 'malformed meta context request');
    return;
  }
  if (!exportMatches(exp, req.exportName)) {
    reply(socket, option, NBD_REP_ERR_UNKNOWN, `no export named "${req.exportName}"`);
    return;
  }
  if (req.queries.some((q) => !q.includes(':'))) {
    reply(
      socket,
      option,
      NBD_REP_ERR_INVALID,
      'a meta context query must start with a namespace and a colon',
    );
    return;
  }
  const selects = isSet
    ? req.queries.includes(BASE_ALLOCATION)
    : req.queries.length === 0 || req.queries.some((q) => q === 'base:' || q === BASE_ALLOCATION);
  if (selects) {
    const id = isSet ? BASE_ALLOCATION_CONTEXT_ID : 0;
    reply(socket, option, NBD_REP_META_CONTEXT, encodeRepMetaContext(id, BASE_ALLOCATION));
    if (isSet) state.metaContextExport = req.exportName;
  }
  reply(socket, option, NBD_REP_ACK);
}

function agreed(exp: NbdExport, state: State, exportName: string, transmissionFlags: number): Negotiated {
  const metaMatches = state.metaContextExport !== null && exportMatches(exp, state.metaContextExport);
  return {
    structuredReplies: state.structuredReplies,
    allocationContextId: metaMatches && exportMatches(exp, exportName) ? BASE_ALLOCATION_CONTEXT_ID : 0,
    transmissionFlags,
  };
}

function reply(socket: Socket, option: number, replyType: number, data?: Uint8Array | string): void {
  const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  socket.write(encodeOptionReply(option, replyType, payload));
}
