import { describe, expect, it } from 'vitest';
import {
  AuthError,
  blocksTransport,
  ConnectionError,
  closeError,
  errorFor,
  isFatal,
  isPathFailure,
  isTidewireError,
  PublishError,
  statusCode,
  TidewireError,
} from '../src/errors';
import { parseFrame } from '../src/frames';

describe('errors', () => {
  it('should decide fatal vs retryable in one table', () => {
    expect(isFatal('forbidden')).toBe(true);
    expect(isFatal('token_failed')).toBe(true);
    expect(isFatal('no_content')).toBe(true);
    expect(isFatal('network')).toBe(false);
    expect(isFatal('unauthorized')).toBe(false);
    expect(isFatal('rate_limited')).toBe(false);
    expect(isFatal('shutting_down')).toBe(false);
  });

  it('should map HTTP statuses per the protocol table', () => {
    const error = (status: number) => errorFor(statusCode(status), { status });
    expect(error(204)).toMatchObject({ code: 'no_content', fatal: true });
    expect(error(401)).toBeInstanceOf(AuthError);
    expect(error(403)).toMatchObject({ code: 'forbidden', fatal: true });
    expect(error(404)).toMatchObject({ code: 'not_found', fatal: true, status: 404 });
    expect(error(405)).toMatchObject({ code: 'bad_request', fatal: true, status: 405 });
    expect(error(408)).toMatchObject({ code: 'http_status', fatal: false });
    expect(error(429)).toMatchObject({ code: 'rate_limited', fatal: false });
    expect(error(503)).toMatchObject({ code: 'http_status', fatal: false, status: 503 });
    expect(statusCode(404)).toBe('not_found');
    expect(statusCode(418)).toBe('bad_request');
  });

  it('should map WebSocket close codes per the protocol table', () => {
    expect(closeError(4401)).toMatchObject({ code: 'unauthorized', fatal: false });
    expect(closeError(4403)).toMatchObject({ code: 'forbidden', fatal: true });
    expect(closeError(4400)).toMatchObject({ code: 'bad_request', fatal: true });
    expect(closeError(4409)).toMatchObject({ code: 'closed', fatal: false, status: 4409 });
    expect(closeError(1006)).toBeInstanceOf(ConnectionError);
  });

  it('should class how an SSE stream ends', () => {
    // openSse ends with these codes (see transports/sse.test.ts): only a wrong content type and
    // an oversized message are final.
    expect(isFatal('closed')).toBe(false);
    expect(isFatal('network')).toBe(false);
    expect(isFatal('bad_content_type')).toBe(true);
    expect(isFatal('too_large')).toBe(true);
    expect(errorFor('http_status', { status: 500, retryAfter: 10 })).toMatchObject({
      fatal: false,
      retryAfter: 10,
    });
  });

  it('should recognise its errors across copies by brand, with readable names', () => {
    const e = new PublishError('queue_full');
    expect(isTidewireError(e)).toBe(true);
    expect(e).toBeInstanceOf(TidewireError);
    expect(e.name).toBe('PublishError');
    expect(e.message).toMatch(/^queue_full: /);
    expect(isTidewireError(new Error('x'))).toBe(false);
    expect(isTidewireError({ [Symbol.for('tidewire.error')]: true })).toBe(true);
  });
});

describe('error messages', () => {
  // Tests run the development build (see src/dev.ts), whose messages end with what to do.
  it('should name the code, the status, the channel or path, then the explanation and what to do', () => {
    expect(new TidewireError('forbidden', { status: 403, channel: 'admin' }).message).toBe(
      "forbidden 403 on 'admin': The server refused: its authorize hook denies this channel to this user, or its cors.origins does not list this page's origin.",
    );
    expect(new TidewireError('closed', { status: 4409 }, 'slow consumer').message).toBe(
      'closed 4409: slow consumer. The server ended the connection; reconnecting and resuming from the last position.',
    );
    // A code a newer server sends still reads as a message.
    expect(new TidewireError('teapot' as never).message).toBe('teapot');
  });

  it('should decide the class and the fallback effect from the table, not from the name', () => {
    expect(errorFor('forbidden')).toBeInstanceOf(AuthError);
    expect(errorFor('token_timeout')).toBeInstanceOf(AuthError);
    expect(errorFor('too_many_channels')).toBeInstanceOf(ConnectionError);
    expect(isPathFailure('network')).toBe(true);
    expect(isPathFailure('heartbeat_timeout')).toBe(true);
    // A close the server chose says nothing about the path.
    expect(isPathFailure('closed')).toBe(false);
    expect(isPathFailure('rate_limited')).toBe(false);
    // A fatal end stops the connection; it says nothing about the path either.
    expect(isPathFailure('forbidden')).toBe(false);
    expect(blocksTransport('forbidden')).toBe(false);
    expect(blocksTransport('unsupported')).toBe(true);
    expect(blocksTransport('bad_content_type')).toBe(true);
  });
});

describe('parseFrame', () => {
  it('should read a JSON object, taking its type from the SSE event name when it has none', () => {
    expect(parseFrame('{"type":"ping"}')).toEqual({ type: 'ping' });
    expect(parseFrame('{"channel":"a","position":"e-1"}', 'subscribed')).toEqual({
      type: 'subscribed',
      channel: 'a',
      position: 'e-1',
    });
    // A type in the JSON wins.
    expect(parseFrame('{"type":"gap","channel":"a"}', 'error')).toMatchObject({ type: 'gap' });
  });

  it('should refuse what is not a JSON object', () => {
    for (const text of ['{', 'null', '5', '"s"', 'true', ''])
      expect(parseFrame(text, 'welcome'), text).toBeUndefined();
  });
});
