import type { ChildProcess } from 'node:child_process';

/** Sends `name` to a child by its pid and waits for it to exit; at once if it has exited. */
export function signal(child: ChildProcess, name: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.pid !== undefined) {
    try {
      process.kill(child.pid, name);
    } catch {}
  }
  return exited;
}

/** Kills every child still running, by pid, and waits for them. For `afterAll`, also after a failure. */
export async function killAll(children: Iterable<ChildProcess>): Promise<void> {
  await Promise.all([...children].map((child) => signal(child, 'SIGKILL')));
}
