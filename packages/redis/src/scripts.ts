import { createHash } from 'node:crypto';
import type { RedisConnection } from './connection.js';

/** The names of every key of one hub, all under one hash tag so that they share a slot. */
export interface Keys {
  /** String: the hub-wide counter. */
  readonly seq: string;
  /** String: the current epoch. */
  readonly epoch: string;
  /** String: `run_id` of the Redis server that issued the current epoch. */
  readonly owner: string;
  /** Hash: epoch → the last seq issued under it. */
  readonly lineage: string;
  /** Stream: every event of every channel, read by every node's tail. */
  readonly log: string;
  /** Sorted set: channel → time of its last publish, for the sweeper. */
  readonly idle: string;
  /** String: the highest seq ever deleted with a quiet channel. */
  readonly floor: string;
  /** Stream: one channel's history. */
  channel(name: string): string;
}

/** The keys under `prefix`. */
export function keysOf(prefix: string): Keys {
  return {
    seq: `${prefix}:seq`,
    epoch: `${prefix}:epoch`,
    owner: `${prefix}:owner`,
    lineage: `${prefix}:lineage`,
    log: `${prefix}:log`,
    idle: `${prefix}:idle`,
    floor: `${prefix}:floor`,
    channel: (name) => `${prefix}:ch:${name}`,
  };
}

/**
 * One Lua procedure of the engine, runnable two ways: as a function of the engine's library
 * (`FCALL`, Redis 7+), or as a script (`EVALSHA`). The body is the same; it reads its keys
 * and arguments from `KEYS` and `ARGV`.
 */
export interface Script {
  readonly name: string;
  /** The script's source, for `SCRIPT LOAD`. */
  readonly source: string;
  /** The script's SHA1 digest, for `EVALSHA`. */
  readonly sha: string;
  /** The body, shared by the script and the library function. */
  readonly body: string;
}

function script(name: string, body: string): Script {
  const source = `${SCRIPT_IDENTITY}\n${HELPERS}\n${body}`;
  return { name, source, sha: createHash('sha1').update(source).digest('hex'), body };
}

// Which Redis server runs the code: its `run_id`, read from INFO (allowed in scripts on 7.0;
// ROLE is refused). A script reads it on every call. A library reads it once: a function
// library keeps its local variables for the life of the server's Lua engine, and `run_id`
// never changes while the process lives, so the cached value is as good as a fresh one. That
// saves about a third of a publish's time in Redis.
const SCRIPT_IDENTITY = `
local function instance_id()
  return string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
end
`;
const LIBRARY_IDENTITY = `
local cached_id
local function instance_id()
  if not cached_id then cached_id = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') end
  return cached_id
end
`;

// Shared by every script. Times come from Redis's clock, so that every node agrees on ages.
// Stream entries carry their fields as a flat list: field() finds one by name.
const HELPERS = `
local function now_ms()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

local function field(fields, name)
  for i = 1, #fields, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
  return nil
end

local function seq_of(id)
  return tonumber(string.match(id, '^(%d+)'))
end

-- The fence, first in every script that issues or interprets positions (keys[1..4]: seq,
-- epoch, owner, lineage). A primary that did not issue the current epoch (a promoted replica,
-- a restarted server) records the last seq of the epoch it inherited, and starts a new one.
local function fence(keys, candidate)
  local run_id = instance_id()
  local epoch = redis.call('GET', keys[2])
  if epoch and redis.call('GET', keys[3]) == run_id then return epoch end
  if epoch then redis.call('HSET', keys[4], epoch, redis.call('GET', keys[1]) or '0') end
  redis.call('SET', keys[2], candidate)
  redis.call('SET', keys[3], run_id)
  return candidate
end
`;

/**
 * KEYS: seq, epoch, owner, lineage. ARGV: new-epoch candidate.
 * Returns `{epoch, seq, lineage as [epoch, last seq, …]}`.
 */
export const FENCE: Script = script(
  'fence',
  `
local epoch = fence(KEYS, ARGV[1])
return {epoch, tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('HGETALL', KEYS[4])}
`,
);

/**
 * KEYS: seq, epoch, owner, lineage, log, floor, idle, channel stream.
 * ARGV: new-epoch candidate, channel, event type, data JSON, log length, channel length.
 * Returns `{epoch, seq, time}`.
 *
 * The channel's previous seq `p` lets a replay prove that nothing is missing before an entry:
 * the stream's newest entry, or, for a stream the sweeper deleted, the floor. It is read
 * before anything is written, so that a key of another type fails the script unchanged.
 */
export const PUBLISH: Script = script(
  'publish',
  `
local epoch = fence(KEYS, ARGV[1])
local newest = redis.call('XREVRANGE', KEYS[8], '+', '-', 'COUNT', 1)[1]
local previous
if newest then previous = string.match(newest[1], '^(%d+)') else previous = redis.call('GET', KEYS[6]) or '0' end
local seq = redis.call('INCR', KEYS[1])
local id = string.format('%d-0', seq)
local time = string.format('%d', now_ms())
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[5], id,
  'c', ARGV[2], 'v', ARGV[3], 'd', ARGV[4], 'e', epoch, 't', time)
redis.call('XADD', KEYS[8], 'MAXLEN', '~', ARGV[6], id,
  'v', ARGV[3], 'd', ARGV[4], 'e', epoch, 'p', previous, 't', time)
redis.call('ZADD', KEYS[7], time, ARGV[2])
return {epoch, seq, tonumber(time)}
`,
);

