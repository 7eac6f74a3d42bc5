import type { ChannelEvent } from '@tidewire/core';
import { usePublish, useSubscription } from '@tidewire/react';
import {
  type FormEvent,
  type ReactNode,
  useEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
} from 'react';
import { api, guestName, type Start, type Started } from '../shared/api';
import type { Starts } from '../shared/boot';
import type { Ledger, LedgerSnapshot } from '../shared/ledger';
import {
  type ChatMessage,
  chaosControls,
  chaosNotes,
  clock,
  completionPrompts,
  countCells,
  firstNumeric,
  formatMetric,
  inspectorHeads,
  legend,
  type MetricSample,
  metricTiles,
  type Notification,
  numericLabel,
  rowData,
  SPARK_POINTS,
  shortId,
  sparkline,
  transportLabel,
  transportTag,
} from '../shared/ui';

const me = guestName();
const jobSteps = ['Fetching data', 'Transforming rows', 'Building index', 'Uploading', 'Verifying'];

function useLedger(ledger: Ledger): LedgerSnapshot {
  return useSyncExternalStore(ledger.subscribe, ledger.getSnapshot);
}

/**
 * `useSubscription` plus the inspector: every event is counted in the ledger and the
 * SDK's state (transport, status, counters) is copied into its row.
 */
function useTracked<T>(
  ledger: Ledger,
  channel: string,
  options: {
    since?: string | undefined;
    duplex?: boolean;
    enabled?: boolean;
    keep?: number;
    onEvent?: (event: ChannelEvent<T>) => void;
  },
) {
  const { since, onEvent, ...rest } = options;
  const state = useSubscription<T>(channel, {
    ...rest,
    ...(since === undefined ? {} : { since }),
    onEvent: (event) => {
      ledger.event(event);
      onEvent?.(event);
    },
  });
  useEffect(() => {
    if (state.status !== 'idle') ledger.sdk(channel, state);
  }, [ledger, channel, state]);
  return state;
}

function Badge({
  state,
}: {
  state: { channel: string; status: string; transport: 'sse' | 'websocket' | undefined };
}) {
  return (
    <span className="chan">
      <span className={`dot ${state.status}`} />
      {state.channel} · {transportLabel(state.transport)} · {state.status}
    </span>
  );
}

function Card(props: {
  id: string;
  title: string;
  sub?: string;
  badge?: ReactNode;
  wide?: boolean;
  foot?: ReactNode;
  children: ReactNode;
}) {
  return (
    <article className={props.wide ? 'card wide' : 'card'} id={props.id}>
      <div className="card-head">
        <h2>{props.title}</h2>
        {props.sub && <span className="sub">{props.sub}</span>}
        <span className="spacer" />
        {props.badge}
      </div>
      <div className="card-body">{props.children}</div>
      {props.foot && <div className="card-foot">{props.foot}</div>}
    </article>
  );
}

function Metrics({ ledger, start }: { ledger: Ledger; start: Start }) {
  const history = useRef<Record<string, number[]>>({});
  const state = useTracked<MetricSample>(ledger, 'metrics', {
    since: start.since,
    onEvent: ({ data }) => {
      for (const { key } of metricTiles) {
        const values = history.current[key] ?? [];
        history.current[key] = values;
        values.push(data[key]);
        if (values.length > SPARK_POINTS) values.shift();
      }
    },
  });
  const sample = state.lastEvent?.type === 'sample' ? state.lastEvent.data : undefined;
  return (
    <Card id="metrics" title="Live metrics" sub="listen-only" wide badge={<Badge state={state} />}>
      <div className="tiles">
        {metricTiles.map((tile) => (
          <div className="tile" data-metric={tile.key} key={tile.key}>
            <div className="label">{tile.label}</div>
            <div className="value">
              <span>{formatMetric(sample?.[tile.key], tile.unit)}</span>
              <span className="unit">{tile.unit}</span>
            </div>
            <svg viewBox="0 0 100 32" preserveAspectRatio="none" aria-hidden="true">
              <polyline points={sparkline(history.current[tile.key] ?? [], tile.max)} />
            </svg>
          </div>
        ))}
      </div>
    </Card>
  );
}

