// End-to-end tests of logout as a person sees it, in headless Chromium (playwright-core, Debian's
// Chromium; scripts/setup-browser.sh installs it) against the built worker under `wrangler dev`,
// with two relying parties on two ports of 127.0.0.1 (two origins). Each test takes a screenshot
// of the pages it shows into tests/artifacts/screenshots/ and checks that the worker's pages
// print no console error (a CSP violation is one).
// Run by scripts/test.sh with Node 22: node --test --test-concurrency=1 tests/e2e/*.test.mjs
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';

import {
  DESKTOP,
  PHONE,
  contrastRatio,
  launchBrowser,
  screenshot,
  setSessionCookie,
  watchConsole,
} from '../support/browser.mjs';
import { it, newSession as newSessionAt } from '../support/fixtures.mjs';
import { eventually, mintIdToken } from '../support/oidc.mjs';
import { start as startRp } from '../support/rp.mjs';
import { startWorker } from '../support/worker.mjs';

const END_SESSION = '/session/end';
const PROVIDER = 'Example ID';
// The main worker waits long for frames, so that a quick landing shows the load event drove it.
const SLOW_TIMEOUT_MS = 30_000;
// The second worker waits little: the no-JavaScript and hanging-frame tests wait it out.
const QUICK_TIMEOUT_MS = 1500;
const TEST = { timeout: 30_000 };
// A state a relying party could send: it must come back exactly, whatever needs encoding.
const STATE = 'st-8f3/a b&c=d?é+~';