/**
 * KEYS: seq, epoch, owner, lineage, floor, channel stream.
 * ARGV: new-epoch candidate, the position's epoch (empty when it is not a position), its
 * seq, most events, most bytes, max age in ms.
 * Returns `{gap or '', more (0 or 1), then id, epoch, type, data, time for each event}`.
 *
 * Bytes are counted as the UTF-16 length of each data JSON (what `String.length` gives):
 * UTF-8 bytes, less continuation bytes, plus one for each 4-byte sequence (a surrogate pair).
 */
export const REPLAY: Script = script(
  'replay',
  String.raw`
local function utf16_length(text)
  if not string.find(text, '[\128-\255]') then return #text end
  local _, continuations = string.gsub(text, '[\128-\191]', '')
  local _, surrogates = string.gsub(text, '[\240-\247]', '')
  return #text - continuations + surrogates
end

local epoch = fence(KEYS, ARGV[1])
local oldest = now_ms() - tonumber(ARGV[6])
local after = tonumber(ARGV[3])
local gap = ''
if ARGV[2] == '' then
  gap = 'invalid'
elseif ARGV[2] ~= epoch then
  -- Positions of an earlier epoch stay exact up to the last seq that the new history kept.
  local last = redis.call('HGET', KEYS[4], ARGV[2])
  if not last or after > tonumber(last) then gap = 'epoch' end
elseif after > tonumber(redis.call('GET', KEYS[1]) or '0') then
  gap = 'invalid'
end

local lower = '-'
if gap == '' then
  lower = '(' .. ARGV[3] .. '-0'
  local first = redis.call('XRANGE', KEYS[6], lower, '+', 'COUNT', 1)[1]
  if first then
    if tonumber(field(first[2], 'p')) > after or tonumber(field(first[2], 't')) < oldest then
      gap = 'trimmed'
      lower = '-'
    end
  elseif redis.call('EXISTS', KEYS[6]) == 0 and tonumber(redis.call('GET', KEYS[5]) or '0') > after then
    gap = 'trimmed'
  end
end

local max_events, max_bytes = tonumber(ARGV[4]), tonumber(ARGV[5])
local batch = math.min(math.max(max_events + 1, 100), 1000)
local reply = {gap, 0}
local count, bytes, expired = 0, 0, true
while true do
  local entries = redis.call('XRANGE', KEYS[6], lower, '+', 'COUNT', batch)
  for _, entry in ipairs(entries) do
    local fields = entry[2]
    local time = tonumber(field(fields, 't'))
    -- Entries older than the age limit are gone as far as a replay is concerned.
    if not (expired and time < oldest) then
      expired = false
      local data = field(fields, 'd')
      local size = utf16_length(data)
      if count == max_events or (count > 0 and bytes + size > max_bytes) then
        reply[2] = 1
        return reply
      end
      count = count + 1
      bytes = bytes + size
      reply[#reply + 1] = entry[1]
      reply[#reply + 1] = field(fields, 'e')
      reply[#reply + 1] = field(fields, 'v')
      reply[#reply + 1] = data
      reply[#reply + 1] = time
    end
    lower = '(' .. entry[1]
  end
  if #entries < batch then return reply end
end
`,
);

/**
 * KEYS: channel stream. ARGV: max age in ms.
 * Returns `{size, newest id or false}`, counting only events within the age limit.
 */
export const INFO: Script = script(
  'info',
  `
local oldest = now_ms() - tonumber(ARGV[1])
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
if not newest or tonumber(field(newest[2], 't')) < oldest then return {0, false} end
local id = field(newest[2], 'e') .. '-' .. string.match(newest[1], '^(%d+)')
local size = redis.call('XLEN', KEYS[1])
local lower = '-'
while true do
  local entries = redis.call('XRANGE', KEYS[1], lower, '+', 'COUNT', 100)
  for _, entry in ipairs(entries) do
    if tonumber(field(entry[2], 't')) >= oldest then return {size, id} end
    size = size - 1
    lower = '(' .. entry[1]
  end
  if #entries < 100 then return {size, id} end
end
`,
);

/**
 * KEYS: channel stream. ARGV: until seq, count, max age in ms.
 * Returns the seq of the oldest of the channel's newest `count` events with a seq up to
 * `until` and within the age limit, or false when there is none.
 */
export const REWIND: Script = script(
  'rewind',
  `
local oldest = now_ms() - tonumber(ARGV[3])
local entries = redis.call('XREVRANGE', KEYS[1], ARGV[1] .. '-0', '-', 'COUNT', tonumber(ARGV[2]))
local first = false
for _, entry in ipairs(entries) do
  if tonumber(field(entry[2], 't')) < oldest then break end
  first = string.match(entry[1], '^(%d+)')
end
return first
`,
);

