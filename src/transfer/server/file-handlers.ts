/**
 * The server's handlers for the flat filesystem: the session ping, whole-file requests by name
 * (stat, list, unlink, rename, truncate, times) and handle requests (create, open, read, write,
 * append, close, sync), each a thin call of the served FlatFs.
 *
 * Why a table: each request is one entry keyed by its message name; the checks all requests share
 * live in the gate, so an entry says only what its request does.
 */
import { FerryError } from '../../core/errors.js';
import { LIMITS, TRANSFER_LIMITS } from '../../core/limits.js';
import { validatePrefix } from '../../flatfs/names.js';
import {
  decodeListRequest,
  decodeRequest,
  encodeListing,
  encodeReply,
  encodeReplyFor,
  OFF_FLAGS,
  type MessageName,
} from '../../wire/transfer/index.js';
import { hashFile } from './file-hash.js';
import { replyHeader, type Handler } from './scope.js';

/** Requests by name: PING, STATFS, STAT, LIST, FILE_HASH, UNLINK, RENAME, TRUNCATE, SET_TIMES. */
const NAME_HANDLERS = {
  PING: async (s, _session, id) => [
    encodeReply('PING', id, {
      readOnly: s.gate.readOnly ? 1 : 0,
      maxBlockBytes: TRANSFER_LIMITS.MAX_BLOCK_BYTES,
      serverName: s.serverName,
    }),
  ],
  STATFS: async (s, _session, id, payload) => {
    const st = await s.gate.needFs().statfs();
    const parts = (await s.partUsage?.()) ?? { uploads: 0, bytes: 0 };
    return [
      encodeReplyFor('STATFS', payload[OFF_FLAGS] ?? 0, id, {
        totalBytes: st.totalBytes,
        usedBytes: st.usedBytes,
        freeBytes: st.freeBytes,
        files: st.files,
        maxNameBytes: st.maxNameBytes,
        readOnly: st.readOnly || s.gate.readOnly ? 1 : 0,
        maxSegmentBytes: st.maxSegmentBytes ?? LIMITS.MAX_SEGMENT_BYTES,
        partUploads: parts.uploads,
        partBytes: parts.bytes,
      }),
    ];
  },
  STAT: async (s, _session, id, payload) => {
    const { name } = decodeRequest('STAT', payload);
    s.gate.checkName(name);
    return [encodeReply('STAT', id, await s.gate.needFs().stat(name))];
  },
  LIST: async (s, _session, id, payload) => {
    const r = decodeListRequest(payload);
    if (r.cursor !== '') s.gate.checkCursor(r.cursor);
    validatePrefix(r.prefix);
    if (r.delimiter !== '' && r.delimiter !== '/') {
      throw new FerryError(
        'INVALID_ARGUMENT',
        `list delimiter must be '/' or empty, got ${JSON.stringify(r.delimiter)}: names are split at '/' only`,
      );
    }
    const page = await s.gate.needFs().list({
      cursor: r.cursor === '' ? undefined : r.cursor,
      limit: r.limit === 0 ? undefined : Math.min(r.limit, LIMITS.MAX_LIST_PAGE),
      includeHidden: s.gate.listsHidden && r.includeHidden === 1,
      prefix: r.prefix,
      ...(r.delimiter === '/' ? { delimiter: '/' as const } : {}),
    });
    return [
      encodeReply('LIST', id, {
        hasMore: page.nextCursor === null ? 0 : 1,
        nextCursor: page.nextCursor ?? '',
        entries: encodeListing(page.entries, page.prefixes ?? []),
      }),
    ];
  },
  FILE_HASH: async (s, _session, id, payload) => {
    const { name } = decodeRequest('FILE_HASH', payload);
    s.gate.checkName(name);
    return [encodeReply('FILE_HASH', id, await hashFile(s.gate.needFs(), name))];
  },
  UNLINK: async (s, _session, id, payload) => {
    const { name } = decodeRequest('UNLINK', payload);
    s.gate.checkName(name);
    await s.gate.needFs().unlink(name);
    return [encodeReply('UNLINK', id, {})];
  },
  RENAME: async (s, _session, id, payload) => {
    const r = decodeRequest('RENAME', payload);
    s.gate.checkName(r.from);
    s.gate.checkName(r.to);
    await s.gate.needFs().rename(r.from, r.to);
    return [encodeReply('RENAME', id, {})];
  },
  TRUNCATE: async (s, _session, id, payload) => {
    const r = decodeRequest('TRUNCATE', payload);
    s.gate.checkName(r.name);
    await s.gate.needFs().truncate(r.name, r.sizeBytes);
    return [encodeReply('TRUNCATE', id, {})];
  },
  SET_TIMES: async (s, _session, id, payload) => {
    const r = decodeRequest('SET_TIMES', payload);
    s.gate.checkName(r.name);
    await s.gate.needFs().setTimes(r.name, r.atimeMs, r.mtimeMs);
    return [encodeReply('SET_TIMES', id, {})];
  },
} satisfies Partial<Record<MessageName, Handler>>;

