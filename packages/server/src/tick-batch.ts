/**
 * The chunks written to one connection during one tick, written out as a single
 * buffer when the tick ends (or earlier, on `flush()`). A burst of published
 * events then costs each connection one array push per event and one socket
 * write per tick, instead of one stream write (with its bookkeeping) per event.
 */
export class TickBatch {
  readonly #writeOut: (chunk: Buffer) => void;
  #chunks: Buffer[] = [];
  #bytes = 0;
  #scheduled = false;

  /** `writeOut` receives the joined chunks; it decides whether the connection can still take them. */
  constructor(writeOut: (chunk: Buffer) => void) {
    this.#writeOut = writeOut;
  }

  /** Bytes waiting for the end of the tick. */
  get bytes(): number {
    return this.#bytes;
  }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    if (!this.#scheduled) {
      this.#scheduled = true;
      process.nextTick(this.#onTick);
    }
  }

  /** Writes what is waiting now, in order, as one chunk. */
  flush(): void {
    const chunks = this.#chunks;
    if (chunks.length === 0) return;
    const joined = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.#bytes);
    this.#chunks = [];
    this.#bytes = 0;
    this.#writeOut(joined);
  }

  /** Forgets what is waiting (the connection is gone or being torn down). */
  discard(): void {
    this.#chunks = [];
    this.#bytes = 0;
  }

  readonly #onTick = (): void => {
    this.#scheduled = false;
    this.flush();
  };
}
