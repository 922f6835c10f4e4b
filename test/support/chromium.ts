import { chromium, type Browser } from 'playwright-core';
import { testChildEnv } from './test-run';

/** Debian's chromium (see .ci/system-packages), driven without a display, a sandbox or background traffic. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    env: { ...process.env, ...testChildEnv() },
  });
}
