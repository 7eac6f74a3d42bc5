import { Agent, request } from 'node:http';
import { describe, expect, it, onTestFinished } from 'vitest';
import { AuthError } from '../src/index.js';
import { startServer, type TestServer } from './utils/server.js';
import { errorBody } from './utils/sse-client.js';

const post = (server: TestServer, body: string, headers: Record<string, string> = {}) =>
  fetch(`${server.base}/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });

describe('HTTP publish', () => {
  it('should accept a publish and answer with its id', async () => {
    const server = await startServer();
    const response = await post(
      server,
      JSON.stringify({ channel: 'chat', event: 'said', data: { text: 'hi' } }),
    );
    expect(response.status).toBe(200);
    const { id } = (await response.json()) as { id: string };
    expect((await server.tw.stats()).channels.chat).toEqual({
      subscribers: 0,
      history: 1,
      lastId: id,
    });
  });

  it.each([
    ['malformed JSON', '{"channel":', 400, 'bad_json'],
    ['a JSON array', '[]', 400, 'bad_request'],
    ['no channel', '{"data":1}', 400, 'bad_request'],
    ['an invalid channel', '{"channel":"a b","data":1}', 400, 'invalid_channel'],
    ['an invalid event type', '{"channel":"a","event":"a b","data":1}', 400, 'bad_request'],
    ['no data', '{"channel":"a"}', 400, 'bad_request'],
    [
      'a body over the limit',
      JSON.stringify({ channel: 'a', data: 'x'.repeat(2048) }),
      413,
      'too_large',
    ],
  ])('should refuse %s', async (_name, body, status, code) => {
    const server = await startServer({ limits: { maxBodyBytes: 1024 } });
    const response = await post(server, body);
    expect(response.status).toBe(status);
    expect(await errorBody(response)).toMatchObject({ code });
    expect((await server.tw.stats()).channels).toEqual({});
  });

  it('should refuse a body over the limit sent without Content-Length', async () => {
    const server = await startServer({ limits: { maxBodyBytes: 1024 } });
    const chunks = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(512)));
        controller.close();
      },
    });
    const response = await fetch(`${server.base}/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: chunks,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
  });

  it('should refuse a body that is not JSON with 415', async () => {
    const server = await startServer();
    const response = await post(server, '{"channel":"a","data":1}', {
      'content-type': 'text/plain',
    });
    expect(response.status).toBe(415);
    expect(await errorBody(response)).toMatchObject({ code: 'unsupported_media_type' });
  });

  it('should refuse GET with 405', async () => {
    const server = await startServer();
    const response = await fetch(`${server.base}/publish`);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST, OPTIONS');
  });

  it('should refuse with 401, 403 and a forbidden channel with 403', async () => {
    const server = await startServer({
      authenticate: (token) => {
        if (token === 'sekrit-banned') throw new AuthError('forbidden');
        return token === 'sekrit-ok' ? { principal: 'u' } : null;
      },
      authorize: (_p, channel) => channel !== 'admin',
    });
    const body = (channel: string) => JSON.stringify({ channel, data: 1 });
    const missing = await post(server, body('a'));
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    const banned = await post(server, body('a'), { authorization: 'Bearer sekrit-banned' });
    expect([banned.status, (await errorBody(banned)).code]).toEqual([403, 'forbidden']);
    expect(banned.headers.get('www-authenticate')).toBeNull();
    const admin = await post(server, body('admin'), { authorization: 'Bearer sekrit-ok' });
    expect([admin.status, (await errorBody(admin)).code]).toEqual([403, 'forbidden']);
    const ok = await post(server, body('a'), { authorization: 'Bearer sekrit-ok' });
    expect(ok.status).toBe(200);
  });

  it('should answer 429 with Retry-After past the publish rate of a publisher', async () => {
    const server = await startServer({ limits: { publishRate: { perSecond: 1, burst: 2 } } });
    // One keep-alive socket, so that every request is on the same connection.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    onTestFinished(() => agent.destroy());
    const answers: Array<{ status: number; retryAfter: string | undefined; body: unknown }> = [];
    for (let i = 0; i < 3; i++) {
      answers.push(
        await postWith(`${server.base}/publish`, JSON.stringify({ channel: 'a', data: i }), {
          agent,
        }),
      );
    }
    expect(answers.map((a) => a.status)).toEqual([200, 200, 429]);
    expect(answers[2]).toEqual({
      status: 429,
      retryAfter: '1',
      body: expect.objectContaining({ code: 'rate_limited' }),
    });
  });

  it('should hold the documented rate of 100/s when every publish opens a new connection', async () => {
    const server = await startServer();
    let connections = 0;
    server.http.on('connection', () => {
      connections++;
    });
    const statuses: number[] = [];
    const started = performance.now();
    const body = JSON.stringify({ channel: 'a', data: 1 });
    let sent = 0;
    // 16 publishers in parallel, each request on a connection of its own, for a second and at
    // least 600 requests (well past the 300 that the limit allows in a second).
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (performance.now() - started < 1000 || sent < 600) {
          sent++;
          const answer = await postWith(`${server.base}/publish`, body, { agent: false });
          statuses.push(answer.status);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const accepted = statuses.filter((status) => status === 200).length;
    expect(connections).toBe(statuses.length);
    // The burst of 200, then 100 a second.
    expect(accepted).toBeGreaterThanOrEqual(200);
    expect(accepted).toBeLessThanOrEqual(200 + Math.ceil(100 * seconds) + 1);
    expect(new Set(statuses)).toEqual(new Set([200, 429]));
  });

  it('should count each principal, and each anonymous client address, on its own', async () => {
    const server = await startServer<string | undefined>({
      authenticate: (token) => ({ principal: token?.replace('sekrit-', '') }),
      limits: { publishRate: { perSecond: 0.001, burst: 2 } },
    });
    const url = `${server.base}/publish`;
    const body = JSON.stringify({ channel: 'a', data: 1 });
    const statusesOf = async (options: PostOptions) => {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await postWith(url, body, options)).status);
      return statuses;
    };
    const spent = [200, 200, 429];
    expect(await statusesOf({ agent: false, token: 'sekrit-alice' })).toEqual(spent);
    expect(await statusesOf({ agent: false, token: 'sekrit-bob' })).toEqual(spent);
    expect(await statusesOf({ agent: false })).toEqual(spent);
    // Another loopback address is another anonymous client.
    expect(await statusesOf({ agent: false, localAddress: '127.0.0.2' })).toEqual(spent);
  });

  it('should refuse data nested 5,000 levels deep with bad_json and keep serving', async () => {
    const server = await startServer();
    const nested = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const deep = await post(server, `{"channel":"a","data":${nested}}`);
    expect(deep.status).toBe(400);
    expect(await errorBody(deep)).toMatchObject({ code: 'bad_json' });
    const objects = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    const deepObjects = await post(server, `{"channel":"a","data":${objects}}`);
    expect([deepObjects.status, (await errorBody(deepObjects)).code]).toEqual([400, 'bad_json']);
    expect((await server.tw.stats()).channels).toEqual({});
    const fine = await post(server, JSON.stringify({ channel: 'a', data: [[1]] }));
    expect(fine.status).toBe(200);
  });

  it('should accept JSON up to maxJsonDepth levels, the envelope included', async () => {
    const server = await startServer({ limits: { maxJsonDepth: 8 } });
    // A string full of brackets does not count.
    const bodyOf = (levels: number) =>
      `{"channel":"a","event":"x","data":${'['.repeat(levels)}"[[[[{{{{"${']'.repeat(levels)}}`;
    expect((await post(server, bodyOf(7))).status).toBe(200);
    const deeper = await post(server, bodyOf(8));
    expect([deeper.status, (await errorBody(deeper)).code]).toEqual([400, 'bad_json']);
  });

  it('should answer 503 shutting_down once the server is closing', async () => {
    const server = await startServer();
    await server.tw.close();
    const response = await post(server, JSON.stringify({ channel: 'a', data: 1 }));
    expect(response.status).toBe(503);
    expect(await errorBody(response)).toMatchObject({ code: 'shutting_down' });
  });
});

interface PostOptions {
  /** `false`: a new connection for this request alone. */
  agent: Agent | false;
  token?: string;
  localAddress?: string;
}

function postWith(url: string, body: string, { agent, token, localAddress }: PostOptions) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  return new Promise<{ status: number; retryAfter: string | undefined; body: unknown }>(
    (resolve, reject) => {
      const req = request(
        url,
        { method: 'POST', agent, headers, ...(localAddress === undefined ? {} : { localAddress }) },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('end', () => {
            const retryAfter = res.headers['retry-after'];
            resolve({ status: res.statusCode ?? 0, retryAfter, body: JSON.parse(text) });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    },
  );
}
