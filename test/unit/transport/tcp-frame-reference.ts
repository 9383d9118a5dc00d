/**
 * A slow, obviously-correct decoder of a TCP frame stream, written from docs/protocol.md ("TCP
 * transport") with a plain DataView and the layout's values re-typed here on purpose: the fast
 * FrameReader is checked against it.
 */

export interface ReferenceFrame {
  type: number;
  flags: number;
  seq: number;
  body: number[];
}

/** Decodes a whole stream; stops at the first bad header with the reason, or at a partial frame. */
export function referenceDecodeStream(
  bytes: Uint8Array,
  maxDataBytes: number,
): { frames: ReferenceFrame[]; error: string | null; leftover: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const frames: ReferenceFrame[] = [];
  let at = 0;
  while (bytes.length - at >= 16) {
    if (dv.getUint16(at) !== 0x4654) return { frames, error: 'badMagic', leftover: 0 };
    const type = dv.getUint8(at + 2);
    const flags = dv.getUint8(at + 3);
    const length = dv.getUint32(at + 4);
    const seqBig = dv.getBigUint64(at + 8);
    if (type < 1 || type > 9) return { frames, error: 'malformed', leftover: 0 };
    if (flags > 1 || (flags === 1 && type !== 5)) return { frames, error: 'malformed', leftover: 0 };
    if (seqBig > BigInt(Number.MAX_SAFE_INTEGER)) return { frames, error: 'malformed', leftover: 0 };
    const limit = type === 5 ? maxDataBytes : 1024 * 12;
    if (length > limit) return { frames, error: 'tooLarge', leftover: 0 };
    if (bytes.length - at - 16 < length) break;
    frames.push({ type, flags, seq: Number(seqBig), body: [...bytes.subarray(at + 16, at + 16 + length)] });
    at += 16 + length;
  }
  return { frames, error: null, leftover: bytes.length - at };
}
