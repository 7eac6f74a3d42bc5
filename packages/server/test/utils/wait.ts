/** Polls `probe` until it returns something other than undefined, or fails after `ms`. */
export async function waitUntil<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  ms: number,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Waits until `check` is true. */
export function waitFor(
  check: () => boolean | Promise<boolean>,
  ms = 3000,
  what = 'condition',
): Promise<true> {
  return waitUntil(async () => ((await check()) ? true : undefined), ms, what);
}
