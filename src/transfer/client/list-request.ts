/**
 * The one way a client turns ListOptions into a LIST request and a LIST reply into a ListPage, so
 * FerryClient and RemoteFlatFs check and encode a listing alike: the limit a positive whole number,
 * the cursor a name or a folder (`a/`), the prefix text the flat FS accepts, the delimiter '/' or
 * none. A bad option fails here, with the code the server would answer, before any message.
 */
import { FerryError } from '../../core/errors.js';
import { validateCursor, validatePrefix } from '../../flatfs/names.js';
import type { ListOptions, ListPage } from '../../flatfs/types.js';
import { decodeListing, type ReplyOf, type RequestOf } from '../../wire/transfer/index.js';

/** The LIST request for `opts`; `limit` 0 asks for the server's default page. Throws on bad options. */
export function listRequestOf(opts: ListOptions, limit: number): RequestOf<'LIST'> {
  if (opts.limit !== undefined && (!Number.isSafeInteger(opts.limit) || opts.limit <= 0)) {
    throw new FerryError('INVALID_ARGUMENT', `list limit ${opts.limit}: use a positive whole number`);
  }
  if (opts.cursor !== undefined) validateCursor(opts.cursor);
  const prefix = opts.prefix ?? '';
  validatePrefix(prefix);
  if (opts.delimiter !== undefined && opts.delimiter !== '/') {
    throw new FerryError(
      'INVALID_ARGUMENT',
      `list delimiter must be '/' or absent, got ${JSON.stringify(opts.delimiter)}: names are split at '/' only`,
    );
  }
  return {
    limit,
    includeHidden: opts.includeHidden ? 1 : 0,
    cursor: opts.cursor ?? '',
    prefix,
    delimiter: opts.delimiter ?? '',
  };
}

/** The page a LIST reply carries (files, folders and the next cursor). Throws MALFORMED. */
export function listPageOf(reply: ReplyOf<'LIST'>): ListPage {
  const { entries, prefixes } = decodeListing(reply.entries);
  return { entries, prefixes, nextCursor: reply.hasMore === 1 ? reply.nextCursor : null };
}
