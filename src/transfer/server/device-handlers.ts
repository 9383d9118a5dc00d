/**
 * The server's handlers for named block devices: list, open and close a device handle, and the
 * BlockDevice calls on it (read, write, flush, trim, zero, extents), each a thin call of the device.
 *
 * Why a table: as for files, one entry per message name; the gate already refused changes to a
 * read-only server, and a device's own read-only flag is the device's to enforce.
 */
import { FerryError } from '../../core/errors.js';
import { checkRange } from '../../blockdev/range.js';
import {
  decodeRequest,
  encodeDevices,
  encodeExtents,
  encodeReply,
  HEADER_BYTES,
  type MessageName,
} from '../../wire/transfer/index.js';
import { writeReplyHeader, type Handler } from './scope.js';

export const DEVICE_HANDLERS = {
  BD_LIST: async (s, _session, id) => {
    const list = [...s.devices].map(([n, d]) => ({
      name: n,
      sizeBytes: d.sizeBytes,
      blockBytes: d.blockBytes,
      readOnly: d.readOnly || s.gate.readOnly,
    }));
    return [encodeReply('BD_LIST', id, { devices: encodeDevices(list) })];
  },
  BD_OPEN: async (s, session, id, payload) => {
    const r = decodeRequest('BD_OPEN', payload);
    const d = s.devices.get(r.name);
    if (!d)
      throw new FerryError(
        'NOT_FOUND',
        `no block device named "${r.name}": see the server's --blockdev list`,
      );
    session.checkHandleRoom();
    return [
      encodeReply('BD_OPEN', id, {
        device: session.addDevice(d),
        sizeBytes: d.sizeBytes,
        blockBytes: d.blockBytes,
        readOnly: d.readOnly || s.gate.readOnly ? 1 : 0,
      }),
    ];
  },
  BD_CLOSE: async (_s, session, id, payload) => {
    const r = decodeRequest('BD_CLOSE', payload);
    session.deviceOf(r.device);
    session.devices.delete(r.device);
    return [encodeReply('BD_CLOSE', id, {})];
  },
  BD_READ: async (s, session, id, payload) => {
    const r = decodeRequest('BD_READ', payload);
    s.gate.checkReadLength(r.length);
    const device = session.deviceOf(r.device);
    // refused before the reply buffer is allocated (the device checks again, closed included)
    checkRange(
      { sizeBytes: device.sizeBytes, readOnly: device.readOnly, closed: false },
      'read',
      r.offset,
      r.length,
    );
    // The reply in one buffer, the device reading straight in after the header: no second buffer,
    // no copy of the data between the device and the packet.
    const reply = Buffer.allocUnsafe(HEADER_BYTES + r.length);
    writeReplyHeader(reply, 'BD_READ', id);
    await device.readInto(r.offset, reply.subarray(HEADER_BYTES));
    return [reply];
  },
  BD_WRITE: async (_s, session, id, payload) => {
    const r = decodeRequest('BD_WRITE', payload);
    await session.deviceOf(r.device).write(r.offset, r.data);
    return [encodeReply('BD_WRITE', id, {})];
  },
  BD_FLUSH: async (_s, session, id, payload) => {
    const r = decodeRequest('BD_FLUSH', payload);
    await session.deviceOf(r.device).flush();
    return [encodeReply('BD_FLUSH', id, {})];
  },
  BD_TRIM: async (_s, session, id, payload) => {
    const r = decodeRequest('BD_TRIM', payload);
    await session.deviceOf(r.device).trim(r.offset, r.length);
    return [encodeReply('BD_TRIM', id, {})];
  },
  BD_ZERO: async (_s, session, id, payload) => {
    const r = decodeRequest('BD_ZERO', payload);
    await session.deviceOf(r.device).writeZeroes(r.offset, r.length);
    return [encodeReply('BD_ZERO', id, {})];
  },
  BD_EXTENTS: async (_s, session, id, payload) => {
    const r = decodeRequest('BD_EXTENTS', payload);
    const extents = await session.deviceOf(r.device).extents(r.offset, r.length);
    return [encodeReply('BD_EXTENTS', id, { extents: encodeExtents(extents) })];
  },
} satisfies Partial<Record<MessageName, Handler>>;
