'use client';
import { type FormEvent, useState } from 'react';
import { me, useConnectionState, usePublish, useSubscription } from './tidewire';

export function Live() {
  const { sse, websocket } = useConnectionState();
  // Listen-only: this channel goes over SSE.
  const clock = useSubscription('clock');
  // duplex: on WebSocket from the start, since this page publishes on it.
  const chat = useSubscription('chat', { keep: 20, duplex: true });
  const send = usePublish('chat');
  const [failure, setFailure] = useState<string>();

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const text = String(new FormData(form).get('text') ?? '');
    if (text === '') return;
    try {
      await send({ author: me(), text }); // resolves to { id } once the server accepted it
      form.reset();
      setFailure(undefined);
    } catch (error) {
      setFailure(error instanceof Error ? error.message : String(error));
    }
  }

  return (
    <>
      <p>
        SSE: {sse.status}, WebSocket: {websocket.status}
      </p>
      <p>Server time: {clock.lastEvent ? clock.lastEvent.data.now : `${clock.status}…`}</p>
      <h2>Chat ({chat.status})</h2>
      <ul>
        {chat.events.map((e) => (
          <li key={e.id}>
            {e.data.author}: {e.data.text}
          </li>
        ))}
      </ul>
      <form onSubmit={submit}>
        <input name="text" placeholder="Say something" autoComplete="off" />{' '}
        <button type="submit">Send</button>
      </form>
      {failure && <p role="alert">{failure}</p>}
    </>
  );
}
