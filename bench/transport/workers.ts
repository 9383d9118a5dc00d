/**
 * The parent's handle on one worker process: forks it, sends it phase messages, and waits for its
 * answers with a deadline. A worker that says `error`, exits early or misses a deadline makes the
 * wait reject with a message that says which node and which phase. `kill()` ends the process by its
 * own pid only, and only if it is still running.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { FromWorker, ToWorker } from './protocol.js';

type Waiter = { type: FromWorker['t']; resolve: (m: FromWorker) => void; reject: (e: Error) => void };

export interface ForkSpec {
  modulePath: string;
  execArgv: string[];
  env?: NodeJS.ProcessEnv;
}

export class WorkerProcess {
  private readonly child: ChildProcess;
  private readonly inbox: FromWorker[] = [];
  private waiter: Waiter | null = null;
  private exitedWith: string | null = null;
  readonly exited: Promise<void>;

  constructor(
    public label: string,
    spec: ForkSpec,
  ) {
    this.child = fork(spec.modulePath, [], {
      execArgv: spec.execArgv,
      env: spec.env ?? process.env,
      // stdout belongs to the parent's table or JSON: a worker writes nothing there.
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    this.child.on('message', (m: FromWorker) => this.deliver(m));
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitedWith = signal ? `signal ${signal}` : `exit code ${code}`;
        this.waiter?.reject(new Error(`${this.label} ended (${this.exitedWith}) before answering`));
        this.waiter = null;
        resolve();
      });
      this.child.once('error', (err) => {
        this.exitedWith = err.message;
        this.waiter?.reject(new Error(`${this.label}: ${err.message}`));
        this.waiter = null;
        resolve();
      });
    });
  }

  get alive(): boolean {
    return this.exitedWith === null;
  }

  /** Forgets unread messages (a reused process starts its next run with an empty inbox). */
  clearInbox(): void {
    this.inbox.length = 0;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  send(msg: ToWorker): void {
    if (this.exitedWith === null && this.child.connected) this.child.send(msg);
  }

  /** The next message of `type` (earlier messages of other types are dropped), within `timeoutMs`. */
  next<T extends FromWorker['t']>(type: T, timeoutMs: number): Promise<Extract<FromWorker, { t: T }>> {
    // One wait at a time: a new wait (the run moved on, e.g. after an abort) ends the old one.
    this.waiter?.reject(new Error(`${this.label}: stopped waiting for "${this.waiter.type}"`));
    return new Promise((resolve, reject) => {
      const settle = (fn: () => void): void => {
        clearTimeout(timer);
        if (this.waiter === waiter) this.waiter = null;
        fn();
      };
      const waiter: Waiter = {
        type,
        resolve: (m) => settle(() => resolve(m as Extract<FromWorker, { t: T }>)),
        reject: (e) => settle(() => reject(e)),
      };
      const timer = setTimeout(
        () => waiter.reject(new Error(`${this.label} did not answer "${type}" within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiter = waiter;
      this.drainInbox();
      if (this.waiter === waiter && this.exitedWith !== null) {
        waiter.reject(new Error(`${this.label} ended (${this.exitedWith})`));
      }
    });
  }

  private deliver(m: FromWorker): void {
    this.inbox.push(m);
    this.drainInbox();
  }

  private drainInbox(): void {
    while (this.waiter && this.inbox.length > 0) {
      const m = this.inbox.shift()!;
      if (m.t === 'error') this.waiter.reject(new Error(`${this.label}: ${m.message}`));
      else if (m.t === this.waiter.type) this.waiter.resolve(m);
    }
  }

  /** Ends the process (SIGKILL, by pid) if it is still running. */
  kill(): void {
    if (this.exitedWith === null && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
    }
  }
}

/**
 * Processes kept between runs. Smoke runs use it: starting a process (with tsx, from source) costs
 * more than a smoke run itself. Full runs start fresh processes for every run, so each run's CPU
 * and peak RSS are its own.
 */
export class WorkerPool {
  private readonly idle: WorkerProcess[] = [];

  constructor(private readonly spec: ForkSpec) {}

  take(labels: readonly string[]): WorkerProcess[] {
    return labels.map((label) => {
      let w = this.idle.shift();
      while (w && !w.alive) w = this.idle.shift();
      if (!w) return new WorkerProcess(label, this.spec);
      w.label = label;
      w.clearInbox();
      return w;
    });
  }

  giveBack(workers: readonly WorkerProcess[]): void {
    for (const w of workers) if (w.alive) this.idle.push(w);
  }

  /** Asks every idle process to exit, then ends (by pid) any that did not within `timeoutMs`. */
  async close(timeoutMs: number): Promise<void> {
    const all = this.idle.splice(0);
    for (const w of all) w.send({ t: 'exit' });
    await Promise.race([Promise.all(all.map((w) => w.exited)), new Promise((r) => setTimeout(r, timeoutMs))]);
    for (const w of all) w.kill();
  }
}
