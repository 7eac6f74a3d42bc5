// @vitest-environment node
import { describe, expect, it } from 'vitest';
import { redact, toEngineError } from '../src/errors.js';
import { fromNodeRedis, type NodeRedisClient, type RedisConnection } from '../src/index.js';
import { entriesOf } from '../src/node-redis.js';
import { createRunner, LIBRARY, PUBLISH } from '../src/scripts.js';

describe('fromNodeRedis', () => {
  it('should send the engine commands as node-redis arguments, with the abort signal', async () => {
    const sent: Array<[string[], unknown]> = [];
    const client: NodeRedisClient = {
      isReady: true,
      sendCommand: async (args, options) => {
        sent.push([args, options?.abortSignal]);
        return args[0] === 'XREAD' ? { '{tw}:log': [['1-0', ['c', 'a']]] } : 'reply';
      },
      duplicate: () => client,
      connect: async () => client,
      destroy: () => {},
      on: () => client,
    };
    const connection = fromNodeRedis(client);
    const signal = new AbortController().signal;
    expect(await connection.loadScript('return 1', '{tw}:seq')).toBe('reply');
    await connection.runScript('abc', ['k1', 'k2'], ['x'], signal);
    expect(await connection.readStream('{tw}:log', '0-0', { blockMs: 5000, count: 1000 })).toEqual([
      ['1-0', ['c', 'a']],
    ]);
    expect(sent).toEqual([
      [['SCRIPT', 'LOAD', 'return 1'], undefined],
      [['EVALSHA', 'abc', '2', 'k1', 'k2', 'x'], signal],
      [['XREAD', 'BLOCK', '5000', 'COUNT', '1000', 'STREAMS', '{tw}:log', '0-0'], undefined],
    ]);
  });

  it.each([
    ['RESP2', [['k', [['1-0', ['a', 'b']]]]]],
    ['RESP3', { k: [['1-0', ['a', 'b']]] }],
    ['RESP3 with a Map', new Map([['k', [['1-0', ['a', 'b']]]]])],
  ])('should read an XREAD reply under %s', (_name, reply) => {
    expect(entriesOf(reply, 'k')).toEqual([['1-0', ['a', 'b']]]);
  });

  it('should read no reply as no entries', () => {
    expect(entriesOf(null, 'k')).toBeNull();
  });
});

describe('engine errors', () => {
  it.each([
    ['WRONGTYPE Operation against a key holding the wrong kind of value', 'failed'],
    ["ERR user_script:1: Script attempted to access nonexistent global variable 'x'", 'failed'],
    ["READONLY You can't write against a read only replica.", 'unavailable'],
    ['LOADING Redis is loading the dataset in memory', 'unavailable'],
    ['Socket closed unexpectedly', 'unavailable'],
  ])('should classify %s as %s', (message, code) => {
    expect(toEngineError('publish', new Error(message))).toMatchObject({
      name: 'RedisEngineError',
      code,
      message: `publish failed: ${message}`,
    });
  });

  it('should never show the credentials of a URL', () => {
    expect(redact('connect to redis://user:s3cret@db:6379 failed')).toBe(
      'connect to redis://***@db:6379 failed',
    );
    expect(toEngineError('replay', new Error('rediss://:pw@h')).message).toBe(
      'replay failed: rediss://***@h',
    );
  });
});

describe('the script runner', () => {
  /** A connection that records its calls and answers from `reply`. */
  function recording(reply: (call: string) => unknown) {
    const calls: string[] = [];
    const answer = async (call: string) => {
      calls.push(call);
      const value = reply(call);
      if (value instanceof Error) throw value;
      return value;
    };
    const connection: RedisConnection = {
      isReady: true,
      loadScript: (_source, key) => answer(`SCRIPT LOAD @${key}`) as Promise<string>,
      runScript: (sha) => answer(`EVALSHA ${sha === PUBLISH.sha ? 'publish' : sha}`),
      loadLibrary: (source, key) =>
        answer(`FUNCTION LOAD ${source.startsWith(`#!lua name=${LIBRARY.name}\n`)} @${key}`),
      callFunction: (name) => answer(`FCALL ${name.replace(LIBRARY.name, 'lib')}`),
      readStream: async () => null,
      duplicate: () => connection,
      destroy: async () => {},
    };
    return { connection, calls };
  }

  it('should call the library function, and load the library once when Redis lacks it', async () => {
    let loaded = false;
    const { connection, calls } = recording((call) => {
      if (call.startsWith('FUNCTION LOAD')) loaded = true;
      if (call.startsWith('FCALL') && !loaded) return new Error('ERR Function not found');
      return 'ok';
    });
    const runner = createRunner();
    const runs = [1, 2].map(() => runner.run(connection, PUBLISH, ['k1', 'k2'], []));
    expect(await Promise.all(runs)).toEqual(['ok', 'ok']);
    expect(calls).toEqual([
      'FCALL lib_publish',
      'FCALL lib_publish',
      'FUNCTION LOAD true @k1',
      'FCALL lib_publish',
      'FCALL lib_publish',
    ]);
  });

  it('should fall back to scripts for good when Redis has no functions, and load them on NOSCRIPT', async () => {
    let loaded = false;
    const { connection, calls } = recording((call) => {
      if (call.startsWith('FCALL')) return new Error("ERR unknown command 'FCALL'");
      if (call.startsWith('SCRIPT LOAD')) loaded = true;
      if (call.startsWith('EVALSHA') && !loaded) return new Error('NOSCRIPT No matching script');
      return 'ok';
    });
    const runner = createRunner();
    expect(await runner.run(connection, PUBLISH, ['k1'], [])).toBe('ok');
    expect(await runner.run(connection, PUBLISH, ['k1'], [])).toBe('ok');
    expect(calls).toEqual([
      'FCALL lib_publish',
      'EVALSHA publish',
      'SCRIPT LOAD @k1',
      'EVALSHA publish',
      'EVALSHA publish',
    ]);
  });

  it('should pass on any other error', async () => {
    const { connection } = recording(() => new Error('READONLY You cannot write'));
    await expect(createRunner().run(connection, PUBLISH, ['k1'], [])).rejects.toThrow(/^READONLY/);
  });
});
