/**
 * The Vanilla page: `@tidewire/core` from its script-tag build (`window.Tidewire`,
 * loaded by a plain `<script src>`), the DOM by hand.
 */
import type {
  ChannelEvent,
  SubscribeOptions,
  Subscription,
  SubscriptionSnapshot,
} from '@tidewire/core';
import { mountDevtools } from '@tidewire/devtools';
import {
  api,
  channels,
  clientOptions,
  devtoolsOptions,
  guestName,
  recent,
  type Start,
} from '../shared/api';
import { showBootError } from '../shared/boot';
import { createLedger, type LedgerSnapshot } from '../shared/ledger';
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
import { byId, h, svg } from './dom';

declare global {
  interface Window {
    Tidewire: typeof import('@tidewire/core');
  }
}

const ledger = createLedger();
const client = window.Tidewire.createClient(clientOptions(window.Tidewire.exponentialBackoff));
ledger.watch(client);
mountDevtools(client, devtoolsOptions);
const me = guestName();

/** The badge in a card's head: transport and state of the channel behind it. */
function renderBadge(slot: string, snap: SubscriptionSnapshot): void {
  const badge = document.querySelector(`[data-badge="${slot}"]`);
  if (badge === null) return;
  badge.replaceChildren(
    h('span', { class: `dot ${snap.status}` }),
    `${snap.channel} · ${transportLabel(snap.transport)} · ${snap.status}`,
  );
}

/**
 * Subscribes to `channel` from `since`, counting every event in the ledger and
 * keeping the card's badge current. Returns the release.
 */
function follow<T>(
  channel: string,
  label: string,
  start: Start,
  onEvent: (event: ChannelEvent<T>) => void,
  extra: { slot?: string; options?: SubscribeOptions } = {},
): () => void {
  const slot = extra.slot ?? channel;
  ledger.track(channel, label, start.baseline, extra.slot);
  const sub = client.subscribe(channel, {
    ...extra.options,
    ...(start.since === undefined ? {} : { since: start.since }),
  }) as Subscription<T>;
  const sync = (): void => {
    const snap = sub.getSnapshot();
    ledger.sdk(channel, snap);
    renderBadge(slot, snap);
  };
  sub.on('change', sync);
  sub.on('event', (event) => {
    ledger.event(event);
    onEvent(event);
  });
  sync();
  return () => {
    sub.unsubscribe();
    ledger.closed(channel);
  };
}

// ---------- metrics ----------

function setupMetrics(start: Start): void {
  const history: Record<string, number[]> = {};
  const tiles = metricTiles.map((tile) => {
    const value = h('span', null, '–');
    const line = svg('polyline', { points: '' });
    const el = h(
      'div',
      { class: 'tile', 'data-metric': tile.key },
      h('div', { class: 'label' }, tile.label),
      h('div', { class: 'value' }, value, h('span', { class: 'unit' }, tile.unit)),
      svg(
        'svg',
        { viewBox: '0 0 100 32', preserveAspectRatio: 'none', 'aria-hidden': 'true' },
        line,
      ),
    );
    history[tile.key] = [];
    return { tile, el, value, line };
  });
  byId('tiles').replaceChildren(...tiles.map((t) => t.el));
  follow<MetricSample>('metrics', channels.metrics, start, ({ data }) => {
    for (const { tile, value, line } of tiles) {
      const values = history[tile.key]!;
      values.push(data[tile.key]);
      if (values.length > SPARK_POINTS) values.shift();
      value.textContent = formatMetric(data[tile.key], tile.unit);
      line.setAttribute('points', sparkline(values, tile.max));
    }
  });
}

// ---------- notifications ----------

function setupNotifications(start: Start): void {
  const feed = byId('feed');
  feed.replaceChildren(h('li', { class: 'empty' }, 'Waiting for the next notification…'));
  follow<Notification>('notifications', channels.notifications, start, ({ data }) => {
    feed.querySelector('.empty')?.remove();
    feed.prepend(
      h(
        'li',
        { class: `note ${data.level}` },
        h('span', { class: 'tag' }),
        h('span', { class: 'title' }, data.title),
        h('time', { class: 'time' }, clock(data.at)),
        h('span', { class: 'body' }, data.body),
      ),
    );
    while (feed.children.length > 5) feed.lastElementChild?.remove();
  });
}

// ---------- chat ----------