const LOGO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">
<rect width="64" height="64" rx="14" fill="#1f6feb"/><circle cx="32" cy="26" r="10" fill="#fff"/>
<path d="M14 52c3-10 10-15 18-15s15 5 18 15" fill="#fff"/></svg>`;


describe('logout in a browser', { timeout: 400_000 }, () => {
  let browser;
  let w; // branded (name, logo), default colours, FRONTCHANNEL_TIMEOUT_MS=8000
  let w2; // unbranded (the name is the issuer's host), FRONTCHANNEL_TIMEOUT_MS=1500
  let rpA;
  let rpB;
  let cdn; // serves the provider's logo
  const contexts = new Set();

  /** Registration of a client of `rp`, with a front-channel URI at `fc` (or none). */
  function client(rp, name, fc) {
    return {
      redirect_uris: [`${rp.url}/cb`],
      post_logout_redirect_uris: [`${rp.url}/bye`],
      ...(fc ? { frontchannel_logout_uri: `${rp.url}${fc}`, frontchannel_logout_session_required: true } : {}),
      client_name: name,
    };
  }

  before(async () => {
    [rpA, rpB, cdn] = await Promise.all([startRp(), startRp(), startRp()]);
    assert.notEqual(rpA.url, rpB.url);
    cdn.configure('/logo.svg', { headers: { 'content-type': 'image/svg+xml' }, body: LOGO_SVG });
    rpB.configure('/fc-hang', { hang: true });
    // allSettled: whatever did start is there for after() to stop, even when something failed.
    const started = await Promise.allSettled([
      startWorker({
        vars: (v) => ({
          ...v,
          PROVIDER_NAME: PROVIDER,
          PROVIDER_LOGO_URL: `${cdn.url}/logo.svg`,
          // A light brand colour: the button text must turn dark to stay readable.
          PROVIDER_COLOR: '#ffd33d',
          FRONTCHANNEL_TIMEOUT_MS: String(SLOW_TIMEOUT_MS),
        }),
      }),
      startWorker({ vars: (v) => ({ ...v, FRONTCHANNEL_TIMEOUT_MS: String(QUICK_TIMEOUT_MS) }) }),
      launchBrowser(),
    ]);
    [w, w2, browser] = started.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    for (const [worker, id, body] of [
      [w, 'app-a', client(rpA, 'App A', '/fc')],
      [w, 'app-b', client(rpB, 'App B', '/fc')],
      [w, 'plain', client(rpA, 'Plain App')],
      [w2, 'app-a', client(rpA, 'App A', '/fc2')],
      [w2, 'app-b', client(rpB, 'App B', '/fc2')],
      [w2, 'stuck', client(rpB, 'Stuck App', '/fc-hang')],
    ]) {
      const r = await worker.admin('PUT', `/admin/clients/${id}`, body);
      assert.equal(r.status, 201, r.text);
    }
  }, { timeout: 120_000 });

  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close().catch(() => {});
    await Promise.all([w?.stop(), w2?.stop()]);
    await Promise.all([rpA?.close(), rpB?.close(), cdn?.close()]);
  });

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

  it('signs out from a relying party: confirmation, front-channel frames at both origins, back to it with its state', TEST, async () => {
    const { sid, cookie } = await newSession(w, ['app-a', 'app-b']);
    const { context, page, log, close } = await open();
    try {
      await setSessionCookie(context, w.url, cookie);
      const url = endSessionUrl(w, { client_id: 'app-a', post_logout_redirect_uri: `${rpA.url}/bye`, state: STATE });
      const res = await page.goto(url);
      assert.equal(res.status(), 200);
      assertPageHeaders(res, 'en', 'confirmation');
      // The confirmation page posts only to itself or to the relying party it may redirect to.
      assert.match(res.headers()['content-security-policy'], new RegExp(`form-action 'self' ${rpA.url}(;|$)`));
      assert.equal(await page.getAttribute('html', 'lang'), 'en');
      assert.equal(await page.title(), `Sign out of ${PROVIDER}? · ${PROVIDER}`);
      await assert.doesNotReject(page.getByRole('heading', { level: 1, name: `Sign out of ${PROVIDER}?` }).waitFor());
      assert.equal(await page.getByText('App A asks to sign you out.').count(), 1);
      // The logo loaded (the CSP's img-src allows its origin).
      assert.ok(await page.locator('header.provider img').evaluate((img) => img.complete && img.naturalWidth > 0), 'logo shown');
      await screenshot(page, 'confirm-desktop');

      const signOut = page.getByRole('button', { name: 'Sign out', exact: true });
      assert.equal(await signOut.count(), 1);
      assert.equal(await page.getByRole('button', { name: 'Stay signed in' }).count(), 1);
      assert.equal(await sessionStatus(w, sid), 200, 'showing the page ends nothing');

      const { res: fc, at } = await submit(page, w, () => signOut.click());
      assert.equal(fc.status(), 200);
      assertPageHeaders(fc, 'en', 'front-channel page');
      const csp = fc.headers()['content-security-policy'];
      const frameSrc = /frame-src ([^;]*)/.exec(csp)?.[1].split(' ').sort();
      assert.deepEqual(frameSrc, [rpA.url, rpB.url].sort(), csp);

      await page.waitForURL((u) => u.href.startsWith(`${rpA.url}/bye`));
      const took = Date.now() - at;
      assertLanded(page.url(), rpA);
      assert.equal(await page.locator('#state').textContent(), STATE, 'the RP read back its state');
      // Every frame had loaded: the page went on at its load event, not at its timeout (the
      // longest there is, 30 s: a page that waited for it would not land within the test).
      assert.ok(took < SLOW_TIMEOUT_MS, `landed ${took} ms after the front-channel page`);

      const [a, b] = [frameHits(rpA, '/fc', sid), frameHits(rpB, '/fc', sid)];
      assert.equal(a.length, 1, 'RP A front-channel requests');
      assert.equal(b.length, 1, 'RP B front-channel requests');
      assertFrameRequest(a[0], w, sid, 'RP A');
      assertFrameRequest(b[0], w, sid, 'RP B');
      const landing = rpA.gets('/bye').at(-1);
      for (const [rp, hit] of [['RP A', a[0]], ['RP B', b[0]]]) {
        // The RP stubs' own clock: each frame was answered before the browser landed.
        assert.ok(hit.answeredAt <= landing.at, `${rp}: the frame was answered after the landing`);
      }

      assert.equal(await sessionStatus(w, sid), 404, 'the session is gone');
      const left = (await context.cookies(w.url)).filter((c) => c.name === 'op_session');
      assert.deepEqual(left, [], 'the session cookie is cleared');
      assertNoProblems(log);
    } finally {
      await close();
    }
  });

  it('signs out without JavaScript: the meta refresh continues after the frames', TEST, async () => {
    const { sid, cookie } = await newSession(w2, ['app-a', 'app-b']);
    const { context, page, log, close } = await open({ javaScriptEnabled: false });
    try {
      await setSessionCookie(context, w2.url, cookie);
      await page.goto(endSessionUrl(w2, { client_id: 'app-a', post_logout_redirect_uri: `${rpA.url}/bye`, state: STATE }));
      const { res: fc, at } = await submit(page, w2, () => page.getByRole('button', { name: 'Sign out', exact: true }).click());
      assert.equal(fc.status(), 200);
      const refresh = Math.ceil(QUICK_TIMEOUT_MS / 1000);
      // The page stays until the refresh: it is what a person without JavaScript sees.
      await page.getByRole('heading', { name: 'Signing you out' }).waitFor();
      const cont = page.getByRole('link', { name: 'Continue' });
      assert.equal(await cont.count(), 1);
      assertLanded(await cont.getAttribute('href'), rpA);
      await screenshot(page, 'frontchannel-nojs-desktop');

      await page.waitForURL((u) => u.href.startsWith(`${rpA.url}/bye`), { timeout: refresh * 1000 + 5000 });
      const took = Date.now() - at;
      assertLanded(page.url(), rpA);
      assert.ok(took >= refresh * 1000 - 300, `the refresh came after ${took} ms, not ${refresh} s`);
      for (const rp of [rpA, rpB]) {
        const hits = frameHits(rp, '/fc2', sid);
        assert.equal(hits.length, 1, `${rp.url}: front-channel requests`);
        assertFrameRequest(hits[0], w2, sid, rp.url);
      }
      assert.equal(await sessionStatus(w2, sid), 404);
      assertNoProblems(log);
    } finally {
      await close();
    }
  });

  it('a relying party whose frame never answers does not hold the user: on after FRONTCHANNEL_TIMEOUT_MS', TEST, async () => {
    const { sid, cookie } = await newSession(w2, ['app-a', 'stuck']);
    const { context, page, log, close } = await open();
    try {
      await setSessionCookie(context, w2.url, cookie);
      await page.goto(endSessionUrl(w2, { client_id: 'app-a', post_logout_redirect_uri: `${rpA.url}/bye`, state: STATE }));
      const { at } = await submit(page, w2, () => page.getByRole('button', { name: 'Sign out', exact: true }).click());
      await page.getByRole('heading', { name: 'Signing you out' }).waitFor();
      await rpB.waitFor((r) => r.path === '/fc-hang' && r.query.sid === sid, 5000);
      await screenshot(page, 'frontchannel-desktop');

      await page.waitForURL((u) => u.href.startsWith(`${rpA.url}/bye`), { timeout: QUICK_TIMEOUT_MS + 5000 });
      const took = Date.now() - at;
      assertLanded(page.url(), rpA);
      // It waited for the timeout (the hanging frame kept the load event away), and no longer:
      // by the RP stubs' clock, from the hanging frame's request to the landing, with a margin
      // for a loaded machine.
      assert.ok(took >= QUICK_TIMEOUT_MS - 300, `went on after ${took} ms, before the timeout`);
      const hung = frameHits(rpB, '/fc-hang', sid)[0];
      const landed = rpA.gets('/bye').at(-1);
      assert.equal(hung.answeredAt, undefined, 'the hanging frame was answered');
      assert.ok(landed.at - hung.at <= QUICK_TIMEOUT_MS + 10_000, `went on ${landed.at - hung.at} ms after the frame's request, long after the timeout`);
      assertFrameRequest(frameHits(rpA, '/fc2', sid)[0], w2, sid, 'RP A');
      assertFrameRequest(frameHits(rpB, '/fc-hang', sid)[0], w2, sid, 'RP B (hanging)');
      assert.equal(await sessionStatus(w2, sid), 404);
      assertNoProblems(log);
    } finally {
      await close();
    }
  });

  it('"Stay signed in" ends nothing and goes nowhere', TEST, async () => {
    const { sid, cookie } = await newSession(w, ['app-a', 'app-b']);
    const { context, page, log, close } = await open();
    try {
      await setSessionCookie(context, w.url, cookie);
      await page.goto(endSessionUrl(w, { client_id: 'app-a', post_logout_redirect_uri: `${rpA.url}/bye`, state: STATE }));
      const landings = rpA.gets('/bye').length;
      const { res } = await submit(page, w, () => page.getByRole('button', { name: 'Stay signed in' }).click());
      assert.equal(res.status(), 200);
      assertPageHeaders(res, 'en', 'still signed in');
      await page.getByRole('heading', { name: 'You are still signed in' }).waitFor();
      assert.equal(await page.getByText('Nothing was changed: you are still signed in.').count(), 1);
      await assertGoesNowhere(page, `${w.url}${END_SESSION}`, 'still signed in');
      assert.equal(res.headers().location, undefined, 'no redirect');
      assert.deepEqual(page.frames().filter((f) => f !== page.mainFrame()), [], 'no frame on the page');
      await screenshot(page, 'still-signed-in-desktop');
      assert.equal(await sessionStatus(w, sid), 200, 'the session is still there');
      assert.ok((await context.cookies(w.url)).some((c) => c.name === 'op_session' && c.value === cookie), 'cookie kept');
      assert.deepEqual([...frameHits(rpA, '/fc', sid), ...frameHits(rpB, '/fc', sid)], [], 'no front-channel request');
      assert.equal(rpA.gets('/bye').length, landings, 'no landing at the relying party');
      assertNoProblems(log);
    } finally {
      await close();
    }
  });

  it('speaks German for ui_locales=de, all the way to the front-channel page', TEST, async () => {
    const { sid, cookie } = await newSession(w, ['app-a', 'app-b']);
    const { context, page, log, close } = await open({ locale: 'en-US' });
    try {
      await setSessionCookie(context, w.url, cookie);
      const res = await page.goto(endSessionUrl(w, {
        client_id: 'app-a', post_logout_redirect_uri: `${rpA.url}/bye`, state: STATE, ui_locales: 'de-CH fr',
      }));
      assertPageHeaders(res, 'de', 'German confirmation');
      assert.equal(await page.getAttribute('html', 'lang'), 'de');
      await page.getByRole('heading', { name: `Von ${PROVIDER} abmelden?` }).waitFor();
      assert.equal(await page.getByText('App A möchte Sie abmelden.').count(), 1);
      assert.equal(await page.getByRole('button', { name: 'Angemeldet bleiben' }).count(), 1);
      await screenshot(page, 'confirm-de-desktop');
      const { res: fc } = await submit(page, w, () => page.getByRole('button', { name: 'Abmelden', exact: true }).click());
      assertPageHeaders(fc, 'de', 'German front-channel page');
      await page.waitForURL((u) => u.href.startsWith(`${rpA.url}/bye`));
      assertLanded(page.url(), rpA);
      assert.equal(frameHits(rpB, '/fc', sid).length, 1);
      assert.equal(await sessionStatus(w, sid), 404);
      assertNoProblems(log);
    } finally {
      await close();
    }
  });

  it('speaks Spanish to a browser that prefers it (Accept-Language)', TEST, async () => {
    const { sid, cookie } = await newSession(w, ['app-a']);
    const { context, page, log, close } = await open({ locale: 'es-ES' });
    try {
      await setSessionCookie(context, w.url, cookie);
      const res = await page.goto(endSessionUrl(w, { client_id: 'app-a' }));
      assert.match(res.request().headers()['accept-language'] ?? '', /^es/);
      assertPageHeaders(res, 'es', 'Spanish confirmation');
      assert.equal(await page.getAttribute('html', 'lang'), 'es');
      await page.getByRole('heading', { name: `¿Cerrar sesión en ${PROVIDER}?` }).waitFor();
      assert.equal(await page.getByRole('button', { name: 'Cerrar sesión', exact: true }).count(), 1);
      await screenshot(page, 'confirm-es-desktop');
      const { res: kept } = await submit(page, w, () => page.getByRole('button', { name: 'Mantener la sesión' }).click());
      assertPageHeaders(kept, 'es', 'Spanish still signed in');
      await page.getByRole('heading', { name: 'Su sesión sigue abierta' }).waitFor();
      assert.equal(await sessionStatus(w, sid), 200);
      assertNoProblems(log);
    } finally {
      await close();
    }
  });

  it('the confirmation page cannot be framed by a relying party', TEST, async () => {
    const { sid, cookie } = await newSession(w, ['app-a']);
    const { context, page, log, close } = await open();
    try {
      await setSessionCookie(context, w.url, cookie);
      const target = endSessionUrl(w, { client_id: 'app-a', post_logout_redirect_uri: `${rpA.url}/bye`, state: STATE });
      rpA.configure('/framer', {
        headers: { 'content-type': 'text/html; charset=utf-8' },
        body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>framer</title></head>
<body><h1>A page of RP A that frames the confirmation</h1>
<iframe id="victim" src="${target.replace(/&/g, '&amp;')}" width="600" height="400" style="border:2px solid red"></iframe>
</body></html>`,
      });
      const [framed] = await Promise.all([
        page.waitForResponse((r) => r.url().startsWith(`${w.url}${END_SESSION}`)),
        page.goto(`${rpA.url}/framer`),
      ]);
      assert.equal(framed.headers()['x-frame-options'], 'DENY');
      assert.match(framed.headers()['content-security-policy'], /frame-ancestors 'none'/);
      await page.waitForLoadState('load');
      // Chromium reports the refusal on the console: the signal that it has decided.
      await eventually(() => log.messages.some((m) => /frame-ancestors 'none'/.test(m.text) || /X-Frame-Options/i.test(m.text)), {
        what: `Chromium saying why it refused the frame: ${JSON.stringify(log.messages)}`,
      });
      const frame = page.frames().find((f) => f !== page.mainFrame());
      assert.ok(frame, 'the iframe exists');
      // Chromium replaces a refused frame by its error page: nothing of the worker's is there.
      assert.ok(!frame.url().startsWith(w.url), `the frame shows ${frame.url()}`);
      const inside = page.frameLocator('#victim');
      assert.equal(await inside.getByRole('button').count(), 0, 'no button in the frame');
      assert.equal(await inside.getByText('Sign out').count(), 0, 'no text of the page in the frame');
      assert.ok(
        log.messages.some((m) => /frame-ancestors 'none'/.test(m.text) || /X-Frame-Options/i.test(m.text)),
        `Chromium says why it refused: ${JSON.stringify(log.messages)}`,
      );
      await screenshot(page, 'framed-confirmation-blocked');
      assert.equal(await sessionStatus(w, sid), 200);
    } finally {
      rpA.configure('/framer', null);
      await close();
    }
  });

  it('a valid id_token_hint for the browser\'s session logs out without asking, through the front-channel page', TEST, async () => {
    const { sid, cookie } = await newSession(w, ['app-a', 'app-b'], 'bob');
    const hint = await mintIdToken(w, { aud: 'app-a', sub: 'bob', sid });
    const { context, page, log, close } = await open();
    try {
      await setSessionCookie(context, w.url, cookie);
      const shown = [];
      page.on('framenavigated', (f) => {
        if (f === page.mainFrame()) shown.push(f.url());
      });
      const url = endSessionUrl(w, { id_token_hint: hint, post_logout_redirect_uri: `${rpA.url}/bye`, state: STATE });
      const [first] = await Promise.all([
        page.waitForResponse((r) => r.url().startsWith(`${w.url}${END_SESSION}`)),
        page.goto(url, { waitUntil: 'commit' }),
      ]);
      // The first answer is already the front-channel page: frames, a script, no form.
      assert.equal(first.status(), 200);
      const csp = first.headers()['content-security-policy'];
      assert.match(csp, /frame-src /, csp);
      assert.match(csp, /script-src 'sha256-/, csp);
      assert.match(csp, /form-action 'none'/, csp);
      await page.waitForURL((u) => u.href.startsWith(`${rpA.url}/bye`));
      assertLanded(page.url(), rpA);
      assert.equal(shown.filter((u) => u.startsWith(w.url)).length, 1, `pages shown: ${shown.join(', ')}`);
      assertFrameRequest(frameHits(rpA, '/fc', sid)[0], w, sid, 'RP A');
      assertFrameRequest(frameHits(rpB, '/fc', sid)[0], w, sid, 'RP B');
      assert.equal(await sessionStatus(w, sid), 404);
      assertNoProblems(log);
    } finally {
      await close();
    }
  });

  it('without relying parties to notify nor a place to return to: the signed-out page', TEST, async () => {
    const { sid, cookie } = await newSession(w, ['plain']);
    const { context, page, log, close } = await open();
    try {
      await setSessionCookie(context, w.url, cookie);
      await page.goto(endSessionUrl(w, { client_id: 'plain' }));
      assert.equal(await page.getByText('Plain App asks to sign you out.').count(), 1);
      const { res } = await submit(page, w, () => page.getByRole('button', { name: 'Sign out', exact: true }).click());
      assert.equal(res.status(), 200);
      assertPageHeaders(res, 'en', 'signed out');
      await page.getByRole('heading', { name: 'You are signed out' }).waitFor();
      assert.equal(await page.getByText('You have been signed out. You can close this window.').count(), 1);
      await screenshot(page, 'signed-out-desktop');
      assert.equal(await sessionStatus(w, sid), 404);
      assertNoProblems(log);
    } finally {
      await close();
    }
  });

  it('with no front-channel relying party, the confirmed logout redirects straight back (form-action allows it)', TEST, async () => {
    const { sid, cookie } = await newSession(w, ['plain']);
    const { context, page, log, close } = await open();
    try {
      await setSessionCookie(context, w.url, cookie);
      await page.goto(endSessionUrl(w, { client_id: 'plain', post_logout_redirect_uri: `${rpA.url}/bye`, state: STATE }));
      const { res } = await submit(page, w, () => page.getByRole('button', { name: 'Sign out', exact: true }).click());
      assert.equal(res.status(), 303);
      assertLanded(res.headers().location, rpA);
      await page.waitForURL((u) => u.href.startsWith(`${rpA.url}/bye`));
      assertLanded(page.url(), rpA);
      assert.equal(await sessionStatus(w, sid), 404);
      assertNoProblems(log);
    } finally {
      await close();
    }
  });

  it('front-channel frames without a place to return to: the page says signed out and stays', TEST, async () => {
    const { sid, cookie } = await newSession(w, ['app-a', 'app-b']);
    const { context, page, log, close } = await open();
    try {
      await setSessionCookie(context, w.url, cookie);
      await page.goto(endSessionUrl(w, { client_id: 'app-b' }));
      const { res } = await submit(page, w, () => page.getByRole('button', { name: 'Sign out', exact: true }).click());
      assert.equal(res.status(), 200);
      assert.match(res.headers()['content-security-policy'], /frame-src /);
      await page.getByRole('heading', { name: 'You are signed out' }).waitFor();
      await rpA.waitFor((r) => r.path === '/fc' && r.query.sid === sid, 5000);
      await rpB.waitFor((r) => r.path === '/fc' && r.query.sid === sid, 5000);
      assert.equal(await page.getByRole('link', { name: 'Continue' }).count(), 0, 'nowhere to continue to');
      await screenshot(page, 'signed-out-frontchannel-desktop');
      // The frames loaded (the load event came): the script had its chance to go, and there is
      // nothing for it to follow.
      await assertGoesNowhere(page, `${w.url}${END_SESSION}`, 'the page stays');
      assert.equal(await sessionStatus(w, sid), 404);
      assertNoProblems(log);
    } finally {
      await close();
    }
  });

  it('the console watcher does see a CSP violation on a page of the worker (control)', TEST, async () => {
    const { cookie } = await newSession(w, ['app-a']);
    const { context, page, log, close } = await open();
    try {
      await setSessionCookie(context, w.url, cookie);
      await page.goto(endSessionUrl(w, { client_id: 'app-a' }));
      // An inline script the page's CSP has no hash for: refused, and reported on the console.
      await page.evaluate(() => {
        const el = document.createElement('script');
        el.textContent = 'document.title = "injected"';
        document.head.append(el);
      });
      // The refusal is reported on the console: wait for that, then the script has been judged.
      const problems = await eventually(() => {
        const found = log.problems(w.url);
        return found.some((m) => /Content Security Policy/.test(m.text)) ? found : null;
      }, { what: `a CSP violation on the console: ${JSON.stringify(log.messages)}` });
      assert.ok(problems.some((m) => /Content Security Policy/.test(m.text)), JSON.stringify(log.messages));
      assert.notEqual(await page.title(), 'injected', 'the injected script did not run');
    } finally {
      await close();
    }
  });

  it('a bad id_token_hint gets the error page, which goes nowhere', TEST, async () => {
    const { sid, cookie } = await newSession(w, ['app-a']);
    const forged = await mintIdToken(w, { iss: 'https://evil.example', aud: 'app-a', sub: 'alice', sid });
    const { context, page, log, close } = await open();
    try {
      await setSessionCookie(context, w.url, cookie);
      const res = await page.goto(endSessionUrl(w, { id_token_hint: forged, post_logout_redirect_uri: `${rpA.url}/bye`, state: STATE }));
      assert.equal(res.status(), 400);
      assertPageHeaders(res, 'en', 'error page');
      await page.getByRole('heading', { name: 'Sign-out could not proceed' }).waitFor();
      assert.equal(await page.getByText('The sign-out request carries a token this provider cannot accept.').count(), 1);
      assert.equal(await page.getByRole('button').count(), 0);
      await screenshot(page, 'error-desktop');
      assert.ok(page.url().startsWith(w.url));
      assert.equal(await sessionStatus(w, sid), 200);
      // The document's own 400 is reported as a failed load; nothing else may be.
      const problems = log.problems().filter((m) => !/status of 400/.test(m.text));
      assert.deepEqual(problems, []);
    } finally {
      await close();
    }
  });

  it('on a phone the confirmation fits the screen and its buttons are large enough to tap', TEST, async () => {
    const { cookie } = await newSession(w, ['app-a', 'app-b']);
    const { context, page, log, close } = await open({ ...PHONE });
    try {
      await setSessionCookie(context, w.url, cookie);
      await page.goto(endSessionUrl(w, { client_id: 'app-a', post_logout_redirect_uri: `${rpA.url}/bye`, state: STATE }));
      await page.getByRole('heading', { name: `Sign out of ${PROVIDER}?` }).waitFor();
      const fit = await page.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
        innerHeight: window.innerHeight,
      }));
      assert.equal(fit.innerWidth, PHONE.viewport.width, 'the viewport meta tag is honoured');
      assert.ok(fit.scrollWidth <= fit.innerWidth, `no sideways scrolling: ${JSON.stringify(fit)}`);
      for (const name of ['Sign out', 'Stay signed in']) {
        const box = await page.getByRole('button', { name, exact: true }).boundingBox();
        assert.ok(box.height >= 44 && box.width >= 44, `${name}: ${JSON.stringify(box)}`);
        assert.ok(box.x >= 0 && box.x + box.width <= fit.innerWidth, `${name} within the width`);
        assert.ok(box.y + box.height <= fit.innerHeight, `${name} visible without scrolling`);
      }
      await screenshot(page, 'confirm-phone');
      assertNoProblems(log);
    } finally {
      await close();
    }
  });

  for (const colorScheme of ['light', 'dark']) {
    const dark = colorScheme === 'dark';
    it(`the confirmation's text is readable in ${colorScheme} mode (WCAG AA contrast)`, {
      ...TEST,
    }, async () => {
      const { cookie } = await newSession(w, ['app-a']);
      const { context, page, log, close } = await open({ colorScheme });
      try {
        await setSessionCookie(context, w.url, cookie);
        await page.goto(endSessionUrl(w, { client_id: 'app-a', post_logout_redirect_uri: `${rpA.url}/bye`, state: STATE }));
        await page.getByRole('heading', { name: `Sign out of ${PROVIDER}?` }).waitFor();
        await screenshot(page, `confirm-${colorScheme}-desktop`);
        const pairs = await page.$$eval('h1, p, strong, button, header.provider span, a', (els) => els.map((el) => {
          let bg = 'rgba(0, 0, 0, 0)';
          for (let e = el; e; e = e.parentElement) {
            const c = getComputedStyle(e).backgroundColor;
            if (!/rgba\(.*,\s*0\)$/.test(c) && c !== 'transparent') {
              bg = c;
              break;
            }
          }
          return { what: `${el.tagName.toLowerCase()} "${el.textContent.trim().slice(0, 30)}"`, fg: getComputedStyle(el).color, bg };
        }));
        assert.ok(pairs.length >= 5, JSON.stringify(pairs));
        const low = pairs
          .map((p) => ({ ...p, ratio: Math.round(contrastRatio(p.fg, p.bg) * 100) / 100 }))
          .filter((p) => p.ratio < 4.5);
        assert.deepEqual(low, [], 'text below 4.5:1');
        assertNoProblems(log);
      } finally {
        await close();
      }
    });
  }
});
