import { afterEach, describe, expect, it } from 'vitest';
import type { Transport } from '../src/routing';
import { cleanup, connect, startServer, until } from './int-server';

afterEach(cleanup);

describe.each<Transport>(['sse', 'websocket'])(
  'rewind against a real server over %s',
  (transport) => {
    it('should deliver the newest events first, then live ones, and resume without repeating them', async () => {
      const server = await startServer();
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) ids.push((await server.tw.publish('feed', i)).id);
      const client = connect(server.url);
      const sub = client.subscribe('feed', { rewind: 3, transport });
      const got: string[] = [];
      sub.on('event', (e) => got.push(e.id));
      await until(() => got.length === 3);
      expect(got).toEqual(ids.slice(7));
      // A restart of the server process would lose history; a dropped connection must not
      // replay the rewind again: the client resumes from its position.
      await server.stop();
      await server.restart();
      const live = (await server.tw.publish('feed', 'after')).id;
      await until(() => got.includes(live));
      expect(got.slice(0, 3)).toEqual(ids.slice(7));
      expect(new Set(got).size).toBe(got.length);
    });
  },
);