function Notifications({ ledger, start }: { ledger: Ledger; start: Start }) {
  const state = useTracked<Notification>(ledger, 'notifications', { since: start.since, keep: 5 });
  const notes = [...state.events].reverse();
  return (
    <Card id="notifications" title="Notifications" badge={<Badge state={state} />}>
      <ul className="feed">
        {notes.length === 0 && <li className="empty">Waiting for the next notification…</li>}
        {notes.map(({ id, data }) => (
          <li className={`note ${data.level}`} key={id}>
            <span className="tag" />
            <span className="title">{data.title}</span>
            <time className="time">{clock(data.at)}</time>
            <span className="body">{data.body}</span>
          </li>
        ))}
      </ul>
    </Card>
  );
}

function Chat({ ledger, start }: { ledger: Ledger; start: Start }) {
  const state = useTracked<ChatMessage>(ledger, 'chat', {
    since: start.since,
    duplex: true,
    keep: 50,
  });
  const publish = usePublish('chat');
  const [text, setText] = useState('');
  const [status, setStatus] = useState<{ text: string; bad: boolean }>({ text: '', bad: false });
  const list = useRef<HTMLUListElement>(null);
  const count = state.events.length;
  useEffect(() => {
    const el = list.current;
    if (el !== null && count > 0) el.scrollTop = el.scrollHeight;
  }, [count]);
  const send = (event: FormEvent) => {
    event.preventDefault();
    const value = text.trim();
    if (value === '') return;
    setText('');
    setStatus({ text: 'Sending…', bad: false });
    publish({ user: me, text: value, at: Date.now() }).then(
      ({ id }) => setStatus({ text: `Sent as ${shortId(id)}`, bad: false }),
      (error: { code?: string }) =>
        setStatus({ text: `Not sent: ${error.code ?? String(error)}`, bad: true }),
    );
  };
  return (
    <Card id="chat" title="Chat" sub="duplex" badge={<Badge state={state} />}>
      <ul className="messages" ref={list}>
        {state.events.map(({ id, data }) => (
          <li className={data.user === me ? 'msg mine' : 'msg'} key={id}>
            <span className="who">{data.user === me ? 'You' : data.user}</span>
            {data.text}
          </li>
        ))}
      </ul>
      <form className="chat-form" onSubmit={send}>
        <input
          className="input"
          name="text"
          autoComplete="off"
          maxLength={500}
          placeholder="Say something…"
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <button className="btn primary" type="submit">
          Send
        </button>
      </form>
      <div className={status.bad ? 'note-line bad' : 'note-line'}>{status.text}</div>
    </Card>
  );
}

function JobRun({ ledger, job, onDone }: { ledger: Ledger; job: Started; onDone: () => void }) {
  const [progress, setProgress] = useState({
    pct: 0,
    step: '',
    doneIn: undefined as number | undefined,
  });
  const done = progress.doneIn !== undefined;
  useTracked<{ pct?: number; step?: string; durationMs?: number }>(ledger, job.channel, {
    since: job.since,
    enabled: !done,
    onEvent: ({ type, data }) => {
      if (type === 'progress')
        setProgress((p) => ({ ...p, pct: data.pct ?? p.pct, step: data.step ?? p.step }));
      else if (type === 'complete')
        setProgress({ pct: 100, step: '', doneIn: data.durationMs ?? 0 });
    },
  });
  useEffect(() => {
    if (!done) return;
    ledger.closed(job.channel);
    onDone();
  }, [done, ledger, job.channel, onDone]);
  const current = jobSteps.indexOf(progress.step);
  return (
    <div
      className={done ? 'job done' : 'job'}
      data-job={job.channel}
      data-complete={done ? 'true' : undefined}
    >
      <div className="job-line">
        <b>{job.channel}</b>
        <b>
          {done
            ? `Complete in ${((progress.doneIn ?? 0) / 1000).toFixed(1)} s`
            : `${progress.pct}%`}
        </b>
      </div>
      <progress max={100} value={progress.pct} />
      <ul className="steps">
        {jobSteps.map((step, i) => (
          <li key={step} className={done || i < current ? 'done' : i === current ? 'doing' : ''}>
            {step}
          </li>
        ))}
      </ul>
    </div>
  );
}

