import { type Browser, chromium, type LaunchOptions } from 'playwright-core';

/** Debian's Chromium; override with TIDEWIRE_CHROMIUM for other systems. */
export const chromiumPath: string = process.env.TIDEWIRE_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Launches Debian's Chromium the way every browser test here does. Playwright
 * gives each launch a fresh temporary profile and removes it on `close()`.
 * `options` adds to the launch, e.g. `ignoreDefaultArgs` to keep the back/forward cache and
 * background throttling that Playwright switches off by default.
 */
export function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  return chromium.launch({
    ...options,
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}
