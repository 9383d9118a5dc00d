/**
 * The server's handlers for copies: offset uploads and append sequences (begin, data, commit),
 * downloads (open, read, close), and the abort all three share.
 *
 * Why here: these requests open and end transfers in the TransferTable; the sessions themselves
 * (offset-upload.ts, append-upload.ts, download.ts) know nothing of peers, ids or replies. The data
 * requests (UPLOAD_BLOCK, APPEND_DATA, DOWNLOAD_READ) are the hot path: no decode into objects, a
 * reused header view, and a download read answered from one pooled buffer with no copy.
 */
import { xxh64 } from '../../core/checksum.js';
import { isFerryError } from '../../core/errors.js';
import {
  BLOCK_HEADER_BYTES,
  READ_REPLY_HEADER_BYTES,
  decodeRequest,
  encodeReply,
  encodeReplyFor,
  OFF_FLAGS,
  readBlockHeader,
  writeReadReplyHeader,
  type MessageName,
} from '../../wire/transfer/index.js';
import { AppendUpload } from './append-upload.js';
import { Download } from './download.js';
import { downloadFiles, uploadFiles } from './file-batch.js';
import { OffsetUpload } from './offset-upload.js';
import type { PeerSession } from './peer-session.js';
import { replyHeader, type Handler, type ServerScope } from './scope.js';

/** Checks what every begin shares (name, room) and retires an older upload to the same name. */
async function beginChecks(s: ServerScope, session: PeerSession, name: string): Promise<void> {
  s.gate.checkName(name);
  s.transfers.checkRoom(session);
  s.transfers.checkUnfinishedRoom(session, name);
  await s.transfers.takeOver(name);
}

const UPLOAD_HANDLERS = {
  UPLOAD_BEGIN: async (s, session, id, payload) => {
    const r = decodeRequest('UPLOAD_BEGIN', payload);
    await beginChecks(s, session, r.name);
    const up = await OffsetUpload.begin(s.gate.needFs(), { ...r, resume: r.resume === 1 }, s.clock);
    const entry = s.transfers.add(session, { kind: 'upload', up });
    return [
      encodeReply('UPLOAD_BEGIN', id, {
        transferId: entry.id,
        blockCount: up.blockCount,
        resumed: up.resumed ? 1 : 0,
        verified: up.resumed ? Buffer.from(up.verified.bytes) : Buffer.alloc(0),
      }),
    ];
  },
  UPLOAD_BLOCK: async (s, session, id, payload) => {
    const h = readBlockHeader(payload, s.blockHeader);
    const entry = s.transfers.of(session, h.transferId, 'upload');
    entry.lastActiveMs = s.clock.nowMs();
    const { position, hash } = h;
    try {
      await entry.t.up.writeBlock(position, hash, payload.subarray(BLOCK_HEADER_BYTES));
    } catch (err) {
      if (isFerryError(err, 'HASH_MISMATCH')) s.stats.blocksRefused++;
      throw err;
    }
    s.stats.blocksWritten++;
    return [replyHeader('UPLOAD_BLOCK', id)];
  },
  UPLOAD_COMMIT: async (s, session, id, payload) => {
    const r = decodeRequest('UPLOAD_COMMIT', payload);
    const entry = s.transfers.of(session, r.transferId, 'upload');
    const sizeBytes = await s.transfers.commit(entry, () =>
      entry.t.up.commit(r.verify === 1 ? r.fileHash : null),
    );
    return [encodeReply('UPLOAD_COMMIT', id, { sizeBytes })];
  },
  UPLOAD_FILES: uploadFiles,
  TRANSFER_ABORT: async (s, session, id, payload) => {
    const r = decodeRequest('TRANSFER_ABORT', payload);
    await s.transfers.abort(s.transfers.get(session, r.transferId), r.keepJournal === 1);
    return [encodeReply('TRANSFER_ABORT', id, {})];
  },
} satisfies Partial<Record<MessageName, Handler>>;