/** Requests on open handles: CREATE, OPEN, CLOSE, FSTAT, READ, WRITE, APPEND, FTRUNCATE, FSYNC. */
const HANDLE_HANDLERS = {
  CREATE: async (s, session, id, payload) => {
    const r = decodeRequest('CREATE', payload);
    s.gate.checkName(r.name);
    session.checkHandleRoom();
    const h = await s.gate.needFs().create(r.name, { exclusive: r.exclusive === 1, sizeBytes: r.sizeBytes });
    return [encodeReply('CREATE', id, { handle: session.addHandle(h) })];
  },
  OPEN: async (s, session, id, payload) => {
    const r = decodeRequest('OPEN', payload);
    s.gate.checkName(r.name);
    if (r.write === 1) s.gate.checkWritable();
    session.checkHandleRoom();
    const h = await s.gate.needFs().open(r.name, { write: r.write === 1 });
    return [encodeReply('OPEN', id, { handle: session.addHandle(h) })];
  },
  CLOSE: async (s, session, id, payload) => {
    const r = decodeRequest('CLOSE', payload);
    const h = session.handleOf(r.handle);
    session.handles.delete(r.handle);
    await s.gate.needFs().closeFile(h);
    return [encodeReply('CLOSE', id, {})];
  },
  FSTAT: async (s, session, id, payload) => {
    const r = decodeRequest('FSTAT', payload);
    return [encodeReply('FSTAT', id, await s.gate.needFs().fstat(session.handleOf(r.handle)))];
  },
  READ: async (s, session, id, payload) => {
    const r = decodeRequest('READ', payload);
    s.gate.checkReadLength(r.length);
    const data = await s.gate.needFs().read(session.handleOf(r.handle), r.offset, r.length);
    return [replyHeader('READ', id), data];
  },
  WRITE: async (s, session, id, payload) => {
    const r = decodeRequest('WRITE', payload);
    await s.gate.needFs().write(session.handleOf(r.handle), r.offset, r.data);
    return [encodeReply('WRITE', id, {})];
  },
  APPEND: async (s, session, id, payload) => {
    const r = decodeRequest('APPEND', payload);
    const offset = await s.gate.needFs().append(session.handleOf(r.handle), r.data);
    return [encodeReply('APPEND', id, { offset })];
  },
  FTRUNCATE: async (s, session, id, payload) => {
    const r = decodeRequest('FTRUNCATE', payload);
    await s.gate.needFs().ftruncate(session.handleOf(r.handle), r.sizeBytes);
    return [encodeReply('FTRUNCATE', id, {})];
  },
  FSYNC: async (s, session, id, payload) => {
    const r = decodeRequest('FSYNC', payload);
    await s.gate.needFs().fsync(session.handleOf(r.handle));
    return [encodeReply('FSYNC', id, {})];
  },
} satisfies Partial<Record<MessageName, Handler>>;

export const FILE_HANDLERS = { ...NAME_HANDLERS, ...HANDLE_HANDLERS };
