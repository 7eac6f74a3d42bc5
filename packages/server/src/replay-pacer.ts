import { createTokenBucket } from './limits.js';
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
  /**
   * Replay bytes per second, counted a page at a time, with bursts of four seconds' worth: a
   * client that asks for replay after replay is served at this rate however fast it reads.
   */
  replayBytesPerSecond: number;
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
   * Adds a replay. `step` reads and queues one page and resolves to true once the replay is
   * over (it never rejects). The first step starts at once when there is room; the next one
   * only after the previous one resolved. Returns the replay's disposer.
   */
  add(step: () => Promise<boolean>): () => void;
  /** Looks again for room, in case the output drained without a write of its own. */
  poke(): void;
  /** Stops every replay and the write timer; writes still go out. */
  dispose(): void;
}

/** A replay of the pacer. */
interface Replay {
  readonly step: () => Promise<boolean>;
  /** True while a step is under way: its page is not queued yet. */
  reading: boolean;
}

/** Creates the flow control of one connection. */
export function createReplayPacer(options: ReplayPacerOptions): ReplayPacer {
  const { output, pending, budgetBytes, pageBytes, timers, now, writeTimeoutMs, onWriteTimeout } =
    options;
  const pagesPerSecond = options.replayBytesPerSecond / pageBytes;
  /** Replay pages this connection may start now: the replay-volume limit. */
  const pages = createTokenBucket({
    perSecond: pagesPerSecond,
    burst: Math.max(1, 4 * pagesPerSecond),
    now,
  });
  const replays: Replay[] = [];
  let next = 0;
  /** Steps under way: each will queue up to a page that `pending` does not count yet. */
  let reading = 0;
  /** Steps started since the pacer last waited for a turn of the event loop. */
  let runs = 0;
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

  const hasRoom = (): boolean =>
    output.writableLength + pending() + (reading + 1) * pageBytes <= budgetBytes;

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

  /** The next replay in turn that has no step under way. */
  const nextIdle = (): Replay | undefined => {
    for (let tried = 0; tried < replays.length; tried += 1) {
      if (next >= replays.length) next = 0;
      const replay = replays[next]!;
      next += 1;
      if (!replay.reading) return replay;
    }
    return undefined;
  };

  const remove = (replay: Replay): void => {
    const index = replays.indexOf(replay);
    if (index === -1) return;
    replays.splice(index, 1);
    if (index < next) next -= 1;
  };

  /**
   * Starts replay steps, in turn, while their pages fit; at most a send buffer's worth
   * before the pacer waits for a turn of the event loop, so that a connection whose writes
   * go nowhere cannot spin.
   */
  const pump = (): void => {
    while (!disposed && hasRoom()) {
      if (runs * pageBytes >= budgetBytes) {
        schedule();
        return;
      }
      const replay = nextIdle();
      if (replay === undefined) return;
      if (!pages.take()) {
        // Past the replay rate: this connection's replays wait for the bucket to refill.
        schedule(pages.waitMs());
        return;
      }
      runs += 1;
      run(replay);
    }
  };
  const run = (replay: Replay): void => {
    replay.reading = true;
    reading += 1;
    void replay.step().then((done) => {
      replay.reading = false;
      reading -= 1;
      if (done) remove(replay);
      pump();
    });
  };
  /**
   * Runs `pump` in a later turn of the event loop, so that other connections get theirs, or
   * after `delay` ms when the replay rate is spent.
   */
  const schedule = (delay = 0): void => {
    if (disposed || turn !== undefined || replays.length === 0) return;
    turn = timers.setTimeout(() => {
      turn = undefined;
      runs = 0;
      pump();
    }, delay);
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
      const replay: Replay = { step, reading: false };
      replays.push(replay);
      // Unless the pacer is waiting for a turn of the event loop: that turn starts it.
      if (turn === undefined) pump();
      return () => remove(replay);
    },
    poke() {
      if (hasRoom()) schedule();
    },
    dispose() {
      disposed = true;
      replays.length = 0;
      disarm();
      if (turn !== undefined) timers.clearTimeout(turn);
      turn = undefined;
    },
  };
}
