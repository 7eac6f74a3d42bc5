/** A fixed-size buffer that keeps the newest `capacity` items. @internal */
export interface Ring<T> {
  readonly capacity: number;
  /** Items held now (at most `capacity`). */
  readonly size: number;
  /** Adds an item; the oldest is dropped when the buffer is full. */
  push(item: T): void;
  /** The items, oldest first: a new array. */
  toArray(): T[];
  clear(): void;
}

/** @internal `capacity` is rounded down and at least 1. */
export function createRing<T>(capacity: number): Ring<T> {
  const max = Math.max(1, Math.floor(capacity) || 1);
  let items: T[] = [];
  // Where the oldest item is, once the buffer is full and wraps.
  let head = 0;
  return {
    capacity: max,
    get size() {
      return items.length;
    },
    push(item) {
      if (items.length < max) items.push(item);
      else {
        items[head] = item;
        head = (head + 1) % max;
      }
    },
    toArray: () => (head === 0 ? items.slice() : [...items.slice(head), ...items.slice(0, head)]),
    clear() {
      items = [];
      head = 0;
    },
  };
}
