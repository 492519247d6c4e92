// End-to-end tests of logout as a person sees it, in headless Chromium (playwright-core, Debian's
// Chromium; scripts/setup-browser.sh installs it) against the built worker under `wrangler dev`,
// with two relying parties on two ports of 127.0.0.1 (two origins): the ways out of a sign-out
// (front-channel frames, with and without JavaScript, a frame that hangs, "Stay signed in", a
// hint that needs no question, nowhere to return to). Each test takes a screenshot of the pages
// it shows into tests/artifacts/screenshots/ and checks that the pages print no console error
// (a CSP violation is one). How the pages speak and look: browser-pages.test.mjs.
// Run by scripts/test.sh with Node 22: node --test --test-concurrency=1 tests/e2e/*.test.mjs
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';

import { screenshot, setSessionCookie } from '../support/browser.mjs';
import { END_SESSION, PROVIDER, QUICK_TIMEOUT_MS, SLOW_TIMEOUT_MS, STATE, TEST, startBrowserWorld } from '../support/browser-world.mjs';
import { it } from '../support/fixtures.mjs';
import { mintIdToken } from '../support/oidc.mjs';

const QUICK = { quick: true };

describe('logout in a browser', { timeout: 400_000 }, () => {
  let b; // the world of support/browser-world.mjs
  let w; // branded (name, logo), default colours, FRONTCHANNEL_TIMEOUT_MS at its longest (30 s)
  let w2; // unbranded (the name is the issuer's host), FRONTCHANNEL_TIMEOUT_MS=1500
  let rpA;
  let rpB;
  let newSession, sessionStatus, open, endSessionUrl, frameHits, assertFrameRequest, assertLanded;
  let assertNoProblems, assertPageHeaders, assertGoesNowhere, submit;

  before(async () => {
    b = await startBrowserWorld(QUICK);
    ({ w, w2, rpA, rpB } = b);
    ({ newSession, sessionStatus, open, endSessionUrl, frameHits, assertFrameRequest, assertLanded } = b);
    ({ assertNoProblems, assertPageHeaders, assertGoesNowhere, submit } = b);
  }, { timeout: 120_000 });

  after(async () => {
    await b?.stop();
  });

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

      await page.waitForURL((u) => u.href.startsWith(`${rpA.url}/bye`), { timeout: refresh * 1000 + 60_000 });
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
      await rpB.waitFor((r) => r.path === '/fc-hang' && r.query.sid === sid, 60_000);
      await screenshot(page, 'frontchannel-desktop');

      await page.waitForURL((u) => u.href.startsWith(`${rpA.url}/bye`), { timeout: QUICK_TIMEOUT_MS + 60_000 });
      const took = Date.now() - at;
      assertLanded(page.url(), rpA);
      // It waited for the timeout (the hanging frame kept the load event away), and no longer:
      // by the RP stubs' clock, from the hanging frame's request to the landing, with a margin
      // for a loaded machine.
      assert.ok(took >= QUICK_TIMEOUT_MS - 300, `went on after ${took} ms, before the timeout`);
      const hung = frameHits(rpB, '/fc-hang', sid)[0];
      const landed = rpA.gets('/bye').at(-1);
      // The frame hung for the whole timeout (its request still open when the timer ran out, or
      // never closed): the page went on by its timer with the frame unanswered, not because the
      // frame ended. No upper bound in time: a busy machine may land late, never early.
      assert.ok(hung.answeredStatus === undefined && (hung.closedAt === undefined || hung.closedAt - hung.at >= QUICK_TIMEOUT_MS - 300), `the hanging frame's request ended ${hung.closedAt - hung.at} ms after it came, before the timeout`);
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
      await rpA.waitFor((r) => r.path === '/fc' && r.query.sid === sid, 60_000);
      await rpB.waitFor((r) => r.path === '/fc' && r.query.sid === sid, 60_000);
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
});