/**
 * KEYS: idle. ARGV: max age in ms, most channels.
 * Returns the channels whose last publish is older than the age limit.
 */
export const QUIET: Script = script(
  'quiet',
  `
local oldest = now_ms() - tonumber(ARGV[1])
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. oldest, 'LIMIT', 0, tonumber(ARGV[2]))
`,
);

/**
 * KEYS: idle, floor, then one channel stream per channel. ARGV: max age in ms, then the
 * channels, in the order of their streams.
 * Deletes each stream still quiet (no publish since {@link QUIET} named it) and raises the
 * floor to the highest seq deleted. Returns how many it deleted.
 */
export const SWEEP: Script = script(
  'sweep',
  `
local oldest = now_ms() - tonumber(ARGV[1])
local floor = tonumber(redis.call('GET', KEYS[2]) or '0')
local swept = 0
for index = 3, #KEYS do
  local channel = ARGV[index - 1]
  local score = redis.call('ZSCORE', KEYS[1], channel)
  if score and tonumber(score) < oldest then
    local newest = redis.call('XREVRANGE', KEYS[index], '+', '-', 'COUNT', 1)[1]
    if newest then floor = math.max(floor, seq_of(newest[1])) end
    redis.call('DEL', KEYS[index])
    redis.call('ZREM', KEYS[1], channel)
    swept = swept + 1
  end
end
if swept > 0 then redis.call('SET', KEYS[2], string.format('%d', floor)) end
return swept
`,
);

/** Every procedure of the engine, in its function library. */
const SCRIPTS: readonly Script[] = [FENCE, PUBLISH, REPLAY, REWIND, INFO, QUIET, SWEEP];

/**
 * The engine's function library. Its name carries a digest of its code, so that two versions
 * of the engine (during a rolling upgrade) each call their own functions.
 */
export const LIBRARY: { readonly name: string; readonly source: string } = (() => {
  const code = `${LIBRARY_IDENTITY}\n${HELPERS}\n${SCRIPTS.map(
    ({ name, body }) =>
      `redis.register_function('{library}_${name}', function(KEYS, ARGV)\n${body}\nend)`,
  ).join('\n')}`;
  const name = `tidewire_${createHash('sha1').update(code).digest('hex').slice(0, 12)}`;
  return { name, source: `#!lua name=${name}\n${code.replaceAll('{library}_', `${name}_`)}` };
})();

/** Runs the engine's procedures on a connection. */
export interface ScriptRunner {
  run(
    connection: RedisConnection,
    script: Script,
    keys: readonly string[],
    args: readonly string[],
    signal?: AbortSignal,
  ): Promise<unknown>;
}

/**
 * Runs each procedure as a function of {@link LIBRARY} (`FCALL`) when the connection can and
 * Redis has functions (7.0+), loading the library when Redis does not have it (a new primary
 * after a failover, a restarted server); otherwise, from the first refusal on, as a script
 * (`EVALSHA`, loaded on `NOSCRIPT`).
 */
export function createRunner(): ScriptRunner {
  let functions = true;
  // Per connection: the tail's may reach another server than the app's for a while.
  const loading = new WeakMap<RedisConnection, Promise<unknown>>();

  /** Loads the library once however many calls found it missing at the same time. */
  const load = (
    connection: RedisConnection,
    key: string,
    signal?: AbortSignal,
  ): Promise<unknown> => {
    let pending = loading.get(connection);
    if (pending === undefined) {
      pending = Promise.resolve(connection.loadLibrary?.(LIBRARY.source, key, signal)).finally(
        () => {
          loading.delete(connection);
        },
      );
      loading.set(connection, pending);
    }
    return pending;
  };

  const asScript = async (
    connection: RedisConnection,
    { source, sha }: Script,
    keys: readonly string[],
    args: readonly string[],
    signal?: AbortSignal,
  ): Promise<unknown> => {
    try {
      return await connection.runScript(sha, keys, args, signal);
    } catch (error) {
      if (!messageOf(error).startsWith('NOSCRIPT')) throw error;
      await connection.loadScript(source, keys[0] ?? '', signal);
      return connection.runScript(sha, keys, args, signal);
    }
  };

  return {
    async run(connection, script, keys, args, signal) {
      if (!functions || !connection.callFunction || !connection.loadLibrary) {
        return asScript(connection, script, keys, args, signal);
      }
      const name = `${LIBRARY.name}_${script.name}`;
      try {
        try {
          return await connection.callFunction(name, keys, args, signal);
        } catch (error) {
          if (!messageOf(error).includes('Function not found')) throw error;
          await load(connection, keys[0] ?? '', signal);
          return await connection.callFunction(name, keys, args, signal);
        }
      } catch (error) {
        // Redis before 7.0, or an ACL without the function commands: scripts from now on.
        if (!/^(ERR unknown command|NOPERM)/i.test(messageOf(error))) throw error;
        functions = false;
        return asScript(connection, script, keys, args, signal);
      }
    },
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
