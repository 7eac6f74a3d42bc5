import { describe, expect, it } from 'vitest';
import { frameLength, OutgoingEvent } from '../src/encoding/outgoing-event.js';
import type { StoredEvent } from '../src/index.js';

const stored = (fields: Partial<StoredEvent> = {}): StoredEvent => ({
  seq: 1,
  id: 'ep-1',
  channel: 'a',
  event: 'tick',
  dataJson: '{"p":1}',
  time: 0,
  ...fields,
});

describe('OutgoingEvent', () => {
  it('should build the v1 event frame with the data as given, in this field order', () => {
    const event = new OutgoingEvent(stored());
    expect(event.frame).toBe(
      '{"type":"event","channel":"a","id":"ep-1","event":"tick","data":{"p":1}}',
    );
    expect(event.json.toString()).toBe(event.frame);
    expect(event.sseBlock.toString()).toBe(`data: ${event.frame}\nid: ep-1\n\n`);
  });

  it('should write any channel and event name as valid JSON in the frame', () => {
    for (const name of ['a"b', 'c\\d', 'é\n']) {
      const event = new OutgoingEvent(stored({ channel: name, event: name, dataJson: '1' }));
      expect(JSON.parse(event.frame)).toMatchObject({ channel: name, event: name, data: 1 });
      expect(frameLength(event.stored)).toBe(event.frame.length);
    }
  });

  it('should encode each wire form once for all its subscribers', () => {
    const event = new OutgoingEvent(stored());
    expect(event.wsMessage).toBe(event.wsMessage);
    expect(event.sseData).toBe(event.sseData);
    expect(event.sseBlock).toBe(event.sseBlock);
  });
});