function setupChat(start: Start): void {
  const list = byId('messages');
  const status = byId('chat-status');
  const input = byId<HTMLInputElement>('chat-input');
  follow<ChatMessage>(
    'chat',
    channels.chat,
    start,
    ({ data }) => {
      const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
      list.append(
        h(
          'li',
          { class: data.user === me ? 'msg mine' : 'msg' },
          h('span', { class: 'who' }, data.user === me ? 'You' : data.user),
          data.text,
        ),
      );
      while (list.children.length > 50) list.firstElementChild?.remove();
      if (nearBottom) list.scrollTop = list.scrollHeight;
    },
    { options: { duplex: true } },
  );
  byId<HTMLFormElement>('chat-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (text === '') return;
    input.value = '';
    status.className = 'note-line';
    status.textContent = 'Sending…';
    client.publish('chat', { user: me, text, at: Date.now() }).then(
      ({ id }) => {
        status.textContent = `Sent as ${shortId(id)}`;
      },
      (error: { code?: string }) => {
        status.className = 'note-line bad';
        status.textContent = `Not sent: ${error.code ?? String(error)}`;
      },
    );
  });
}

// ---------- job ----------

const jobSteps = ['Fetching data', 'Transforming rows', 'Building index', 'Uploading', 'Verifying'];

function setupJob(): void {
  const body = byId('job-body');
  const button = byId<HTMLButtonElement>('job-start');
  body.replaceChildren(
    h(
      'div',
      { class: 'empty' },
      'No job yet. Start one: the server reports progress on its own channel.',
    ),
  );
  button.addEventListener('click', async () => {
    button.disabled = true;
    const { channel, since } = await api.startJob();
    const title = h('b', null, channel);
    const pct = h('b', null, '0%');
    const bar = h('progress', { max: '100', value: '0' }) as HTMLProgressElement;
    const steps = jobSteps.map((step) => h('li', null, step));
    const box = h(
      'div',
      { class: 'job', 'data-job': channel },
      h('div', { class: 'job-line' }, title, pct),
      bar,
      h('ul', { class: 'steps' }, ...steps),
    );
    body.replaceChildren(box);
    const release = follow<{ pct?: number; step?: string; durationMs?: number }>(
      channel,
      'Job',
      { since, baseline: 1 },
      ({ type, data }) => {
        if (type === 'progress' && data.pct !== undefined) {
          bar.value = data.pct;
          pct.textContent = `${data.pct}%`;
          const current = jobSteps.indexOf(data.step ?? '');
          steps.forEach((li, i) => {
            li.className = i < current ? 'done' : i === current ? 'doing' : '';
          });
        } else if (type === 'complete') {
          bar.value = 100;
          pct.textContent = `Complete in ${((data.durationMs ?? 0) / 1000).toFixed(1)} s`;
          for (const li of steps) li.className = 'done';
          box.classList.add('done');
          box.setAttribute('data-complete', 'true');
          release();
          button.disabled = false;
        }
      },
      { slot: 'job' },
    );
  });
}

// ---------- completion ----------

function setupCompletion(): void {
  const answer = byId('answer');
  const prompts = byId('prompts');
  answer.replaceChildren(
    h('span', { class: 'empty' }, 'Pick a question: the answer streams in token by token.'),
  );
  const buttons = completionPrompts.map((prompt) =>
    h('button', { class: 'btn', type: 'button', 'data-prompt': prompt }, prompt),
  );
  prompts.replaceChildren(...buttons);
  const ask = async (prompt: string): Promise<void> => {
    for (const b of buttons) (b as HTMLButtonElement).disabled = true;
    const { channel, since } = await api.startCompletion(prompt);
    const text = h('span', { class: 'text' });
    answer.replaceChildren(h('span', { class: 'q' }, prompt), text);
    answer.className = 'answer streaming';
    answer.removeAttribute('data-done');
    const release = follow<{ text?: string }>(
      channel,
      'Completion',
      { since, baseline: 1 },
      ({ type, data }) => {
        if (type === 'token') text.append(data.text ?? '');
        else if (type === 'done') {
          answer.className = 'answer';
          answer.setAttribute('data-done', 'true');
          release();
          for (const b of buttons) (b as HTMLButtonElement).disabled = false;
        }
      },
      { slot: 'completion' },
    );
  };
  for (const b of buttons) {
    b.addEventListener('click', () => void ask(b.getAttribute('data-prompt') ?? ''));
  }
}

// ---------- inspector, chaos, server, timeline ----------

