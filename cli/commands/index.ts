// Every `ferry` sub-command, one module each. Add a command by adding its module here.
import type { CommandModule } from 'yargs';
import { benchCommand } from './bench/index.js';
import { cpCommand } from './cp.js';
import { demoCommand } from './demo.js';
import { discoverCommand } from './discover.js';
import { impairCommand } from './impair.js';
import { keygenCommand } from './keygen.js';
import { lsCommand } from './ls.js';
import { mountCommand } from './mount.js';
import { nbdCommand } from './nbd.js';
import { rmCommand } from './rm.js';
import { serveCommand } from './serve.js';
import { statCommand } from './stat.js';
import { syncCommand } from './sync.js';
import { umountCommand } from './umount.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- yargs command modules differ in their argument types
export const commands: CommandModule<any, any>[] = [
  benchCommand,
  cpCommand,
  demoCommand,
  discoverCommand,
  impairCommand,
  keygenCommand,
  lsCommand,
  mountCommand,
  nbdCommand,
  rmCommand,
  serveCommand,
  statCommand,
  syncCommand,
  umountCommand,
];
