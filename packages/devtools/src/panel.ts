/**
 * The panel's DOM: a toggle button and, when open, four tabs (connections, channels, events,
 * timeline), rendered from the model at most every {@link FRAME} ms. Rows of the event log and
 * the timeline are built once and reused, so an expanded payload stays expanded.
 * @internal
 */
import { append, clock, h, pretty, preview } from './dom';
import {
  type Build,
  type ChannelView,
  type ConnectionView,
  type DevtoolsModel,
  describeState,
  duration,
  type EventEntry,
  type TimelineEntry,
} from './model';

/** Rendering happens at most this often, in ms. */
const FRAME = 120;
/** Rows of the event log and the timeline put in the page (the model holds more). */
const SHOWN = 200;
/** History lines per connection. */
const HISTORY_SHOWN = 8;

type Tab = 'connections' | 'channels' | 'events' | 'timeline';
const TABS: ReadonlyArray<[Tab, string]> = [
  ['connections', 'Connections'],
  ['channels', 'Channels'],
  ['events', 'Events'],
  ['timeline', 'Timeline'],
];

const transportName = (t: string | undefined) =>
  t === 'sse' ? 'SSE' : t === 'websocket' ? 'WebSocket' : '–';

export interface PanelOptions {
  open: boolean;
  /** The tab's role when the client is shared across tabs, if it reports one. */
  role(): string | undefined;
  /** Saves the export (a download). */
  save(json: string): void;
}

export interface Panel {
  /** Asks for a render (batched). */
  update(): void;
  dispose(): void;
}