const APPEND_HANDLERS = {
  APPEND_BEGIN: async (s, session, id, payload) => {
    const r = decodeRequest('APPEND_BEGIN', payload);
    await beginChecks(s, session, r.name);
    const up = await AppendUpload.begin(s.gate.needFs(), { ...r, resume: r.resume === 1 }, s.clock);
    const entry = s.transfers.add(session, { kind: 'append', up });
    return [
      encodeReply('APPEND_BEGIN', id, {
        transferId: entry.id,
        nextSeq: up.nextSeq,
        sizeBytes: up.sizeBytes,
        resumed: up.resumed ? 1 : 0,
      }),
    ];
  },
  APPEND_DATA: async (s, session, id, payload) => {
    const h = readBlockHeader(payload, s.blockHeader);
    const entry = s.transfers.of(session, h.transferId, 'append');
    entry.lastActiveMs = s.clock.nowMs();
    await entry.t.up.append(h.position, h.hash, payload.subarray(BLOCK_HEADER_BYTES));
    s.stats.blocksWritten++;
    return [replyHeader('APPEND_DATA', id)];
  },
  APPEND_COMMIT: async (s, session, id, payload) => {
    const r = decodeRequest('APPEND_COMMIT', payload);
    const entry = s.transfers.of(session, r.transferId, 'append');
    const sizeBytes = await s.transfers.commit(entry, () =>
      entry.t.up.commit(r.sizeBytes, r.verify === 1 ? r.fileHash : null),
    );
    return [encodeReply('APPEND_COMMIT', id, { sizeBytes })];
  },
} satisfies Partial<Record<MessageName, Handler>>;

const DOWNLOAD_HANDLERS = {
  DOWNLOAD_OPEN: async (s, session, id, payload) => {
    const r = decodeRequest('DOWNLOAD_OPEN', payload);
    s.gate.checkName(r.name);
    s.transfers.checkRoom(session);
    const dl = await Download.open(s.gate.needFs(), r.name);
    const entry = s.transfers.add(session, { kind: 'download', dl });
    return [
      encodeReplyFor('DOWNLOAD_OPEN', payload[OFF_FLAGS] ?? 0, id, {
        transferId: entry.id,
        sizeBytes: dl.sizeBytes,
        mtimeMs: dl.mtimeMs,
        mode: dl.mode,
      }),
    ];
  },
  DOWNLOAD_READ: async (s, session, id, payload) => {
    const r = decodeRequest('DOWNLOAD_READ', payload);
    const entry = s.transfers.of(session, r.transferId, 'download');
    entry.t.dl.check(r.offset, r.length);
    await sendRead(s, session, id, entry.t.dl, r.offset, r.length);
    return null;
  },
  DOWNLOAD_CLOSE: async (s, session, id, payload) => {
    const r = decodeRequest('DOWNLOAD_CLOSE', payload);
    const entry = s.transfers.of(session, r.transferId, 'download');
    s.transfers.remove(entry);
    const fileHash = await entry.t.dl.close(r.verify === 1);
    s.stats.downloadsServed++;
    s.transfers.logEnd(entry, 'ok');
    return [encodeReply('DOWNLOAD_CLOSE', id, { fileHash })];
  },
  DOWNLOAD_FILES: downloadFiles,
} satisfies Partial<Record<MessageName, Handler>>;

/**
 * Reads straight into a pooled buffer that holds the reply header and the data; no copy. The buffer
 * comes from the peer's share (read-buffers.ts) and goes back once the reply is received.
 */
async function sendRead(
  s: ServerScope,
  session: PeerSession,
  id: number,
  dl: Download,
  offset: number,
  length: number,
): Promise<void> {
  const buf = await s.readBuffers.acquire(session);
  let handed = false;
  try {
    const data = buf.subarray(READ_REPLY_HEADER_BYTES, READ_REPLY_HEADER_BYTES + length);
    await dl.readInto(offset, data);
    writeReadReplyHeader(buf, id, xxh64(data));
    const handle = await s.send(session.peer, [buf.subarray(0, READ_REPLY_HEADER_BYTES), data]);
    if (handle) {
      handed = true;
      s.readBuffers.handOff(session, buf, handle);
    }
  } finally {
    if (!handed) s.readBuffers.release(session, buf);
  }
}

export const TRANSFER_HANDLERS = { ...UPLOAD_HANDLERS, ...APPEND_HANDLERS, ...DOWNLOAD_HANDLERS };
