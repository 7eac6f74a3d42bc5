import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isTidewireError } from '../src/errors';
import { createTokenSource } from '../src/token';
import { fakeEnvironment } from './helpers';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

const ctx = { reason: 'connect', attempt: 0 } as const;

describe('createTokenSource', () => {
  it('should collapse concurrent calls into one getToken call', async () => {
    const getToken = vi.fn(async () => 't1');
    const tokens = createTokenSource(getToken, fakeEnvironment().env, 1000);
    const [a, b] = await Promise.all([tokens.get(ctx), tokens.get(ctx)]);
    expect([a, b]).toEqual(['t1', 't1']);
    expect(getToken).toHaveBeenCalledTimes(1);
    await tokens.get(ctx);
    expect(getToken).toHaveBeenCalledTimes(2);
  });

  it('should pass the reason and attempt, and reuse the last token when not fresh', async () => {
    const getToken = vi.fn(async () => 'tok');
    const tokens = createTokenSource(getToken, fakeEnvironment().env, 1000);
    await tokens.get({ reason: 'reconnect', attempt: 3 });
    expect(getToken).toHaveBeenCalledWith({ reason: 'reconnect', attempt: 3 });
    expect(await tokens.get({ reason: 'publish', attempt: 0 }, false)).toBe('tok');
    expect(getToken).toHaveBeenCalledTimes(1);
  });

  it('should turn a throwing getToken into a fatal token_failed error without the token', async () => {
    const tokens = createTokenSource(
      () => {
        throw new Error('boom');
      },
      fakeEnvironment().env,
      1000,
    );
    const error = await tokens.get(ctx).catch((e: unknown) => e);
    expect(isTidewireError(error) && error.code).toBe('token_failed');
    expect(isTidewireError(error) && error.fatal).toBe(true);
  });

  it('should reject an empty token as fatal token_empty', async () => {
    const tokens = createTokenSource(() => '', fakeEnvironment().env, 1000);
    await expect(tokens.get(ctx)).rejects.toMatchObject({ code: 'token_empty', fatal: true });
  });

  it('should time out a getToken that never settles and clear its timer', async () => {
    const tokens = createTokenSource(
      () => new Promise<string>(() => {}),
      fakeEnvironment().env,
      500,
    );
    const result = tokens.get(ctx).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(500);
    expect(await result).toMatchObject({ code: 'token_timeout', fatal: false });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('should return undefined without getToken (cookie auth)', async () => {
    expect(await createTokenSource(undefined, fakeEnvironment().env, 1).get(ctx)).toBeUndefined();
  });

  it('should clear the timer when cancelled', async () => {
    const tokens = createTokenSource(
      () => new Promise<string>(() => {}),
      fakeEnvironment().env,
      500,
    );
    const result = tokens.get(ctx).catch((e: unknown) => e);
    tokens.cancel();
    expect(await result).toMatchObject({ code: 'client_closed' });
    expect(vi.getTimerCount()).toBe(0);
  });
});
