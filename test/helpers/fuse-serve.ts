/**
 * A test-only mount server: a FaultyFlatFs over memory, mounted at argv[2] with the mount settings
 * in argv[3] (`key=value,...`). Signals switch the backend's failure on, to test a lost server
 * without a network: SIGUSR1 makes every call reject with UNREACHABLE, SIGHUP makes every call hang.
 * Prints JSON lines like `ferry mount --json`; SIGTERM unmounts and exits.
 */
import { MemoryFlatFs, mountFlatFs } from '../../src/index.js';
import { FaultyFlatFs } from './fuse-faulty-flatfs.js';

const [mountpoint, config] = process.argv.slice(2);
if (mountpoint === undefined) throw new Error('usage: fuse-serve.ts MOUNTPOINT [key=value,...]');
const fs = new FaultyFlatFs(new MemoryFlatFs({ quotaBytes: 256 * 2 ** 20 }));
const mount = await mountFlatFs(fs, mountpoint, config ?? '');
const say = (line: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(line) + '\n');
say({ event: 'mounted', mountpoint: mount.mountpoint, pid: process.pid });

process.on('SIGUSR1', () => {
  fs.fault = { kind: 'reject', code: 'UNREACHABLE' };
  say({ event: 'fault', kind: 'reject' });
});
process.on('SIGHUP', () => {
  fs.fault = { kind: 'hang' };
  say({ event: 'fault', kind: 'hang' });
});
process.on('SIGTERM', () => {
  void mount.unmount().then(() => {
    say({ event: 'unmounted', ops: mount.stats.toJSON() });
    process.exit(0);
  });
});
