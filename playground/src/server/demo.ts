/**
 * The demo publishers: what a real app would publish, on timers. Every publish
 * goes through `publish`, which targets whichever Tidewire server is current and
 * skips (without counting) while a restart is in progress.
 */

/** Publishes on the current server; resolves to the id, or undefined when it was skipped. */
export type Publish = (
  channel: string,
  data: unknown,
  type?: string,
) => Promise<string | undefined>;

/** Timer periods of the demo publishers, in milliseconds. */
export interface DemoIntervals {
  /** A metrics sample. @default 500 */
  metrics?: number;
  /** A notification. @default 2500 */
  notifications?: number;
  /** A message from the chat bot. @default 6000 */
  chat?: number;
  /** A job's progress step. @default 120 */
  jobStep?: number;
  /** A streamed token of a completion. @default 35 */
  token?: number;
}

/** The demo publishers and on-demand work (jobs, completions). */
export interface Demo {
  /**
   * Publishes an event on every persistent channel, so that each has a position a page
   * can subscribe from (at start, and after a restart that lost the history).
   */
  seed(note?: string): void;
  pause(): void;
  resume(): void;
  readonly paused: boolean;
  /** Starts a job; its progress is published on the returned channel until `complete`. */
  startJob(): Promise<{ channel: string; since: string }>;
  /** Starts streaming a completion for `prompt`, token by token, until `done`. */
  startCompletion(prompt: string): Promise<{ channel: string; since: string }>;
  stop(): void;
}

const notifications: Array<{ level: 'info' | 'success' | 'warning'; title: string; body: string }> =
  [
    { level: 'success', title: 'Deploy finished', body: 'api-gateway v2.14.1 is live in eu-west' },
    { level: 'info', title: 'New comment', body: 'Maya replied to “Q3 roadmap”' },
    { level: 'warning', title: 'Disk 82% full', body: 'db-replica-2 /var/lib/postgres' },
    { level: 'info', title: 'Invoice paid', body: 'Acme Corp paid INV-2291 (€4,200)' },
    { level: 'success', title: 'Backup complete', body: 'Nightly snapshot, 41.2 GB in 6 min' },
    { level: 'info', title: 'New sign-up', body: 'team “Northwind” started a trial' },
    { level: 'warning', title: 'Slow query', body: 'orders.search p95 at 870 ms' },
    { level: 'success', title: 'Tests passed', body: 'main #4812, 1,204 tests in 3m 12s' },
  ];

const botLines = [
  'Morning! The nightly backup finished early today.',
  'Anyone else seeing the p95 bump on orders.search?',
  'Deploying api-gateway to eu-west now.',
  'Reminder: retro at 15:00.',
  'Try the chaos buttons: nothing should be lost.',
  'Coffee machine on floor 3 is fixed ☕',
];

const jobSteps = ['Fetching data', 'Transforming rows', 'Building index', 'Uploading', 'Verifying'];

const answers: Array<{ match: RegExp; text: string }> = [
  {
    match: /sse|server-sent/i,
    text: 'Server-Sent Events are a one-way stream over plain HTTP. The browser keeps one response open and the server writes events into it. They pass through most proxies, reconnect on their own, and resume with Last-Event-ID, which makes them a good default for listen-only data such as dashboards and feeds.',
  },
  {
    match: /websocket|duplex/i,
    text: 'A WebSocket is one full-duplex connection: both sides can send at any time with little overhead per message. Use it when the page talks back often, as in chat or collaborative editing, and keep SSE plus HTTP POST as the fallback for networks that block the upgrade.',
  },
];
const defaultAnswer =
  'Tidewire picks a transport per channel: listen-only channels go over Server-Sent Events, channels you publish on go over WebSocket. Every channel remembers the id of the last event it received, so after a dropped connection, an expired token or a server restart it resumes exactly where it stopped: no event is lost and none arrives twice. When the server cannot replay, the client says so with a gap event.';

/** Splits text into small, token-like pieces (words and the spaces before them). */
export function tokenize(text: string): string[] {
  return text.match(/\s*\S{1,6}/g) ?? [];
}

