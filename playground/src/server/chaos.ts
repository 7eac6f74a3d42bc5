/**
 * The chaos controls: the built-in ones (which act on the playground's own Tidewire server and
 * its demo publishers), those a host adds, which of them the pages show, and the log of those
 * that ran.
 */

/** The built-in chaos controls, by the name `POST /api/chaos/<name>` takes. */
export type BuiltInChaosName =
  | 'drop'
  | 'block-websocket'
  | 'allow-websocket'
  | 'expire-tokens'
  | 'stall'
  | 'restart-kept'
  | 'restart-lost'
  | 'pause'
  | 'resume';

/** How a page marks a control: one that breaks connections, one that degrades them, or neither. */
export type ChaosTone = 'danger' | 'warn' | 'neutral';

/** What a chaos control answers when it ran. */
export interface ChaosResult {
  /** What was done, as the pages' timelines show it. */
  action: string;
  /** Connections affected, when that is meaningful. */
  affected?: number;
}

/** A chaos control a host adds to the playground, such as killing a node of a cluster. */
export interface ChaosControl {
  /** The name in `POST /api/chaos/<name>`: lowercase letters, digits and single hyphens. */
  name: string;
  /** The button's text. */
  label: string;
  /** What the control does, shown as the button's tooltip. */
  description: string;
  /** @default 'danger' */
  tone?: ChaosTone;
  /** Does it. A rejection answers 500 with its message, and nothing is logged. */
  run(): Promise<ChaosResult>;
}

/** The chaos controls a host gives `startPlayground` (its `chaos` option). */
export interface PlaygroundChaosOptions {
  /** Controls of the host's own, shown before the built-in ones. @default none */
  controls?: readonly ChaosControl[];
  /**
   * Built-in controls that do not apply where the playground runs, each with the reason: a clause
   * that reads after "left out, as" (such as "the pages connect to other nodes"). The pages leave
   * them out and say why; `POST /api/chaos/<name>` answers 409 with the reason.
   * @default none: every one applies
   */
  unavailable?: Partial<Record<BuiltInChaosName, string>>;
}

/** A control as `/api/stats` lists it for the pages. */
export interface ListedChaosControl {
  name: string;
  label: string;
  description: string;
  tone: ChaosTone;
}

/** A built-in control that does not apply, as `/api/stats` lists it. */
export interface UnavailableChaosControl {
  name: BuiltInChaosName;
  label: string;
  reason: string;
}

/** A chaos control that ran, as `/api/stats` lists it for every open page. */
export interface ChaosEntry extends ChaosResult {
  /** Increasing: a page shows the entries newer than the newest it has seen. */
  id: number;
  at: number;
}

/** The state that decides which of two opposite built-in controls is shown. */
export interface ChaosState {
  webSocketEnabled: boolean;
  paused: boolean;
}

interface BuiltInLabel {
  label: string;
  description: string;
  tone: ChaosTone;
  /** Whether it is shown in `state`: one of two opposite controls is. @default always */
  shown?: (state: ChaosState) => boolean;
}

/** The built-in controls in the order the pages show them. */
const builtInLabels: Record<BuiltInChaosName, BuiltInLabel> = {
  drop: {
    label: 'Drop connections',
    description: 'Destroy every socket, as a network failure would',
    tone: 'danger',
  },
  'block-websocket': {
    label: 'Block WebSocket',
    description: 'Refuse upgrades with 503: chat continues over SSE + POST',
    tone: 'warn',
    shown: (state) => state.webSocketEnabled,
  },
  'allow-websocket': {
    label: 'Allow WebSocket',
    description: 'Accept upgrades again (channels move back after the fallback memory)',
    tone: 'neutral',
    shown: (state) => !state.webSocketEnabled,
  },
  'expire-tokens': {
    label: 'Expire tokens',
    description: 'Every credential expires now: clients fetch a new token and resume',
    tone: 'warn',
  },
  stall: {
    label: 'Stall streams',
    description: 'Stop writing without closing: the heartbeat watchdog must notice',
    tone: 'warn',
  },
  'restart-kept': {
    label: 'Restart (keep history)',
    description: 'New server, same history: clients resume',
    tone: 'danger',
  },
  'restart-lost': {
    label: 'Restart (lose history)',
    description: 'New server, new history: clients get a gap',
    tone: 'danger',
  },
  pause: {
    label: 'Pause publishers',
    description: 'Stop publishing so that the counts settle',
    tone: 'neutral',
    shown: (state) => !state.paused,
  },
  resume: {
    label: 'Resume publishers',
    description: 'Start publishing again',
    tone: 'neutral',
    shown: (state) => state.paused,
  },
};

/** The built-in controls' names, in the order the pages show them. */
const builtInChaosNames = Object.keys(builtInLabels) as BuiltInChaosName[];

/** How many of the latest chaos actions `/api/stats` lists. */
const CHAOS_KEPT = 20;

