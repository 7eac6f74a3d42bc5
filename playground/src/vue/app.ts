// biome-ignore-all lint/correctness/useHookAtTopLevel: Vue composables run in setup(), which this React rule does not recognise as a component.
/**
 * The Vue page's components, written with render functions: the page runs under a
 * CSP without `unsafe-eval`, so there is no runtime template compiler.
 */
import type { ChannelEvent } from '@tidewire/core';
import { usePublish, useSubscription } from '@tidewire/vue';
import {
  defineComponent,
  Fragment,
  h,
  type InjectionKey,
  inject,
  nextTick,
  onScopeDispose,
  type PropType,
  ref,
  type ShallowRef,
  shallowRef,
  type VNode,
  watch,
} from 'vue';
import { api, guestName, type Start, type Started } from '../shared/api';
import type { Ledger, LedgerSnapshot, Row } from '../shared/ledger';
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

export const ledgerKey: InjectionKey<Ledger> = Symbol('ledger');
const me = guestName();
const jobSteps = ['Fetching data', 'Transforming rows', 'Building index', 'Uploading', 'Verifying'];

function useLedger(): { ledger: Ledger; snapshot: ShallowRef<LedgerSnapshot> } {
  const ledger = inject(ledgerKey);
  if (ledger === undefined) throw new Error('no ledger provided');
  const snapshot = shallowRef(ledger.getSnapshot());
  onScopeDispose(ledger.subscribe(() => (snapshot.value = ledger.getSnapshot())));
  return { ledger, snapshot };
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
    enabled?: () => boolean;
    keep?: number;
    onEvent?: (event: ChannelEvent<T>) => void;
  },
) {
  const { since, onEvent, ...rest } = options;
  const sub = useSubscription<T>(channel, {
    ...rest,
    ...(since === undefined ? {} : { since }),
    onEvent: (event) => {
      ledger.event(event);
      onEvent?.(event);
    },
  });
  watch(
    sub.state,
    (state) => {
      if (state.status !== 'idle') ledger.sdk(channel, state);
    },
    { immediate: true },
  );
  return sub;
}

type BadgeState = Pick<Row, 'channel' | 'status' | 'transport'>;

const badge = (state: BadgeState | undefined): VNode | null =>
  state === undefined
    ? null
    : h('span', { class: 'chan' }, [
        h('span', { class: `dot ${state.status}` }),
        `${state.channel} · ${transportLabel(state.transport)} · ${state.status}`,
      ]);

function card(
  props: {
    id: string;
    title: string;
    sub?: string;
    wide?: boolean;
    badge?: VNode | null;
    foot?: VNode;
  },
  body: Array<VNode | null>,
): VNode {
  return h('article', { class: props.wide ? 'card wide' : 'card', id: props.id }, [
    h('div', { class: 'card-head' }, [
      h('h2', props.title),
      props.sub ? h('span', { class: 'sub' }, props.sub) : null,
      h('span', { class: 'spacer' }),
      props.badge ?? null,
    ]),
    h('div', { class: 'card-body' }, body),
    props.foot ? h('div', { class: 'card-foot' }, [props.foot]) : null,
  ]);
}

const startProp = { type: Object as PropType<Start>, required: true } as const;

const Metrics = defineComponent({
  props: { start: startProp },
  setup(props) {
    const { ledger } = useLedger();
    const history: Record<string, number[]> = {};
    const { state, lastEvent } = useTracked<MetricSample>(ledger, 'metrics', {
      since: props.start.since,
      onEvent: ({ data }) => {
        for (const { key } of metricTiles) {
          const values = history[key] ?? [];
          history[key] = values;
          values.push(data[key]);
          if (values.length > SPARK_POINTS) values.shift();
        }
      },
    });
    return () => {
      const sample = lastEvent.value?.type === 'sample' ? lastEvent.value.data : undefined;
      return card(
        {
          id: 'metrics',
          title: 'Live metrics',
          sub: 'listen-only',
          wide: true,
          badge: badge(state.value),
        },
        [
          h(
            'div',
            { class: 'tiles' },
            metricTiles.map((tile) =>
              h('div', { class: 'tile', 'data-metric': tile.key, key: tile.key }, [
                h('div', { class: 'label' }, tile.label),
                h('div', { class: 'value' }, [
                  h('span', formatMetric(sample?.[tile.key], tile.unit)),
                  h('span', { class: 'unit' }, tile.unit),
                ]),
                h(
                  'svg',
                  { viewBox: '0 0 100 32', preserveAspectRatio: 'none', 'aria-hidden': 'true' },
                  [h('polyline', { points: sparkline(history[tile.key] ?? [], tile.max) })],
                ),
              ]),
            ),
          ),
        ],
      );
    };
  },
});

