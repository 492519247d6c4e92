// The world of the browser files (browser*.test.mjs): headless Chromium, two relying parties on
// two origins, a CDN for the provider's logo, a branded worker `w` (FRONTCHANNEL_TIMEOUT_MS at
// its longest) and, unless told not to, an unbranded `w2` that waits little for frames; and the
// checks of what a person sees.
//
//   let b; before(async () => { b = await startBrowserWorld(); });  after(() => b?.stop());
//   const { context, page, log, close } = await b.open();
import assert from 'node:assert/strict';

import { DESKTOP, launchBrowser, watchConsole } from './browser.mjs';
import { newSession as newSessionAt } from './fixtures.mjs';
import { start as startRp } from '../../tools/rp.mjs';
import { startWorker } from '../../tools/worker.mjs';

export const END_SESSION = '/session/end';
export const PROVIDER = 'Example ID';
// The main worker waits long for frames, so that a quick landing shows the load event drove it.
export const SLOW_TIMEOUT_MS = 30_000;
// The second worker waits little: the no-JavaScript and hanging-frame tests wait it out.
export const QUICK_TIMEOUT_MS = 1500;
export const TEST = { timeout: 30_000 };
// A state a relying party could send: it must come back exactly, whatever needs encoding.
export const STATE = 'st-8f3/a b&c=d?é+~';

