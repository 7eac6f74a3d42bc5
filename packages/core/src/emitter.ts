/** Listener signatures by event name. */
export type EventMap = { [K: string]: (arg: never) => void };

/**
 * A small event emitter. A listener that throws does not stop the others: its error goes to
 * `onError` (which must not throw). As in Node's `EventEmitter`, an emit calls the listeners
 * registered when it started: the list is replaced on change, never mutated, and made by `concat`,
 * of the exact length (every handle of a subscription has an emitter). One list of `[type,
 * listener]` registrations for all types, rather than a list per type: looking a type up by name
 * made the same lookup see every type, which slowed the event path by a fortieth.
 * @internal
 */
export class Emitter<E extends EventMap, T = undefined> {
  #listeners: readonly (readonly [keyof E, E[keyof E]])[] = [];
  readonly #onError: (error: unknown, type: keyof E) => void;
  /** What its owner files it under: a subscription handle's transport choice. */
  readonly tag: T;

  constructor(onError: (error: unknown, type: keyof E) => void, tag?: T) {
    this.#onError = onError;
    this.tag = tag as T;
  }

  /** Adds a listener; returns its disposer, which removes this registration alone. */
  on<K extends keyof E>(type: K, listener: E[K]): () => void {
    const registration = [type, listener] as const;
    this.#listeners = this.#listeners.concat([registration]);
    return () => {
      this.#listeners = this.#listeners.filter((r) => r !== registration);
    };
  }

  emit<K extends keyof E>(type: K, arg: Parameters<E[K]>[0]): void {
    for (const [t, listener] of this.#listeners) {
      if (t !== type) continue;
      try {
        (listener as unknown as (a: unknown) => void)(arg);
      } catch (error) {
        this.#onError(error, type);
      }
    }
  }

  clear(): void {
    this.#listeners = [];
  }
}