const NAME = /^[a-z0-9]+(-[a-z0-9]+)*$/;

const isBuiltIn = (name: string): name is BuiltInChaosName => Object.hasOwn(builtInLabels, name);

/** What `POST /api/chaos/<name>` answers: its status and JSON body. */
export interface ChaosReply {
  status: number;
  body: ChaosEntry | { error: string; control: string; reason?: string };
}

/** A host's chaos options, checked: see {@link checkChaosOptions}. */
export interface CheckedChaosOptions {
  /** The host's controls by name, in the order given. */
  controls: ReadonlyMap<string, ChaosControl>;
  /** Why each built-in control that does not apply does not. */
  reasons: ReadonlyMap<BuiltInChaosName, string>;
}

/**
 * Checks a host's chaos options before anything starts.
 * @throws {TypeError} when a host's control has a malformed or taken name, or `unavailable`
 * names no built-in control.
 */
export function checkChaosOptions(chaos: PlaygroundChaosOptions = {}): CheckedChaosOptions {
  const controls = new Map<string, ChaosControl>();
  for (const control of chaos.controls ?? []) {
    if (!NAME.test(control.name)) {
      throw new TypeError(
        `chaos control name "${control.name}": use lowercase letters, digits and single hyphens`,
      );
    }
    if (isBuiltIn(control.name) || controls.has(control.name)) {
      throw new TypeError(`chaos control name "${control.name}" is taken`);
    }
    controls.set(control.name, control);
  }
  const reasons = new Map<BuiltInChaosName, string>();
  for (const [name, reason] of Object.entries(chaos.unavailable ?? {})) {
    if (!isBuiltIn(name)) throw new TypeError(`no built-in chaos control "${name}"`);
    if (reason !== undefined) reasons.set(name, reason);
  }
  return { controls, reasons };
}

/** Options of {@link createChaosBoard}. */
export interface ChaosBoardOptions {
  /** What each built-in control does. */
  builtIn: Record<BuiltInChaosName, () => ChaosResult | Promise<ChaosResult>>;
  /** The host's controls and the built-in ones that do not apply, checked. */
  chaos: CheckedChaosOptions;
}

/** Every chaos control of a playground, and the log of those that ran. */
export interface ChaosBoard {
  /** The controls the pages show in `state`: the host's, then the built-in ones that apply. */
  listed(state: ChaosState): ListedChaosControl[];
  /** The built-in controls that do not apply, and why. */
  readonly unavailable: readonly UnavailableChaosControl[];
  /** The latest controls that ran, oldest first. */
  readonly log: readonly ChaosEntry[];
  /** Runs the control `name` and logs it, or says why it cannot. */
  run(name: string): Promise<ChaosReply>;
}

/** The playground's chaos controls. */
export function createChaosBoard(options: ChaosBoardOptions): ChaosBoard {
  const { builtIn } = options;
  const { controls: custom, reasons } = options.chaos;
  const unavailable = builtInChaosNames
    .filter((name) => reasons.has(name))
    .map((name) => ({ name, label: builtInLabels[name].label, reason: reasons.get(name) ?? '' }));
  const log: ChaosEntry[] = [];

  const find = (name: string): (() => ChaosResult | Promise<ChaosResult>) | undefined => {
    const control = custom.get(name);
    if (control !== undefined) return () => control.run();
    return isBuiltIn(name) ? builtIn[name] : undefined;
  };

  return {
    listed(state) {
      const hosts = [...custom.values()].map(({ name, label, description, tone = 'danger' }) => ({
        name,
        label,
        description,
        tone,
      }));
      const builtIns = builtInChaosNames
        .filter((name) => !reasons.has(name) && (builtInLabels[name].shown?.(state) ?? true))
        .map((name) => {
          const { label, description, tone } = builtInLabels[name];
          return { name, label, description, tone };
        });
      return [...hosts, ...builtIns];
    },
    unavailable,
    log,
    async run(name) {
      const reason = isBuiltIn(name) ? reasons.get(name) : undefined;
      if (reason !== undefined) {
        return {
          status: 409,
          body: {
            error: `chaos control "${name}" is left out here, as ${reason}`,
            control: name,
            reason,
          },
        };
      }
      const action = find(name);
      if (action === undefined) {
        return { status: 404, body: { error: `no chaos control "${name}"`, control: name } };
      }
      let result: ChaosResult;
      try {
        result = await action();
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return {
          status: 500,
          body: { error: `chaos control "${name}" failed: ${message}`, control: name },
        };
      }
      // Every page polls `/api/stats` each second: that is how the other tabs hear of it.
      const entry: ChaosEntry = {
        action: result.action,
        ...(result.affected === undefined ? {} : { affected: result.affected }),
        id: (log.at(-1)?.id ?? 0) + 1,
        at: Date.now(),
      };
      log.push(entry);
      if (log.length > CHAOS_KEPT) log.shift();
      return { status: 200, body: entry };
    },
  };
}
