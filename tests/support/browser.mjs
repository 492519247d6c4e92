// Headless Chromium for the browser tests, driven by playwright-core: Debian's Chromium
// (scripts/setup-browser.sh installs it; playwright's own browser download cannot work here),
// started with the flags that keep it off the network, plus helpers to put a provider session
// into a browser, collect console messages and take screenshots (ID tokens: oidc.mjs).
//
//   const browser = await launchBrowser();
//   const context = await browser.newContext({ viewport: DESKTOP });
//   await setSessionCookie(context, w.url, cookie);
//   const page = await context.newPage();
//   const console = watchConsole(page);
//   await page.goto(...); await screenshot(page, 'confirm-desktop');
import fs from 'node:fs';
import path from 'node:path';

import { chromium } from 'playwright-core';

import { ROOT } from '../../tools/worker.mjs';

export const SCREENSHOT_DIR = path.join(ROOT, 'tests/artifacts/screenshots');
export const DESKTOP = { width: 1280, height: 800 };
/** A phone (an iPhone 12-15's CSS pixels), for `newContext({ ...PHONE })`. */
export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

// Without the background-networking flags Chromium keeps opening connections that this closed
// network refuses; --no-sandbox because the tests may run as root.
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** The Chromium to drive: $CHROMIUM, else /usr/bin/chromium. */
export function chromiumPath() {
  const exe = process.env.CHROMIUM || '/usr/bin/chromium';
  if (!fs.existsSync(exe)) {
    throw new Error(`${exe} is missing: run \`bash scripts/setup-browser.sh\` (scripts/test.sh does), or set CHROMIUM`);
  }
  return exe;
}

/** Starts headless Chromium with a fresh, empty profile. */
export async function launchBrowser() {
  return chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS, headless: true, timeout: 30_000 });
}

/** Puts a provider session into the browser: the `name` cookie for the worker's origin. */
export async function setSessionCookie(context, workerUrl, value, name = 'op_session') {
  await context.addCookies([{ name, value, url: workerUrl, httpOnly: true, sameSite: 'Lax' }]);
}

/**
 * Records what a page and its frames print to the console, and uncaught page errors:
 * `messages` is [{type, text, url}] (url: where the message comes from).
 */
export function watchConsole(page) {
  const messages = [];
  page.on('console', (msg) => {
    // A CSP violation comes without a location: it is the page's (as it is when reported).
    messages.push({ type: msg.type(), text: msg.text(), url: msg.location()?.url || page.url() });
  });
  page.on('pageerror', (err) => {
    messages.push({ type: 'pageerror', text: String(err?.message ?? err), url: page.url() });
  });
  return {
    messages,
    /** Errors and warnings (CSP violations are errors), of documents of `origin` if given. */
    problems(origin) {
      return messages.filter(
        (m) => ['error', 'warning', 'pageerror'].includes(m.type) && (origin === undefined || m.url.startsWith(origin)),
      );
    },
  };
}

/** A full-page PNG in tests/artifacts/screenshots/<name>.png; returns its path. */
export async function screenshot(page, name, { fullPage = true } = {}) {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage, animations: 'disabled' });
  return file;
}

/** WCAG 2 contrast ratio of two CSS colours given as `rgb(r, g, b)` / `rgba(...)` strings. */
export function contrastRatio(fg, bg) {
  const lum = (css) => {
    const [r, g, b] = css.match(/[\d.]+/g).slice(0, 3).map(Number).map((c) => {
      const s = c / 255;
      return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}
