import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium; override with TIDEWIRE_CHROMIUM for other systems. */
export const chromiumPath: string = process.env.TIDEWIRE_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Launches Debian's Chromium the way every browser test here does. Playwright
 * gives each launch a fresh temporary profile and removes it on `close()`.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
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
