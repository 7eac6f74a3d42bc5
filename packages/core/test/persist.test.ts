import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Client, createClient } from '../src/client';
import { persistPositions } from '../src/persist';
import { event, fakeSseFetch, subscribed, welcome } from './fakes';
import { fakeEnvironment } from './helpers';

const tick = async (n = 6) => {
  for (let i = 0; i < n; i++) await vi.advanceTimersByTimeAsync(0);
};

type Channels = { prices: number; chat: string };

let net: ReturnType<typeof fakeSseFetch>;
const clients: Client<Channels>[] = [];

function memoryStorage() {
  const map = new Map<string, string>();
  const writes: [string, string][] = [];
  return {
    map,
    writes,
    getItem: (key: string) => map.get(key) ?? null,
    setItem: (key: string, value: string) => {
      writes.push([key, value]);
      map.set(key, value);
    },
    removeItem: (key: string) => void map.delete(key),
  };
}

function make(storage: ReturnType<typeof memoryStorage>, prefix?: string) {
  net = fakeSseFetch();
  const { env } = fakeEnvironment();
  const client = persistPositions(
    createClient<Channels>({ url: 'http://127.0.0.1:1/tw', fetch: net.fetch, environment: env }),
    { storage, environment: env, ...(prefix && { prefix }) },
  );
  clients.push(client);
  return client;
}

/** Makes the stream live for `prices` and delivers the given event ids. */
async function deliver(...ids: string[]) {
  await tick();
  net.last().push(welcome);
  net.last().push(subscribed('prices'));
  for (const id of ids) net.last().push(event('prices', id), id);
  await tick();
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  expect(vi.getTimerCount()).toBe(0);
  vi.useRealTimers();
});

describe('persistPositions', () => {
  it('should resume a new client from the position saved by the last one', async () => {
    const storage = memoryStorage();
    const first = make(storage);
    first.subscribe('prices');
    await deliver('e-8', 'e-9');
    first.close();
    expect(storage.map.get('tidewire:prices')).toBe('e-9');
    make(storage).subscribe('prices');
    await tick();
    expect(net.last().channels).toEqual(['prices@e-9']);
  });

  it('should write at most once per interval, with the newest id', async () => {
    const storage = memoryStorage();
    make(storage).subscribe('prices');
    await deliver('e-1', 'e-2', 'e-3');
    expect(storage.writes).toEqual([]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(storage.writes).toEqual([['tidewire:prices', 'e-3']]);
    net.last().push(event('prices', 'e-4'), 'e-4');
    await vi.advanceTimersByTimeAsync(1000);
    expect(storage.writes).toEqual([
      ['tidewire:prices', 'e-3'],
      ['tidewire:prices', 'e-4'],
    ]);
  });

  it('should let an explicit since win over the saved position', async () => {
    const storage = memoryStorage();
    storage.map.set('app:prices', 'e-5');
    make(storage, 'app:').subscribe('prices', { since: 'e-1' });
    await tick();
    expect(net.last().channels).toEqual(['prices@e-1']);
  });

  it('should keep working when the storage throws', async () => {
    const broken = {
      ...memoryStorage(),
      getItem: (): string | null => {
        throw new Error('denied');
      },
      setItem: () => {
        throw new Error('quota');
      },
    };
    const client = make(broken);
    const seen: string[] = [];
    client.subscribe('prices').on('event', (e) => seen.push(e.id));
    await deliver('e-1');
    await vi.advanceTimersByTimeAsync(1000);
    expect(seen).toEqual(['e-1']);
    expect(net.last().channels).toEqual(['prices']);
  });
});
