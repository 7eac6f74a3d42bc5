import type { TimerHandle, Timers } from './timers.js';

/** The writable side of a connection: a `ServerResponse` or the socket under a WebSocket. */
export interface PacedOutput {
  /** Bytes written and not yet handed to the operating system. */
  readonly writableLength: number;
  write(chunk: Buffer, callback: (error?: Error | null) => void): boolean;
}

/** Options of {@link createReplayPacer}. */
export interface ReplayPacerOptions {
  output: PacedOutput;
  /** Bytes queued for the connection that are not written to `output` yet (the tick's batch). */
  pending: () => number;
  /** The connection's send buffer: a replay step runs only while its page fits under it. */
  budgetBytes: number;
  /** About the most bytes one replay step writes. */
  pageBytes: number;
  timers: Timers;
  /** The clock the write timeout is measured by. */
  now: () => number;
  /** Milliseconds the output may hold bytes without draining before `onWriteTimeout`. */
  writeTimeoutMs: number;
  /** Called once when the output has not drained within `writeTimeoutMs`. */
  onWriteTimeout: () => void;
}

/**
 * A connection's flow control. Every write goes through it, so that it knows when the
 * output drains: replays advance a page at a time while their page fits in the send
 * buffer, and a connection whose buffer has not drained within the write timeout is
 * reported, however little it holds.
 */
export interface ReplayPacer {
  /** Writes a chunk to the output (after `dispose` too: a graceful end flushes its last frames). */
  write(chunk: Buffer): void;
  /**
   * Adds a replay. `step` writes (or queues) one page and returns true once the replay is
   * over. The first step runs at once when there is room. Returns the replay's disposer.
   */
  add(step: () => boolean): () => void;
  /** Looks again for room, in case the output drained without a write of its own. */
  poke(): void;
  /** Stops every replay and the write timer; writes still go out. */
  dispose(): void;
}

/** Creates the flow control of one connection. */
export function createReplayPacer(options: ReplayPacerOptions): ReplayPacer {
  const { output, pending, budgetBytes, pageBytes, timers, now, writeTimeoutMs, onWriteTimeout } =
    options;
  const steps: Array<() => boolean> = [];
  let next = 0;
  let disposed = false;
  let turn: TimerHandle | undefined;
  /**
   * The write timeout's one timer. It is not cleared each time the output drains (a busy
   * connection drains after nearly every write): when it fires it looks at `waitingSince`
   * and is armed again only while bytes are still waiting.
   */
  let deadline: TimerHandle | undefined;
  /** Since when bytes have waited without the output draining to empty; undefined when empty. */
  let waitingSince: number | undefined;

  const hasRoom = (): boolean => output.writableLength + pending() + pageBytes <= budgetBytes;

  const disarm = (): void => {
    if (deadline === undefined) return;
    timers.clearTimeout(deadline);
    deadline = undefined;
  };
  const arm = (delay: number): void => {
    deadline = timers.setTimeout(expire, delay);
  };
  const expire = (): void => {
    deadline = undefined;
    if (disposed || waitingSince === undefined) return;
    const left = waitingSince + writeTimeoutMs - now();
    if (left > 0) arm(left);
    else onWriteTimeout();
  };

  /**
   * Runs replay steps, in turn, while their pages fit; at most a send buffer's worth in one
   * turn of the event loop, so that a connection whose writes go nowhere cannot spin.
   */
  const pump = (): void => {
    turn = undefined;
    for (let runs = 0; !disposed && steps.length > 0 && hasRoom(); runs += 1) {
      if (runs * pageBytes >= budgetBytes) {
        schedule();
        return;
      }
      if (next >= steps.length) next = 0;
      const step = steps[next]!;
      if (step()) {
        const index = steps.indexOf(step);
        if (index !== -1) steps.splice(index, 1);
      } else {
        next += 1;
      }
    }
  };
  /** Runs `pump` in a later turn of the event loop, so that other connections get theirs. */
  const schedule = (): void => {
    if (disposed || turn !== undefined || steps.length === 0) return;
    turn = timers.setTimeout(pump, 0);
  };

  const flushed = (): void => {
    if (disposed) return;
    if (output.writableLength === 0) waitingSince = undefined;
    if (hasRoom()) schedule();
  };

  return {
    write(chunk) {
      output.write(chunk, flushed);
      if (disposed || output.writableLength === 0) return;
      waitingSince ??= now();
      if (deadline === undefined) arm(writeTimeoutMs);
    },
    add(step) {
      steps.push(step);
      if (turn === undefined) pump();
      schedule();
      return () => {
        const index = steps.indexOf(step);
        if (index === -1) return;
        steps.splice(index, 1);
        if (index < next) next -= 1;
      };
    },
    poke() {
      if (hasRoom()) schedule();
    },
    dispose() {
      disposed = true;
      steps.length = 0;
      disarm();
      if (turn !== undefined) timers.clearTimeout(turn);
      turn = undefined;
    },
  };
}