function Job({ ledger }: { ledger: Ledger }) {
  const [job, setJob] = useState<Started>();
  const [running, setRunning] = useState(false);
  const rows = useLedger(ledger).rows;
  const row = rows.find((r) => r.channel === job?.channel);
  const start = async () => {
    setRunning(true);
    const started = await api.startJob();
    ledger.track(started.channel, 'Job', 1, 'job');
    setJob(started);
  };
  const onDone = useMemo(() => () => setRunning(false), []);
  return (
    <Card
      id="job"
      title="Job progress"
      sub="POST, then stream until complete"
      badge={row && <Badge state={row} />}
      foot={
        <button
          className="btn primary"
          type="button"
          id="job-start"
          disabled={running}
          onClick={start}
        >
          Start export job
        </button>
      }
    >
      {job ? (
        <JobRun key={job.channel} ledger={ledger} job={job} onDone={onDone} />
      ) : (
        <div className="empty">
          No job yet. Start one: the server reports progress on its own channel.
        </div>
      )}
    </Card>
  );
}

function CompletionRun({
  ledger,
  run,
  onDone,
}: {
  ledger: Ledger;
  run: Started & { prompt: string };
  onDone: () => void;
}) {
  const [text, setText] = useState('');
  const [done, setDone] = useState(false);
  useTracked<{ text?: string }>(ledger, run.channel, {
    since: run.since,
    enabled: !done,
    onEvent: ({ type, data }) => {
      if (type === 'token') setText((t) => t + (data.text ?? ''));
      else if (type === 'done') setDone(true);
    },
  });
  useEffect(() => {
    if (!done) return;
    ledger.closed(run.channel);
    onDone();
  }, [done, ledger, run.channel, onDone]);
  return (
    <div
      className={done ? 'answer' : 'answer streaming'}
      id="answer"
      data-done={done ? 'true' : undefined}
    >
      <span className="q">{run.prompt}</span>
      <span className="text">{text}</span>
    </div>
  );
}

function Completion({ ledger }: { ledger: Ledger }) {
  const [run, setRun] = useState<Started & { prompt: string }>();
  const [busy, setBusy] = useState(false);
  const row = useLedger(ledger).rows.find((r) => r.channel === run?.channel);
  const ask = async (prompt: string) => {
    setBusy(true);
    const started = await api.startCompletion(prompt);
    ledger.track(started.channel, 'Completion', 1, 'completion');
    setRun({ ...started, prompt });
  };
  const onDone = useMemo(() => () => setBusy(false), []);
  return (
    <Card
      id="completion"
      title="Token streaming"
      sub="LLM-style"
      badge={row && <Badge state={row} />}
    >
      {run ? (
        <CompletionRun key={run.channel} ledger={ledger} run={run} onDone={onDone} />
      ) : (
        <div className="answer" id="answer">
          <span className="empty">Pick a question: the answer streams in token by token.</span>
        </div>
      )}
      <div className="prompts">
        {completionPrompts.map((prompt) => (
          <button
            className="btn"
            type="button"
            key={prompt}
            data-prompt={prompt}
            disabled={busy}
            onClick={() => ask(prompt)}
          >
            {prompt}
          </button>
        ))}
      </div>
    </Card>
  );
}

function Chaos({ ledger }: { ledger: Ledger }) {
  const { server } = useLedger(ledger);
  const [busy, setBusy] = useState<string>();
  return (
    <section className="card chaos">
      <div className="card-head">
        <h2>Chaos</h2>
        <span className="sub">drives the real server</span>
      </div>
      <div className="card-body">
        <div className="chaos-grid">
          {chaosControls(server).map((c) => (
            <button
              key={c.name}
              className={`btn chaos-btn ${c.tone}`}
              type="button"
              title={c.description}
              data-action={c.name}
              disabled={busy === c.name}
              onClick={async () => {
                setBusy(c.name);
                await ledger.chaos(c.name);
                setBusy(undefined);
              }}
            >
              {c.label}
            </button>
          ))}
        </div>
        {chaosNotes(server).map((note) => (
          <p key={note} className="chaos-note">
            {note}
          </p>
        ))}
      </div>
    </section>
  );
}

