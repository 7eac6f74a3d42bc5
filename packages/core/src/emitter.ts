/** Listener signatures by event name. */
export type EventMap = { [K: string]: (arg: never) => void };

/**
 * A small event emitter. A listener that throws does not stop the others: its error goes to
 * `onError` (which must not throw). As in Node's `EventEmitter`, an emit calls the listeners
 * registered when it started: each type's list is replaced on change, never mutated, and made by
 * `concat`, of the exact length (every handle of a subscription has an emitter).
 * @internal
 */
export class Emitter<E extends EventMap, T = undefined> {
  #listeners: { [K in keyof E]?: readonly E[K][] } = {};
  readonly #onError: (error: unknown, type: keyof E) => void;
  /** What its owner files it under: a subscription handle's transport choice. */
  readonly tag: T;

  constructor(onError: (error: unknown, type: keyof E) => void, tag?: T) {
    this.#onError = onError;
    this.tag = tag as T;
  }

  /** Adds a listener; returns its disposer. */
  on<K extends keyof E>(type: K, listener: E[K]): () => void {
    this.#listeners[type] = (this.#listeners[type] ?? []).concat(listener);
    return () => {
      this.#listeners[type] = this.#listeners[type]?.filter((l) => l !== listener);
    };
  }

  emit<K extends keyof E>(type: K, arg: Parameters<E[K]>[0]): void {
    for (const fn of this.#listeners[type] ?? []) {
      try {
        (fn as unknown as (a: unknown) => void)(arg);
      } catch (error) {
        this.#onError(error, type);
      }
    }
  }

  clear(): void {
    this.#listeners = {};
  }
}
