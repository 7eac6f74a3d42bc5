/**
 * The frames queued for one connection during one tick, encoded and written out
 * as a single buffer when the tick ends (or earlier, on `flush()`). A burst of
 * published events then costs each connection one array push per event, one
 * encoding pass (which joins the frames into as few messages as the transport's
 * cap allows) and one socket write per tick.
 */
export class TickBatch<T> {
  readonly #encode: (items: readonly T[]) => Buffer;
  readonly #writeOut: (chunk: Buffer) => void;
  #items: T[] = [];
  #bytes = 0;
  #scheduled = false;

  /**
   * `encode` turns the queued items, in order, into the bytes to write; `writeOut`
   * receives them and decides whether the connection can still take them.
   */
  constructor(encode: (items: readonly T[]) => Buffer, writeOut: (chunk: Buffer) => void) {
    this.#encode = encode;
    this.#writeOut = writeOut;
  }

  /** Bytes waiting for the end of the tick, as the callers of `push` counted them. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Queues `item`, which takes about `bytes` on the wire. */
  push(item: T, bytes: number): void {
    this.#items.push(item);
    this.#bytes += bytes;
    if (!this.#scheduled) {
      this.#scheduled = true;
      process.nextTick(this.#onTick);
    }
  }

  /** Writes what is waiting now, in order, as one chunk of whole messages. */
  flush(): void {
    const items = this.#items;
    if (items.length === 0) return;
    this.#items = [];
    this.#bytes = 0;
    this.#writeOut(this.#encode(items));
  }

  /** Forgets what is waiting (the connection is gone or being torn down). */
  discard(): void {
    this.#items = [];
    this.#bytes = 0;
  }

  readonly #onTick = (): void => {
    this.#scheduled = false;
    this.flush();
  };
}
