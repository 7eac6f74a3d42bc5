import { describe, expect, it } from 'vitest';
import { createLimitLog, LIMIT_LOG_INTERVAL_MS, type Logger } from '../src/logger.js';

function recording() {
  const lines: Array<[string, Record<string, unknown> | undefined]> = [];
  const logger: Logger = {
    warn: (message, details) => lines.push([message, details]),
    error: () => {},
  };
  return { lines, logger };
}

describe('createLimitLog', () => {
  it('should log a limit once a minute for each client, however often it is hit', () => {
    let now = 0;
    const { lines, logger } = recording();
    const log = createLimitLog(logger, () => now);
    for (let i = 0; i < 10_000; i++) log('publish rate limited', 'principal:alice');
    log('publish rate limited', 'principal:bob');
    log('slow SSE consumer dropped', 'principal:alice', { buffered: 5 });
    expect(lines).toEqual([
      ['publish rate limited', { who: 'principal:alice' }],
      ['publish rate limited', { who: 'principal:bob' }],
      ['slow SSE consumer dropped', { who: 'principal:alice', buffered: 5 }],
    ]);
    now = LIMIT_LOG_INTERVAL_MS - 1;
    log('publish rate limited', 'principal:alice');
    expect(lines).toHaveLength(3);
    now = LIMIT_LOG_INTERVAL_MS;
    log('publish rate limited', 'principal:alice');
    expect(lines).toHaveLength(4);
  });
});
