/**
 * Stopping long-running commands (serve, nbd, impair) on SIGINT or SIGTERM.
 *
 * Why one helper, called before the command announces that it is ready: a test or a supervisor
 * that reads "listening" may signal at once, and a signal that arrives before the handler exists
 * kills the process with the default action (no clean stop, exit by signal). Seen with `ferry
 * serve` under load: 3 runs in 8 died that way when the handler was installed after the line.
 */

export interface SignalOptions {
  /** When set, a second SIGINT/SIGTERM exits at once with this code (for stops that can hang). */
  forceExitCode?: number;
}

/** Installs the handlers now; resolves with the first SIGINT or SIGTERM. */
export function untilSignal(opts: SignalOptions = {}): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      if (opts.forceExitCode !== undefined) {
        const code = opts.forceExitCode;
        const force = (): void => process.exit(code);
        process.once('SIGINT', force);
        process.once('SIGTERM', force);
      }
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

export interface SignalAbort {
  /** Aborted by the first SIGINT or SIGTERM after `abortOnSignal` was called. */
  signal: AbortSignal;
  /** Removes the handlers (call when the work is over, also on failure). */
  release(): void;
}

/**
 * For commands that stop their current work on Ctrl-C and still print what they have (benchmarks,
 * the demo): the first SIGINT/SIGTERM calls `onStop` (if given) and aborts the signal.
 */
export function abortOnSignal(onStop?: () => void): SignalAbort {
  const controller = new AbortController();
  const on = (): void => {
    onStop?.();
    controller.abort();
  };
  process.once('SIGINT', on);
  process.once('SIGTERM', on);
  return {
    signal: controller.signal,
    release: () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}