const LOGO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">
<rect width="64" height="64" rx="14" fill="#1f6feb"/><circle cx="32" cy="26" r="10" fill="#fff"/>
<path d="M14 52c3-10 10-15 18-15s15 5 18 15" fill="#fff"/></svg>`;


/** Registration of a client of `rp`, with a front-channel URI at `fc` (or none). */
function client(rp, name, fc) {
  return {
    redirect_uris: [`${rp.url}/cb`],
    post_logout_redirect_uris: [`${rp.url}/bye`],
    ...(fc ? { frontchannel_logout_uri: `${rp.url}${fc}`, frontchannel_logout_session_required: true } : {}),
    client_name: name,
  };
}

/**
 * Starts it all and registers app-a, app-b (front-channel) and plain at `w`; app-a, app-b and
 * stuck (a frame that never answers) at `w2` when `quick`. `vars({ cdn, rpA, rpB })` gives `w`
 * more settings (e.g. PAGE_TEXTS, PROVIDER_STYLESHEET_URL). Returns {browser, w, w2, rpA, rpB,
 * cdn, stop()} and the helpers below.
 */
export async function startBrowserWorld({ quick = true, vars: moreVars = () => ({}) } = {}) {
  let browser;
  let w;
  let w2;
  const contexts = new Set();
  const [rpA, rpB, cdn] = await Promise.all([startRp(), startRp(), startRp()]);
  async function stop() {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close().catch(() => {});
    await Promise.all([w?.stop(), w2?.stop()]);
    await Promise.all([rpA.close(), rpB.close(), cdn.close()]);
  }
  try {
    assert.notEqual(rpA.url, rpB.url);
    cdn.configure('/logo.svg', { headers: { 'content-type': 'image/svg+xml' }, body: LOGO_SVG });
    rpB.configure('/fc-hang', { hang: true });
    // allSettled: whatever did start is there for stop(), even when something failed.
    const started = await Promise.allSettled([
      startWorker({
        vars: (v) => ({
          ...v,
          PROVIDER_NAME: PROVIDER,
          PROVIDER_LOGO_URL: `${cdn.url}/logo.svg`,
          // A light brand colour: the button text must turn dark to stay readable.
          PROVIDER_COLOR: '#ffd33d',
          FRONTCHANNEL_TIMEOUT_MS: String(SLOW_TIMEOUT_MS),
          ...moreVars({ cdn, rpA, rpB }),
        }),
      }),
      quick ? startWorker({ vars: (v) => ({ ...v, FRONTCHANNEL_TIMEOUT_MS: String(QUICK_TIMEOUT_MS) }) }) : undefined,
      launchBrowser(),
    ]);
    [w, w2, browser] = started.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const registrations = [
      [w, 'app-a', client(rpA, 'App A', '/fc')],
      [w, 'app-b', client(rpB, 'App B', '/fc')],
      [w, 'plain', client(rpA, 'Plain App')],
    ];
    if (quick) {
      registrations.push(
        [w2, 'app-a', client(rpA, 'App A', '/fc2')],
        [w2, 'app-b', client(rpB, 'App B', '/fc2')],
        [w2, 'stuck', client(rpB, 'Stuck App', '/fc-hang')],
      );
    }
    for (const [worker, id, body] of registrations) {
      const r = await worker.admin('PUT', `/admin/clients/${id}`, body);
      assert.equal(r.status, 201, r.text);
    }
  } catch (e) {
    await stop();
    throw e;
  }

  /** A new session of `sub` at `worker` with `clients`: {sid, cookie}. */
  const newSession = (worker, clients, sub = 'alice') => newSessionAt(worker, sub, clients);

  async function sessionStatus(worker, sid) {
    return (await worker.admin('GET', `/admin/sessions/${encodeURIComponent(sid)}`)).status;
  }

  /** A fresh browser context (closed after the test), a page in it, and its console. */
  async function open(options = {}) {
    const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-US', ...options });
    context.setDefaultTimeout(10_000);
    context.setDefaultNavigationTimeout(15_000);
    contexts.add(context);
    const page = await context.newPage();
    const log = watchConsole(page);
    const close = async () => {
      contexts.delete(context);
      await context.close();
    };
    return { context, page, log, close };
  }

  function endSessionUrl(worker, params) {
    const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined));
    return `${worker.url}${END_SESSION}?${q}`;
  }

  /** The front-channel requests `rp` got at `path` for session `sid`. */
  function frameHits(rp, path, sid) {
    return rp.gets(path).filter((r) => r.query.sid === sid);
  }

  /** Checks one front-channel request: iss and sid, loaded as a frame, without a referrer. */
  function assertFrameRequest(rec, worker, sid, what) {
    assert.equal(rec.query.iss, worker.vars.ISSUER, `${what}: iss`);
    assert.equal(rec.query.sid, sid, `${what}: sid`);
    assert.equal(rec.headers['sec-fetch-dest'], 'iframe', `${what}: loaded as a frame`);
    assert.equal(rec.headers.referer, undefined, `${what}: no Referer`);
  }

  /** Checks that `url` is `rp`'s post-logout URI with exactly STATE. */
  function assertLanded(url, rp, state = STATE) {
    const u = new URL(url);
    assert.equal(u.origin + u.pathname, `${rp.url}/bye`, url);
    assert.deepEqual([...u.searchParams], [['state', state]], url);
  }

  /** No console error or warning on any page of the test (the worker's, the relying parties'). */
  function assertNoProblems(log) {
    assert.deepEqual(log.problems(), [], 'console errors or CSP violations on the pages');
  }

  /** The headers every page of the worker has. */
  function assertPageHeaders(res, lang, what) {
    const h = res.headers();
    assert.match(h['content-type'] ?? '', /^text\/html/, `${what}: content-type`);
    assert.equal(h['content-language'], lang, `${what}: content-language`);
    assert.match(h['content-security-policy'] ?? '', /frame-ancestors 'none'/, `${what}: CSP`);
    assert.equal(h['x-frame-options'], 'DENY', `${what}: x-frame-options`);
    assert.equal(h['cache-control'], 'no-store', `${what}: cache-control`);
  }

  /**
   * The page has loaded and has no way left to go anywhere by itself: no meta refresh, no
   * "Continue" link for the front-channel script, no frame of its own. Then its URL must stay:
   * checked by what could move it, not by waiting and seeing.
   */
  async function assertGoesNowhere(page, url, what) {
    await page.waitForLoadState('load');
    assert.equal(await page.locator('meta[http-equiv="refresh" i]').count(), 0, `${what}: a meta refresh`);
    assert.equal(await page.locator('#continue').count(), 0, `${what}: a link the script would follow`);
    assert.equal(page.url(), url, `${what}: the page moved`);
  }

  /** Waits for the answer to the confirmation form while `action` (a click) sends it. */
  async function submit(page, worker, action) {
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${worker.url}${END_SESSION}` && r.request().method() === 'POST'),
      action(),
    ]);
    return { res, at: Date.now() };
  }

  return {
    browser, w, w2, rpA, rpB, cdn, stop,
    newSession, sessionStatus, open, endSessionUrl, frameHits, assertFrameRequest, assertLanded,
    assertNoProblems, assertPageHeaders, assertGoesNowhere, submit,
  };
}
