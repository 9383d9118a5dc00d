/**
 * The server's one handler table: every request the wire defines, keyed by its message name, from
 * the three groups (files, transfers, devices).
 *
 * Why one table: the type below requires an entry for every MessageName, so a request added to the
 * wire table without a handler does not compile, and dispatch is one lookup instead of a chain of
 * switches.
 */
import type { MessageName } from '../../wire/transfer/index.js';
import { DEVICE_HANDLERS } from './device-handlers.js';
import { FILE_HANDLERS } from './file-handlers.js';
import type { Handler } from './scope.js';
import { TRANSFER_HANDLERS } from './transfer-handlers.js';

export const HANDLERS: Readonly<Record<MessageName, Handler>> = {
  ...FILE_HANDLERS,
  ...TRANSFER_HANDLERS,
  ...DEVICE_HANDLERS,
};