function renderInspector({ rows }: LedgerSnapshot): void {
  const body = rows.map((row) => {
    const cells = countCells(row);
    return h(
      'tr',
      rowData(row),
      h(
        'td',
        null,
        h(
          'div',
          { class: 'name' },
          h('span', { class: `dot ${row.status}` }),
          h(
            'div',
            null,
            row.label,
            h(
              'small',
              { title: `${row.channel}: last event ${row.lastEventId ?? 'none yet'}` },
              shortId(row.lastEventId),
            ),
          ),
        ),
      ),
      h(
        'td',
        { class: 'state' },
        h('span', { class: `tp ${row.transport ?? ''}` }, transportTag(row.transport)),
        ` ${row.status}`,
        row.error === undefined ? null : h('span', { class: 'err' }, row.error),
        row.moved === undefined ? null : h('span', { class: 'moved' }, row.moved),
      ),
      h('td', { class: 'num', 'data-label': numericLabel(0) }, cells.counts),
      h('td', { class: `num count ${cells.tone}`, 'data-label': numericLabel(1) }, cells.lost),
      h('td', { class: 'num', 'data-label': numericLabel(2) }, row.reconnects),
      h(
        'td',
        { class: row.gaps > 0 ? 'num alarm' : 'num', 'data-label': numericLabel(3) },
        row.gaps,
        row.gapReason === undefined ? null : h('small', null, row.gapReason),
      ),
      h(
        'td',
        {
          class: row.duplicates > 0 ? 'num alarm' : 'num',
          title: `${row.dropped} dropped by the SDK`,
          'data-label': numericLabel(4),
        },
        row.duplicates,
      ),
    );
  });
  byId('inspector').replaceChildren(
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        null,
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            ...inspectorHeads.map((t, i) =>
              h('th', { class: i >= firstNumeric ? 'num' : undefined }, t),
            ),
          ),
        ),
        h('tbody', null, ...body),
      ),
    ),
    h('div', { class: 'legend' }, legend),
  );
}

let chaosKey = '';
/** The notes under the chaos controls: why the server left some out. */
let chaosNoteElements: HTMLElement[] = [];
function renderChaos({ server }: LedgerSnapshot): void {
  const controls = chaosControls(server);
  const notes = chaosNotes(server);
  const key = JSON.stringify([controls.map((c) => c.name), notes]);
  if (key === chaosKey) return;
  chaosKey = key;
  const grid = byId('chaos');
  grid.replaceChildren(
    ...controls.map((c) => {
      const button = h(
        'button',
        {
          class: `btn chaos-btn ${c.tone}`,
          type: 'button',
          title: c.description,
          'data-action': c.name,
        },
        c.label,
      ) as HTMLButtonElement;
      button.addEventListener('click', async () => {
        button.disabled = true;
        await ledger.chaos(c.name);
        button.disabled = false;
      });
      return button;
    }),
  );
  for (const element of chaosNoteElements) element.remove();
  chaosNoteElements = notes.map((note) => h('p', { class: 'chaos-note' }, note));
  grid.after(...chaosNoteElements);
}

function renderServer({ server }: LedgerSnapshot): void {
  if (server === undefined) return;
  const pills = [
    h(
      'span',
      { class: 'pill', title: 'history epoch' },
      'epoch ',
      h('b', { class: 'mono' }, server.epoch),
    ),
    h('span', { class: 'pill' }, 'SSE ', h('b', null, server.connections.sse)),
    h('span', { class: 'pill' }, 'WebSocket ', h('b', null, server.connections.websocket)),
    h('span', { class: 'pill' }, 'restarts ', h('b', null, server.restarts)),
    h('span', { class: 'pill' }, 'tokens ', h('b', null, server.tokensIssued)),
    server.webSocketEnabled
      ? null
      : h('span', { class: 'pill warn' }, h('b', null, 'WebSocket blocked')),
    server.paused ? h('span', { class: 'pill warn' }, h('b', null, 'publishers paused')) : null,
  ];
  byId('server').replaceChildren(...pills.filter((p) => p !== null));
}

function renderLog({ log }: LedgerSnapshot): void {
  byId('log').replaceChildren(
    ...log.map((entry) =>
      h('li', null, h('time', null, clock(entry.at)), h('span', { class: entry.kind }, entry.text)),
    ),
  );
}

async function main(): Promise<void> {
  const starts = await api.start(recent);
  const start = (name: keyof typeof channels): Start =>
    starts[name] ?? { since: undefined, baseline: 0 };
  ledger.subscribe(() => {
    const snap = ledger.getSnapshot();
    renderInspector(snap);
    renderChaos(snap);
    renderServer(snap);
    renderLog(snap);
  });
  ledger.log('info', 'Page loaded (Vanilla, window.Tidewire)');
  setupMetrics(start('metrics'));
  setupNotifications(start('notifications'));
  setupChat(start('chat'));
  setupJob();
  setupCompletion();
}

main().catch(showBootError);
