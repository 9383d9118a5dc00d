// Every `ferry` sub-command, one module each. Add a command by adding its module here.
import type { CommandModule } from 'yargs';
import { benchCommand } from './bench.js';
import { impairCommand } from './impair.js';
import { mountCommand } from './mount.js';
import { nbdCommand } from './nbd.js';
import { umountCommand } from './umount.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- yargs command modules differ in their argument types
export const commands: CommandModule<any, any>[] = [benchCommand, impairCommand, mountCommand, nbdCommand, umountCommand];