function Inspector({ ledger }: { ledger: Ledger }) {
  const { rows } = useLedger(ledger);
  return (
    <section className="card inspector">
      <div className="card-head">
        <h2>Connection inspector</h2>
      </div>
      <div className="card-body" id="inspector">
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                {inspectorHeads.map((h, i) => (
                  <th key={h} className={i >= firstNumeric ? 'num' : undefined}>
                    {h}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => {
                const cells = countCells(row);
                return (
                  <tr key={row.channel} {...rowData(row)}>
                    <td>
                      <div className="name">
                        <span className={`dot ${row.status}`} />
                        <div>
                          {row.label}
                          <small
                            title={`${row.channel}: last event ${row.lastEventId ?? 'none yet'}`}
                          >
                            {shortId(row.lastEventId)}
                          </small>
                        </div>
                      </div>
                    </td>
                    <td className="state">
                      <span className={`tp ${row.transport ?? ''}`}>
                        {transportTag(row.transport)}
                      </span>{' '}
                      {row.status}
                      {row.error && <span className="err">{row.error}</span>}
                      {row.moved && <span className="moved">{row.moved}</span>}
                    </td>
                    <td className="num" data-label={numericLabel(0)}>
                      {cells.counts}
                    </td>
                    <td className={`num count ${cells.tone}`} data-label={numericLabel(1)}>
                      {cells.lost}
                    </td>
                    <td className="num" data-label={numericLabel(2)}>
                      {row.reconnects}
                    </td>
                    <td className={row.gaps > 0 ? 'num alarm' : 'num'} data-label={numericLabel(3)}>
                      {row.gaps}
                      {row.gapReason && <small>{row.gapReason}</small>}
                    </td>
                    <td
                      className={row.duplicates > 0 ? 'num alarm' : 'num'}
                      title={`${row.dropped} dropped by the SDK`}
                      data-label={numericLabel(4)}
                    >
                      {row.duplicates}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        <div className="legend">{legend}</div>
      </div>
    </section>
  );
}

function Timeline({ ledger }: { ledger: Ledger }) {
  const { log } = useLedger(ledger);
  return (
    <section className="card">
      <div className="card-head">
        <h2>Timeline</h2>
      </div>
      <div className="card-body">
        <ul className="log" id="log">
          {log.map((entry) => (
            <li key={entry.id}>
              <time>{clock(entry.at)}</time>
              <span className={entry.kind}>{entry.text}</span>
            </li>
          ))}
        </ul>
      </div>
    </section>
  );
}

function TopBar({ ledger }: { ledger: Ledger }) {
  const { server } = useLedger(ledger);
  return (
    <header className="topbar">
      <div className="brand">
        <img className="logo" src="/assets/logo.svg" alt="" />
        Tidewire <small>playground</small>
      </div>
      <nav className="tabs" aria-label="Pages">
        <a href="/vanilla">Vanilla</a>
        <a href="/react" aria-current="page">
          React
        </a>
        <a href="/vue">Vue</a>
      </nav>
      <div className="server" id="server">
        {server && (
          <>
            <span className="pill" title="history epoch">
              epoch <b className="mono">{server.epoch}</b>
            </span>
            <span className="pill">
              SSE <b>{server.connections.sse}</b>
            </span>
            <span className="pill">
              WebSocket <b>{server.connections.websocket}</b>
            </span>
            <span className="pill">
              restarts <b>{server.restarts}</b>
            </span>
            <span className="pill">
              tokens <b>{server.tokensIssued}</b>
            </span>
            {!server.webSocketEnabled && (
              <span className="pill warn">
                <b>WebSocket blocked</b>
              </span>
            )}
            {server.paused && (
              <span className="pill warn">
                <b>publishers paused</b>
              </span>
            )}
          </>
        )}
      </div>
    </header>
  );
}

export function App({ ledger, starts }: { ledger: Ledger; starts: Starts }) {
  return (
    <>
      <TopBar ledger={ledger} />
      <main className="layout">
        <section className="cases">
          <Metrics ledger={ledger} start={starts.metrics} />
          <Notifications ledger={ledger} start={starts.notifications} />
          <Chat ledger={ledger} start={starts.chat} />
          <Job ledger={ledger} />
          <Completion ledger={ledger} />
        </section>
        <aside className="side">
          <Chaos ledger={ledger} />
          <Inspector ledger={ledger} />
          <Timeline ledger={ledger} />
        </aside>
      </main>
    </>
  );
}