const Notifications = defineComponent({
  props: { start: startProp },
  setup(props) {
    const { ledger } = useLedger();
    const { state, events } = useTracked<Notification>(ledger, 'notifications', {
      since: props.start.since,
      keep: 5,
    });
    return () => {
      const notes = [...events.value].reverse();
      return card({ id: 'notifications', title: 'Notifications', badge: badge(state.value) }, [
        h('ul', { class: 'feed' }, [
          notes.length === 0
            ? h('li', { class: 'empty' }, 'Waiting for the next notification…')
            : null,
          ...notes.map(({ id, data }) =>
            h('li', { class: `note ${data.level}`, key: id }, [
              h('span', { class: 'tag' }),
              h('span', { class: 'title' }, data.title),
              h('time', { class: 'time' }, clock(data.at)),
              h('span', { class: 'body' }, data.body),
            ]),
          ),
        ]),
      ]);
    };
  },
});

const Chat = defineComponent({
  props: { start: startProp },
  setup(props) {
    const { ledger } = useLedger();
    const { state, events } = useTracked<ChatMessage>(ledger, 'chat', {
      since: props.start.since,
      duplex: true,
      keep: 50,
    });
    const publish = usePublish('chat');
    const text = ref('');
    const status = ref({ text: '', bad: false });
    const list = ref<HTMLElement>();
    watch(
      () => events.value.length,
      async () => {
        await nextTick();
        if (list.value) list.value.scrollTop = list.value.scrollHeight;
      },
    );
    const send = (event: Event) => {
      event.preventDefault();
      const value = text.value.trim();
      if (value === '') return;
      text.value = '';
      status.value = { text: 'Sending…', bad: false };
      publish({ user: me, text: value, at: Date.now() }).then(
        ({ id }) => {
          status.value = { text: `Sent as ${shortId(id)}`, bad: false };
        },
        (error: { code?: string }) => {
          status.value = { text: `Not sent: ${error.code ?? String(error)}`, bad: true };
        },
      );
    };
    return () =>
      card({ id: 'chat', title: 'Chat', sub: 'duplex', badge: badge(state.value) }, [
        h(
          'ul',
          { class: 'messages', ref: list },
          events.value.map(({ id, data }) =>
            h('li', { class: data.user === me ? 'msg mine' : 'msg', key: id }, [
              h('span', { class: 'who' }, data.user === me ? 'You' : data.user),
              data.text,
            ]),
          ),
        ),
        h('form', { class: 'chat-form', onSubmit: send }, [
          h('input', {
            class: 'input',
            name: 'text',
            autocomplete: 'off',
            maxlength: 500,
            placeholder: 'Say something…',
            value: text.value,
            onInput: (e: Event) => {
              text.value = (e.target as HTMLInputElement).value;
            },
          }),
          h('button', { class: 'btn primary', type: 'submit' }, 'Send'),
        ]),
        h('div', { class: status.value.bad ? 'note-line bad' : 'note-line' }, status.value.text),
      ]);
  },
});

const JobRun = defineComponent({
  props: { job: { type: Object as PropType<Started>, required: true } },
  emits: ['done'],
  setup(props, { emit }) {
    const { ledger } = useLedger();
    const pct = ref(0);
    const step = ref('');
    const doneIn = ref<number>();
    useTracked<{ pct?: number; step?: string; durationMs?: number }>(ledger, props.job.channel, {
      since: props.job.since,
      enabled: () => doneIn.value === undefined,
      onEvent: ({ type, data }) => {
        if (type === 'progress') {
          pct.value = data.pct ?? pct.value;
          step.value = data.step ?? step.value;
        } else if (type === 'complete') {
          pct.value = 100;
          doneIn.value = data.durationMs ?? 0;
          ledger.closed(props.job.channel);
          emit('done');
        }
      },
    });
    return () => {
      const done = doneIn.value !== undefined;
      const current = jobSteps.indexOf(step.value);
      return h(
        'div',
        {
          class: done ? 'job done' : 'job',
          'data-job': props.job.channel,
          'data-complete': done ? 'true' : undefined,
        },
        [
          h('div', { class: 'job-line' }, [
            h('b', props.job.channel),
            h(
              'b',
              done ? `Complete in ${((doneIn.value ?? 0) / 1000).toFixed(1)} s` : `${pct.value}%`,
            ),
          ]),
          h('progress', { max: 100, value: pct.value }),
          h(
            'ul',
            { class: 'steps' },
            jobSteps.map((s, i) =>
              h(
                'li',
                { key: s, class: done || i < current ? 'done' : i === current ? 'doing' : '' },
                s,
              ),
            ),
          ),
        ],
      );
    };
  },
});

