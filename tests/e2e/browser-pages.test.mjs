// End-to-end tests of the worker's pages in headless Chromium against the built worker under
// `wrangler dev`: their languages, that they cannot be framed, that the console watcher sees a
// CSP violation, the error page, a phone's screen and readable contrast in light and dark mode.
// Each test takes a screenshot into tests/artifacts/screenshots/.
// Run by scripts/test.sh with Node 22: node --test --test-concurrency=1 tests/e2e/*.test.mjs
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';

import { PHONE, contrastRatio, screenshot, setSessionCookie } from '../support/browser.mjs';
import { END_SESSION, PROVIDER, STATE, TEST, startBrowserWorld } from '../support/browser-world.mjs';
import { it } from '../support/fixtures.mjs';
import { eventually, mintIdToken } from '../support/oidc.mjs';

// Only the branded worker: no test here waits for frames.
const QUICK = { quick: false };

describe('the worker\'s pages in a browser', { timeout: 400_000 }, () => {
  let b; // the world of support/browser-world.mjs
  let w; // branded (name, logo), default colours, FRONTCHANNEL_TIMEOUT_MS at its longest (30 s)
  let rpA;
  let rpB;
  let newSession, sessionStatus, open, endSessionUrl, frameHits, assertFrameRequest, assertLanded;
  let assertNoProblems, assertPageHeaders, assertGoesNowhere, submit;

  before(async () => {
    b = await startBrowserWorld(QUICK);
    ({ w, rpA, rpB } = b);
    ({ newSession, sessionStatus, open, endSessionUrl, frameHits, assertFrameRequest, assertLanded } = b);
    ({ assertNoProblems, assertPageHeaders, assertGoesNowhere, submit } = b);
  }, { timeout: 120_000 });

  after(async () => {
    await b?.stop();
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
