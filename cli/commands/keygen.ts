/**
 * `ferry keygen [--out FILE] [--force]`: makes a secret nobody can guess (32 random bytes, printed
 * as `ferry-` + base64url on one line), for `--secret-file` on both sides.
 *
 * Why a command: ferry refuses secrets below 128 bits (cli/secret.ts); this is the one-line way to
 * make a good one. With --out the file is created 0600 with O_EXCL, so an existing secret is never
 * overwritten by accident; --force replaces it (a new file renamed over the old one, never a
 * rewrite in place that a reader could catch half-written).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsc, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { FerryError } from '../../src/index.js';
import { generateSecret, KEYGEN_SECRET_BYTES } from '../secret.js';

interface KeygenArgs {
  out?: string;
  force: boolean;
}

/** Creates `path` 0600 with `text`; EEXIST when it exists. */
function writeNew(path: string, text: string): void {
  const fd = openSync(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeSecretFile(path: string, text: string, force: boolean): void {
  if (!force) {
    try {
      writeNew(path, text);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      throw new FerryError(
        'EXISTS',
        `${path} exists: keep it, or pass --force to replace it (clients using the old secret stop working)`,
        { path },
      );
    }
    return;
  }
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeNew(tmp, text);
  try {
    renameSync(tmp, path);
  } catch (err) {
    unlinkSync(tmp);
    throw err;
  }
}

export const keygenCommand: CommandModule<object, KeygenArgs> = {
  command: 'keygen',
  describe: 'make a secret nobody can guess (256 random bits) for --secret-file',
  builder: (y: Argv<object>) =>
    y
      .option('out', {
        type: 'string',
        requiresArg: true,
        describe: 'write the secret to this file (mode 0600) instead of printing it',
      })
      .option('force', { type: 'boolean', default: false, describe: 'with --out: replace an existing file' })
      .example('$0 keygen --out ~/.ferry.secret', 'make a secret file; copy it to the other side')
      .example('FERRY_SECRET=$($0 keygen) $0 serve --memory', 'a one-off secret in the environment'),
  handler: (args) => {
    const secret = generateSecret();
    if (args.out === undefined) {
      process.stdout.write(secret + '\n');
      return;
    }
    writeSecretFile(args.out, secret + '\n', args.force);
    process.stderr.write(
      `ferry keygen: wrote a ${KEYGEN_SECRET_BYTES * 8}-bit secret to ${args.out} (mode 0600): give it to both sides with --secret-file\n`,
    );
  },
};