const Job = defineComponent({
  setup() {
    const { ledger, snapshot } = useLedger();
    const job = ref<Started>();
    const running = ref(false);
    const start = async () => {
      running.value = true;
      const started = await api.startJob();
      ledger.track(started.channel, 'Job', 1, 'job');
      job.value = started;
    };
    return () => {
      const row = snapshot.value.rows.find((r) => r.channel === job.value?.channel);
      return card(
        {
          id: 'job',
          title: 'Job progress',
          sub: 'POST, then stream until complete',
          badge: badge(row),
          foot: h(
            'button',
            {
              class: 'btn primary',
              type: 'button',
              id: 'job-start',
              disabled: running.value,
              onClick: start,
            },
            'Start export job',
          ),
        },
        [
          job.value
            ? h(JobRun, {
                key: job.value.channel,
                job: job.value,
                onDone: () => {
                  running.value = false;
                },
              })
            : h(
                'div',
                { class: 'empty' },
                'No job yet. Start one: the server reports progress on its own channel.',
              ),
        ],
      );
    };
  },
});

const CompletionRun = defineComponent({
  props: { run: { type: Object as PropType<Started & { prompt: string }>, required: true } },
  emits: ['done'],
  setup(props, { emit }) {
    const { ledger } = useLedger();
    const text = ref('');
    const done = ref(false);
    useTracked<{ text?: string }>(ledger, props.run.channel, {
      since: props.run.since,
      enabled: () => !done.value,
      onEvent: ({ type, data }) => {
        if (type === 'token') text.value += data.text ?? '';
        else if (type === 'done') {
          done.value = true;
          ledger.closed(props.run.channel);
          emit('done');
        }
      },
    });
    return () =>
      h(
        'div',
        {
          class: done.value ? 'answer' : 'answer streaming',
          id: 'answer',
          'data-done': done.value ? 'true' : undefined,
        },
        [h('span', { class: 'q' }, props.run.prompt), h('span', { class: 'text' }, text.value)],
      );
  },
});

const Completion = defineComponent({
  setup() {
    const { ledger, snapshot } = useLedger();
    const run = ref<Started & { prompt: string }>();
    const busy = ref(false);
    const ask = async (prompt: string) => {
      busy.value = true;
      const started = await api.startCompletion(prompt);
      ledger.track(started.channel, 'Completion', 1, 'completion');
      run.value = { ...started, prompt };
    };
    return () => {
      const row = snapshot.value.rows.find((r) => r.channel === run.value?.channel);
      return card(
        { id: 'completion', title: 'Token streaming', sub: 'LLM-style', badge: badge(row) },
        [
          run.value
            ? h(CompletionRun, {
                key: run.value.channel,
                run: run.value,
                onDone: () => {
                  busy.value = false;
                },
              })
            : h('div', { class: 'answer', id: 'answer' }, [
                h(
                  'span',
                  { class: 'empty' },
                  'Pick a question: the answer streams in token by token.',
                ),
              ]),
          h(
            'div',
            { class: 'prompts' },
            completionPrompts.map((prompt) =>
              h(
                'button',
                {
                  class: 'btn',
                  type: 'button',
                  key: prompt,
                  'data-prompt': prompt,
                  disabled: busy.value,
                  onClick: () => ask(prompt),
                },
                prompt,
              ),
            ),
          ),
        ],
      );
    };
  },
});

const Chaos = defineComponent({
  setup() {
    const { ledger, snapshot } = useLedger();
    const busy = ref<string>();
    return () =>
      h('section', { class: 'card chaos' }, [
        h('div', { class: 'card-head' }, [
          h('h2', 'Chaos'),
          h('span', { class: 'sub' }, 'drives the real server'),
        ]),
        h('div', { class: 'card-body' }, [
          h(
            'div',
            { class: 'chaos-grid' },
            chaosControls(snapshot.value.server).map((c) =>
              h(
                'button',
                {
                  key: c.name,
                  class: `btn chaos-btn ${c.tone}`,
                  type: 'button',
                  title: c.description,
                  'data-action': c.name,
                  disabled: busy.value === c.name,
                  onClick: async () => {
                    busy.value = c.name;
                    await ledger.chaos(c.name);
                    busy.value = undefined;
                  },
                },
                c.label,
              ),
            ),
          ),
          ...chaosNotes(snapshot.value.server).map((note) =>
            h('p', { key: note, class: 'chaos-note' }, note),
          ),
        ]),
      ]);
  },
});