export function createPanel(
  root: ShadowRoot,
  host: HTMLElement,
  model: DevtoolsModel,
  options: PanelOptions,
): Panel {
  let open = options.open;
  let tab: Tab = 'connections';
  let timer: ReturnType<typeof setTimeout> | undefined;
  let ticker: ReturnType<typeof setInterval> | undefined;
  const eventRows = new WeakMap<EventEntry, HTMLElement>();
  const timelineRows = new WeakMap<TimelineEntry, HTMLElement>();

  const toggleDot = h('span', { class: 'dot' });
  const toggle = h(
    'button',
    { class: 'toggle', type: 'button', 'aria-expanded': 'false', title: 'Tidewire devtools' },
    toggleDot,
    'Tidewire',
  );
  const buildTag = h('span', { class: 'tag' });
  const roleTag = h('span', { class: 'tag', hidden: true });
  const close = h(
    'button',
    { class: 'close', type: 'button', 'aria-label': 'Collapse the Tidewire panel' },
    '×',
  );
  const tabButtons = new Map<Tab, HTMLElement>();
  const tabs = h('div', { class: 'tabs', role: 'tablist' });
  for (const [id, label] of TABS) {
    const button = h(
      'button',
      { type: 'button', role: 'tab', 'data-tab': id, 'aria-selected': 'false' },
      label,
    );
    button.addEventListener('click', () => {
      tab = id;
      render();
    });
    tabButtons.set(id, button);
    tabs.append(button);
  }
  const eventCount = h('span', { class: 'count' });
  tabButtons.get('events')?.append(eventCount);
  const body = h('div', { class: 'body', role: 'tabpanel' });
  const panel = h(
    'div',
    { class: 'panel', role: 'dialog', 'aria-label': 'Tidewire devtools', hidden: true },
    h(
      'div',
      { class: 'bar' },
      h('b', null, 'Tidewire'),
      buildTag,
      roleTag,
      h('span', { class: 'spacer' }),
      close,
    ),
    tabs,
    body,
  );

  // The event log's tools stay in place across renders (a select keeps its focus and value).
  const channelSelect = h('select', {
    'aria-label': 'Channel',
    'data-filter': 'channel',
  }) as HTMLSelectElement;
  const typeSelect = h('select', {
    'aria-label': 'Event type',
    'data-filter': 'type',
  }) as HTMLSelectElement;
  const pause = h(
    'button',
    { class: 'btn', type: 'button', 'data-do': 'pause', 'aria-pressed': 'false' },
    'Pause',
  );
  const clear = h('button', { class: 'btn', type: 'button', 'data-do': 'clear' }, 'Clear');
  const exportButton = h(
    'button',
    { class: 'btn', type: 'button', 'data-do': 'export' },
    'Export JSON',
  );
  const tools = h('div', { class: 'tools' }, channelSelect, typeSelect, pause, clear, exportButton);
  const eventStatus = h('div', { class: 'hint', 'data-events-status': '' });
  const eventList = h('ol', { class: 'events' });
  let optionKeys = '';

  // What the user does shows at once, not at the next frame.
  const act = (action: () => void) => () => {
    action();
    render();
  };
  channelSelect.addEventListener(
    'change',
    act(() => model.setFilter({ channel: channelSelect.value || undefined })),
  );
  typeSelect.addEventListener(
    'change',
    act(() => model.setFilter({ type: typeSelect.value || undefined })),
  );
  pause.addEventListener(
    'click',
    act(() => (model.paused ? model.resume() : model.pause())),
  );
  clear.addEventListener(
    'click',
    act(() => model.clear()),
  );
  exportButton.addEventListener('click', () =>
    options.save(JSON.stringify(model.export(options.role()), null, 2)),
  );

  const setOpen = (next: boolean, focus = true) => {
    open = next;
    if (open) host.setAttribute('data-open', '');
    else host.removeAttribute('data-open');
    panel.hidden = !open;
    toggle.hidden = open;
    toggle.setAttribute('aria-expanded', String(open));
    clearInterval(ticker);
    // Times to come ("retry in 3 s") count down while the panel is open.
    ticker = open ? setInterval(() => tab === 'connections' && update(), 1000) : undefined;
    render();
    if (focus) (open ? close : toggle).focus({ preventScroll: true });
  };
  toggle.addEventListener('click', () => setOpen(true));
  close.addEventListener('click', () => setOpen(false));
  panel.addEventListener('keydown', (event) => {
    if ((event as KeyboardEvent).key === 'Escape') setOpen(false);
  });
  root.append(toggle, panel);

  const update = () => {
    timer ??= setTimeout(() => {
      timer = undefined;
      render();
    }, FRAME);
  };

  function render() {
    clearTimeout(timer);
    timer = undefined;
    const conns = model.connections();
    toggleDot.className = `dot ${worst(conns)}`;
    if (!open) return;
    const build = model.build;
    buildTag.textContent =
      build === 'development'
        ? 'development build'
        : build === 'production'
          ? 'production build'
          : 'waiting';
    buildTag.className = `tag ${build === 'development' ? 'ok' : build === 'production' ? 'warn' : ''}`;
    const role = options.role();
    roleTag.hidden = role === undefined;
    roleTag.textContent = role === undefined ? '' : `${role} tab`;
    const counts = model.counts();
    eventCount.textContent = String(counts.held);
    for (const [id, button] of tabButtons) button.setAttribute('aria-selected', String(id === tab));
    body.setAttribute('data-tab', tab);
    if (tab === 'connections') body.replaceChildren(...connections(conns, build));
    else if (tab === 'channels') body.replaceChildren(...channels(model.channels(), build));
    else if (tab === 'events') events(build, counts);
    else body.replaceChildren(...timeline(model.timeline(), build));
  }

  const notice = (build: Build, what: string): HTMLElement | null =>
    build === 'production'
      ? h(
          'div',
          { class: 'notice', 'data-notice': 'production' },
          `${what} need the development build of @tidewire/core, which sends the client's decisions and events (`,
          h('code', null, "client.on('inspect')"),
          '). Bundlers pick it with the ',
          h('code', null, 'development'),
          ' condition (dev servers), Node always; on a script tag, load ',
          h('code', null, 'tidewire.development.js'),
          '. This production build reports connection states and errors only.',
        )
      : build === 'unknown'
        ? h('div', { class: 'hint' }, 'Waiting for the client to connect…')
        : null;

  function connections(conns: ConnectionView[], build: Build): Node[] {
    const now = Date.now();
    const cards = conns.map((c) => {
      const s = c.state;
      const card = h(
        'div',
        { class: 'card', 'data-transport': c.transport, 'data-status': s.status },
        h(
          'div',
          { class: 'head' },
          h('span', { class: `dot ${s.status}` }),
          h('b', null, transportName(c.transport)),
          h('span', { class: toneOf(s.status) }, describeState(s)),
          h(
            'span',
            { class: 'meta' },
            c.since === undefined ? '' : `since ${clock(c.since)}`,
            c.opens ? ` · opened ${c.opens}×` : '',
          ),
        ),
      );
      if (s.status === 'waiting' && c.since !== undefined) {
        const left = c.since + s.delay - now;
        if (left > 0)
          append(card, [h('div', { class: 'alert warn' }, `Next attempt in ${duration(left)}`)]);
      }
      if (c.avoided) {
        const left = c.avoided.until - now;
        append(card, [
          h(
            'div',
            { class: 'alert', 'data-avoided': c.avoided.reason },
            `Avoided by 'auto' since ${clock(c.avoided.at)} (${c.avoided.reason}): its channels use ${transportName(c.transport === 'sse' ? 'websocket' : 'sse')} until ${clock(c.avoided.until)}`,
            left > 0 ? `, in ${duration(left)}` : ', now',
          ),
        ]);
      }
      const history = c.history.slice(-HISTORY_SHOWN).reverse();
      if (history.length)
        append(card, [h('ol', { class: 'list' }, ...history.map((e) => line(e)))]);
      return card;
    });
    const asks = model.tokens().slice(-10).reverse();
    const tokens = h(
      'div',
      { class: 'card', 'data-section': 'tokens' },
      h(
        'div',
        { class: 'head' },
        h('b', null, 'Token asks'),
        h('span', { class: 'meta' }, 'reason and time; never the token'),
      ),
      asks.length
        ? h(
            'ol',
            { class: 'list' },
            ...asks.map((t) =>
              h(
                'li',
                { 'data-reason': t.reason },
                h('time', null, clock(t.at)),
                h('span', null, `${t.reason}${t.attempt ? `, attempt ${t.attempt + 1}` : ''}`),
              ),
            ),
          )
        : h(
            'div',
            { class: 'hint' },
            build === 'production' ? 'Needs the development build.' : 'None yet.',
          ),
    );
    return [notice(build, 'Fallback decisions and token asks'), ...cards, tokens].filter(isNode);
  }

  function channels(list: ChannelView[], build: Build): Node[] {
    const cards = list.map((c) => {
      const stat = (label: string, value: string | number, cls?: string) =>
        h('div', null, h('dt', null, label), h('dd', { class: cls }, value));
      const card = h(
        'div',
        {
          class: 'card',
          'data-channel': c.channel,
          'data-status': c.status,
          'data-transport': c.transport ?? '',
        },
        h(
          'div',
          { class: 'head' },
          h('span', { class: `dot ${c.status}` }),
          h('b', null, c.channel),
          c.transport
            ? h('span', { class: `tag ${c.transport}` }, transportName(c.transport))
            : null,
          h('span', null, c.status),
          c.handles === undefined
            ? null
            : h('span', { class: 'meta' }, `${c.handles} handle${c.handles === 1 ? '' : 's'}`),
        ),
        h(
          'dl',
          { class: 'stats' },
          stat('position', c.position ?? '–', 'mono'),
          stat('received', c.received),
          stat('duplicates', c.duplicates),
          stat('gaps', c.gaps, c.gaps ? 'bad' : undefined),
          stat('reconnects', c.reconnects),
          stat('moves', c.moves),
        ),
      );
      if (c.lastMove)
        append(card, [
          h(
            'div',
            { class: 'hint', 'data-move': '' },
            `Moved ${transportName(c.lastMove.from)} → ${transportName(c.lastMove.to)} at ${clock(c.lastMove.at)} (${c.lastMove.reason})`,
          ),
        ]);
      if (c.lastGap)
        append(card, [
          h(
            'div',
            { class: 'alert', 'data-gap': c.lastGap.reason },
            `Gap at ${clock(c.lastGap.at)}: ${c.lastGap.reason}. Refetch its state.`,
          ),
        ]);
      if (c.error) append(card, [h('div', { class: 'alert warn' }, `Server error: ${c.error}`)]);
      return card;
    });
    return [
      notice(build, 'Channels'),
      ...(cards.length || build !== 'development'
        ? cards
        : [h('div', { class: 'hint' }, 'No channel yet.')]),
    ].filter(isNode);
  }

  function events(build: Build, counts: { held: number; total: number; missed: number }) {
    const { channels: names, types } = model.eventKeys();
    const { filter } = model;
    const keys = `${names.join('\n')}\n\n${types.join('\n')}\n\n${filter.channel}\n${filter.type}`;
    if (keys !== optionKeys) {
      optionKeys = keys;
      fill(channelSelect, 'All channels', names, filter.channel);
      fill(typeSelect, 'All types', types, filter.type);
    }
    pause.textContent = model.paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', String(model.paused));
    const shown = model.events();
    const rows = shown.slice(-SHOWN).reverse();
    eventStatus.textContent = [
      `${shown.length} shown of ${counts.held} held (${counts.total} received, the newest ${model.capacity} kept)`,
      shown.length > SHOWN ? `; the newest ${SHOWN} listed, export for all` : '',
      model.paused ? `. Paused: ${counts.missed} new since` : '',
    ].join('');
    eventList.replaceChildren(...rows.map(eventRow));
    body.replaceChildren(
      ...[
        notice(build, 'The event log and the decision timeline'),
        tools,
        eventStatus,
        eventList,
      ].filter(isNode),
    );
  }

  function eventRow(e: EventEntry): HTMLElement {
    let row = eventRows.get(e);
    if (row) return row;
    const details = h(
      'details',
      {
        class: e.dropped ? 'ev dropped' : 'ev',
        'data-seq': e.seq,
        'data-channel': e.channel,
        'data-type': e.type,
        'data-id': e.id,
      },
      h(
        'summary',
        null,
        h('time', null, clock(e.at, true)),
        h(
          'span',
          { class: 'what' },
          h('b', null, e.channel),
          ` · ${e.type}`,
          e.dropped ? ` · dropped (${e.dropped})` : '',
        ),
        h(
          'span',
          { class: 'lat', title: 'arrival minus the time stamp the server put in the data' },
          e.latency === undefined ? '' : `${Math.round(e.latency)} ms`,
        ),
        h('span', { class: 'preview' }, preview(e.data)),
      ),
    );
    // The full payload is built when first opened.
    details.addEventListener('toggle', () => {
      if (!(details as HTMLDetailsElement).open || details.querySelector('pre')) return;
      append(details, [
        h(
          'div',
          { class: 'ids' },
          `id ${e.id} · ${transportName(e.transport)} · ${clock(e.at, true)}`,
        ),
        h('pre', null, pretty(e.data)),
      ]);
    });
    row = h('li', null, details);
    eventRows.set(e, row);
    return row;
  }

  function timeline(list: TimelineEntry[], build: Build): Node[] {
    const rows = list
      .slice(-SHOWN)
      .reverse()
      .map((e) => {
        let row = timelineRows.get(e);
        if (!row) {
          row = line(e);
          timelineRows.set(e, row);
        }
        return row;
      });
    return [
      notice(build, 'Placements, fallback decisions, joins, gaps and token asks'),
      rows.length
        ? h('ol', { class: 'list', 'data-timeline': '' }, ...rows)
        : h('div', { class: 'hint' }, 'Nothing yet.'),
    ].filter(isNode);
  }

  function line(e: TimelineEntry): HTMLElement {
    return h(
      'li',
      { 'data-kind': e.kind, 'data-transport': e.transport, 'data-reason': e.reason },
      h('time', null, clock(e.at)),
      h('span', { class: e.tone }, e.text, e.until === undefined ? '' : ` until ${clock(e.until)}`),
    );
  }

  setOpen(open, false);
  return {
    update,
    dispose() {
      clearTimeout(timer);
      clearInterval(ticker);
      timer = undefined;
    },
  };
}

const isNode = <T>(n: T | null): n is T => n !== null;

const toneOf = (status: string) =>
  status === 'open' ? 'ok' : status === 'failed' ? 'bad' : status === 'idle' ? '' : 'warn';

/** The state the toggle's dot shows: the worse of the two connections. */
function worst(conns: ConnectionView[]): string {
  const order = ['failed', 'waiting', 'offline', 'connecting', 'open', 'idle'];
  return (
    conns.map((c) => c.state.status).sort((a, b) => order.indexOf(a) - order.indexOf(b))[0] ??
    'idle'
  );
}

function fill(
  select: HTMLSelectElement,
  all: string,
  values: string[],
  current: string | undefined,
) {
  // A filtered value stays a choice even when its events are gone.
  const list = current !== undefined && !values.includes(current) ? [current, ...values] : values;
  select.replaceChildren(
    h('option', { value: '' }, all),
    ...list.map((v) => h('option', { value: v, selected: v === current }, v)),
  );
  select.value = current ?? '';
}
