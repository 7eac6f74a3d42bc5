import { type FormEvent, useState } from 'react';
import { me, useConnectionState, usePublish, useSubscription } from './tidewire';

function Clock() {
  // Listen-only: this channel goes over SSE.
  const { status, lastEvent } = useSubscription('clock');
  return <p>Server time: {lastEvent ? lastEvent.data.now : `${status}…`}</p>;
}

function Chat() {
  // duplex: on WebSocket from the start, since this page publishes on it.
  const { events, status, error } = useSubscription('chat', { keep: 20, duplex: true });
  const send = usePublish('chat');
  const [failure, setFailure] = useState<string>();

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const text = String(new FormData(form).get('text') ?? '');
    if (text === '') return;
    try {
      await send({ author: me, text }); // resolves to { id } once the server accepted it
      form.reset();
      setFailure(undefined);
    } catch (error) {
      setFailure(error instanceof Error ? error.message : String(error));
    }
  }

  return (
    <section>
      <h2>Chat ({status})</h2>
      {status === 'failed' && <p role="alert">Stopped: {error?.message}</p>}
      <ul>
        {events.map((e) => (
          <li key={e.id}>
            {e.data.author}: {e.data.text}
          </li>
        ))}
      </ul>
      <form onSubmit={submit}>
        <input name="text" placeholder={`Say something as ${me}`} autoComplete="off" />{' '}
        <button type="submit">Send</button>
      </form>
      {failure && <p role="alert">{failure}</p>}
    </section>
  );
}

export function App() {
  const { sse, websocket } = useConnectionState();
  return (
    <main>
      <h1>Tidewire with Vite and React</h1>
      <p>
        SSE: {sse.status}, WebSocket: {websocket.status}
      </p>
      <Clock />
      <Chat />
    </main>
  );
}
