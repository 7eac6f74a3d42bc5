/** Listener signatures by event name. */
export type EventMap = { [K: string]: (arg: never) => void };

/** @internal */
export interface Emitter<E extends EventMap> {
  on<K extends keyof E>(type: K, listener: E[K]): () => void;
  emit<K extends keyof E>(type: K, arg: Parameters<E[K]>[0]): void;
  clear(): void;
}

/**
 * A small event emitter. A listener that throws does not stop the others: its
 * error goes to `onError` (which must not throw).
 * @internal
 */
export function createEmitter<E extends EventMap>(
  onError: (error: unknown, type: keyof E) => void,
): Emitter<E> {
  const sets = new Map<keyof E, Set<E[keyof E]>>();
  return {
    on(type, listener) {
      const set = sets.get(type) ?? new Set();
      sets.set(type, set.add(listener));
      return () => {
        set.delete(listener);
      };
    },
    emit(type, arg) {
      const set = sets.get(type);
      if (set)
        for (const fn of set) {
          try {
            (fn as unknown as (a: unknown) => void)(arg);
          } catch (error) {
            onError(error, type);
          }
        }
    },
    clear: () => sets.clear(),
  };
}