const Inspector = defineComponent({
  setup() {
    const { snapshot } = useLedger();
    return () =>
      h('section', { class: 'card inspector' }, [
        h('div', { class: 'card-head' }, [h('h2', 'Connection inspector')]),
        h('div', { class: 'card-body', id: 'inspector' }, [
          h('div', { class: 'table-wrap' }, [
            h('table', [
              h('thead', [
                h(
                  'tr',
                  inspectorHeads.map((t, i) =>
                    h('th', { class: i >= firstNumeric ? 'num' : undefined }, t),
                  ),
                ),
              ]),
              h(
                'tbody',
                snapshot.value.rows.map((row) => {
                  const cells = countCells(row);
                  return h('tr', { key: row.channel, ...rowData(row) }, [
                    h('td', [
                      h('div', { class: 'name' }, [
                        h('span', { class: `dot ${row.status}` }),
                        h('div', [
                          row.label,
                          h(
                            'small',
                            {
                              title: `${row.channel}: last event ${row.lastEventId ?? 'none yet'}`,
                            },
                            shortId(row.lastEventId),
                          ),
                        ]),
                      ]),
                    ]),
                    h('td', { class: 'state' }, [
                      h(
                        'span',
                        { class: `tp ${row.transport ?? ''}` },
                        transportTag(row.transport),
                      ),
                      ` ${row.status}`,
                      row.error ? h('span', { class: 'err' }, row.error) : null,
                      row.moved ? h('span', { class: 'moved' }, row.moved) : null,
                    ]),
                    h('td', { class: 'num', 'data-label': numericLabel(0) }, cells.counts),
                    h(
                      'td',
                      { class: `num count ${cells.tone}`, 'data-label': numericLabel(1) },
                      cells.lost,
                    ),
                    h(
                      'td',
                      { class: 'num', 'data-label': numericLabel(2) },
                      String(row.reconnects),
                    ),
                    h(
                      'td',
                      { class: row.gaps > 0 ? 'num alarm' : 'num', 'data-label': numericLabel(3) },
                      [String(row.gaps), row.gapReason ? h('small', row.gapReason) : null],
                    ),
                    h(
                      'td',
                      {
                        class: row.duplicates > 0 ? 'num alarm' : 'num',
                        title: `${row.dropped} dropped by the SDK`,
                        'data-label': numericLabel(4),
                      },
                      String(row.duplicates),
                    ),
                  ]);
                }),
              ),
            ]),
          ]),
          h('div', { class: 'legend' }, legend),
        ]),
      ]);
  },
});

const Timeline = defineComponent({
  setup() {
    const { snapshot } = useLedger();
    return () =>
      h('section', { class: 'card' }, [
        h('div', { class: 'card-head' }, [h('h2', 'Timeline')]),
        h('div', { class: 'card-body' }, [
          h(
            'ul',
            { class: 'log', id: 'log' },
            snapshot.value.log.map((entry) =>
              h('li', { key: entry.id }, [
                h('time', clock(entry.at)),
                h('span', { class: entry.kind }, entry.text),
              ]),
            ),
          ),
        ]),
      ]);
  },
});

const pill = (label: string, value: string | number, extra?: { title?: string; mono?: boolean }) =>
  h('span', { class: 'pill', title: extra?.title }, [
    `${label} `,
    h('b', { class: extra?.mono ? 'mono' : undefined }, String(value)),
  ]);

const TopBar = defineComponent({
  setup() {
    const { snapshot } = useLedger();
    return () => {
      const server = snapshot.value.server;
      return h('header', { class: 'topbar' }, [
        h('div', { class: 'brand' }, [
          h('img', { class: 'logo', src: '/assets/logo.svg', alt: '' }),
          'Tidewire ',
          h('small', 'playground'),
        ]),
        h('nav', { class: 'tabs', 'aria-label': 'Pages' }, [
          h('a', { href: '/vanilla' }, 'Vanilla'),
          h('a', { href: '/react' }, 'React'),
          h('a', { href: '/vue', 'aria-current': 'page' }, 'Vue'),
        ]),
        h(
          'div',
          { class: 'server', id: 'server' },
          server === undefined
            ? []
            : [
                pill('epoch', server.epoch, { title: 'history epoch', mono: true }),
                pill('SSE', server.connections.sse),
                pill('WebSocket', server.connections.websocket),
                pill('restarts', server.restarts),
                pill('tokens', server.tokensIssued),
                server.webSocketEnabled
                  ? null
                  : h('span', { class: 'pill warn' }, [h('b', 'WebSocket blocked')]),
                server.paused
                  ? h('span', { class: 'pill warn' }, [h('b', 'publishers paused')])
                  : null,
              ],
        ),
      ]);
    };
  },
});

export const App = defineComponent({
  props: {
    starts: {
      type: Object as PropType<Record<'metrics' | 'notifications' | 'chat', Start>>,
      required: true,
    },
  },
  setup(props) {
    return () =>
      h(Fragment, [
        h(TopBar),
        h('main', { class: 'layout' }, [
          h('section', { class: 'cases' }, [
            h(Metrics, { start: props.starts.metrics }),
            h(Notifications, { start: props.starts.notifications }),
            h(Chat, { start: props.starts.chat }),
            h(Job),
            h(Completion),
          ]),
          h('aside', { class: 'side' }, [h(Chaos), h(Inspector), h(Timeline)]),
        ]),
      ]);
  },
});