/** Creates the demo over `publish`. Nothing runs until `seed()` and `resume()`. */
export function createDemo(publish: Publish, intervals: DemoIntervals = {}): Demo {
  const {
    metrics: metricsMs = 500,
    notifications: notificationsMs = 2500,
    chat: chatMs = 6000,
    jobStep: jobStepMs = 120,
    token: tokenMs = 35,
  } = intervals;
  let paused = true;
  let jobCount = 0;
  let completionCount = 0;
  let noteIndex = 0;
  let botIndex = 0;
  const work = new Set<ReturnType<typeof setInterval>>();
  const sample = { cpu: 38, memory: 61, rps: 1240, p95: 182 };

  const walk = (value: number, step: number, min: number, max: number): number =>
    Math.min(max, Math.max(min, value + (Math.random() - 0.5) * step));

  const publishMetrics = (): void => {
    sample.cpu = walk(sample.cpu, 9, 4, 97);
    sample.memory = walk(sample.memory, 3, 30, 92);
    sample.rps = walk(sample.rps, 160, 300, 2600);
    sample.p95 = walk(sample.p95, 30, 60, 900);
    void publish(
      'metrics',
      {
        cpu: round(sample.cpu, 1),
        memory: round(sample.memory, 1),
        rps: Math.round(sample.rps),
        p95: Math.round(sample.p95),
        at: Date.now(),
      },
      'sample',
    );
  };
  const publishNotification = async (): Promise<void> => {
    const note = notifications[noteIndex % notifications.length]!;
    const id = await publish('notifications', { ...note, at: Date.now() }, 'notification');
    if (id !== undefined) noteIndex += 1;
  };
  const publishBotLine = async (): Promise<void> => {
    const text = botLines[botIndex % botLines.length]!;
    const id = await publish('chat', { user: 'Ada (bot)', text, at: Date.now() }, 'message');
    if (id !== undefined) botIndex += 1;
  };

  const timers = [
    { ms: metricsMs, run: publishMetrics },
    { ms: notificationsMs, run: publishNotification },
    { ms: chatMs, run: publishBotLine },
  ].map(({ ms, run }) =>
    setInterval(() => {
      if (!paused) void run();
    }, ms),
  );

  /**
   * Publishes `steps` one per `ms` (retrying a step a restart skipped), then stops. A step
   * starts only once the one before it was accepted.
   */
  const runSteps = (steps: Array<() => Promise<string | undefined>>, ms: number): void => {
    let next = 0;
    let publishing = false;
    const timer = setInterval(() => {
      const step = steps[next];
      if (paused || publishing || step === undefined) return;
      publishing = true;
      void step().then((id) => {
        publishing = false;
        if (id !== undefined) next += 1;
        if (next >= steps.length) {
          clearInterval(timer);
          work.delete(timer);
        }
      });
    }, ms);
    work.add(timer);
  };

  /** Publishes the first event of a new channel: its id is where the page subscribes from. */
  const open = async (channel: string, data: unknown, type: string): Promise<string> => {
    const id = await publish(channel, data, type);
    if (id === undefined) throw new Error('the server is not accepting events');
    return id;
  };

  return {
    seed(note = 'Welcome to the playground chat 👋') {
      publishMetrics();
      void publishNotification();
      void publish('chat', { user: 'Ada (bot)', text: note, at: Date.now() });
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
    },
    get paused() {
      return paused;
    },
    async startJob() {
      jobCount += 1;
      const channel = `jobs/${jobCount}`;
      const started = Date.now();
      const since = await open(channel, { name: `Export #${jobCount}`, at: started }, 'queued');
      const steps: Array<() => Promise<string | undefined>> = [];
      for (let pct = 5; pct <= 100; pct += 5) {
        const step = jobSteps[Math.min(jobSteps.length - 1, Math.floor((pct - 1) / 20))]!;
        steps.push(() => publish(channel, { pct, step }, 'progress'));
      }
      steps.push(() => publish(channel, { durationMs: Date.now() - started }, 'complete'));
      runSteps(steps, jobStepMs);
      return { channel, since };
    },
    async startCompletion(prompt) {
      completionCount += 1;
      const channel = `completions/${completionCount}`;
      const text = answers.find((a) => a.match.test(prompt))?.text ?? defaultAnswer;
      const since = await open(channel, { prompt: prompt.slice(0, 200) }, 'start');
      const pieces = tokenize(text);
      const steps: Array<() => Promise<string | undefined>> = pieces.map(
        (piece) => () => publish(channel, { text: piece }, 'token'),
      );
      steps.push(() => publish(channel, { tokens: pieces.length }, 'done'));
      runSteps(steps, tokenMs);
      return { channel, since };
    },
    stop() {
      for (const timer of [...timers, ...work]) clearInterval(timer);
      work.clear();
    },
  };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
