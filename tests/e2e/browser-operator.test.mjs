// End-to-end tests, in headless Chromium against the built worker under `wrangler dev`, of what
// the relying parties and the operator add to the pages: the way back to the application after
// "Stay signed in" (the client's registered `client_uri`), the operator's words (`PAGE_TEXTS`:
// a fifth locale given only there, an override with markup, which stays text) and stylesheet
// (`PROVIDER_STYLESHEET_URL`, allowed by the CSP for exactly its origin). Each test takes a
// screenshot into tests/artifacts/screenshots/.
// Run by scripts/test.sh with Node 22: node --test --test-concurrency=1 tests/e2e/*.test.mjs
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';

import { screenshot, setSessionCookie } from '../support/browser.mjs';
import { PROVIDER, STATE, TEST, startBrowserWorld } from '../support/browser-world.mjs';
import { it } from '../support/fixtures.mjs';
import { eventually } from '../support/oidc.mjs';

// An English text with markup and quotes: it must show as text, never as markup.
const MARKUP = `Nothing changed <script>document.title="pwned"</script> & "quoted" 'single'`;

// Dutch is not built in: it exists only through the setting. What it does not give is English.
const PAGE_TEXTS = {
  nl: {
    confirm_title: 'Afmelden bij {provider}?',
    confirm_from: '{client} vraagt u af te melden.',
    confirm_yes: 'Afmelden',
    confirm_no: 'Aangemeld blijven',
    still_signed_in_title: 'U bent nog aangemeld',
    back_to_client: 'Terug naar {client}',
  },
  en: { still_signed_in_text: MARKUP },
};

const BRAND_CSS = ':root{--operator-css:loaded}main{outline:3px solid rgb(1, 2, 3)}';

describe('what relying parties and the operator add to the pages, in a browser', { timeout: 400_000 }, () => {
  let b; // the world of support/browser-world.mjs
  let w; // branded, with PAGE_TEXTS and PROVIDER_STYLESHEET_URL
  let rpA;
  let rpB;
  let cdn;
  let newSession, sessionStatus, open, endSessionUrl, assertNoProblems, assertPageHeaders, submit;
  const stylesheet = () => `${cdn.url}/brand.css`;

  before(async () => {
    b = await startBrowserWorld({
      quick: false,
      vars: ({ cdn: c }) => ({ PAGE_TEXTS: JSON.stringify(PAGE_TEXTS), PROVIDER_STYLESHEET_URL: `${c.url}/brand.css` }),
    });
    ({ w, rpA, rpB, cdn } = b);
    ({ newSession, sessionStatus, open, endSessionUrl, assertNoProblems, assertPageHeaders, submit } = b);
    cdn.configure('/brand.css', { headers: { 'content-type': 'text/css' }, body: BRAND_CSS });
    // A client with a home page to go back to (app-a and plain of the world have none).
    const r = await w.admin('PUT', '/admin/clients/home-app', {
      redirect_uris: [`${rpA.url}/cb`],
      post_logout_redirect_uris: [`${rpA.url}/bye`],
      client_name: 'Home App',
      client_uri: `${rpA.url}/home?from=op`,
    });
    assert.equal(r.status, 201, r.text);
  }, { timeout: 120_000 });

  after(async () => {
    await b?.stop();
  });

  /** Asks `client_id` to sign out in a fresh browser of a session with it, then "Stay signed in". */
  async function stayFor(clientId, openOptions = {}) {
    const { sid, cookie } = await newSession(w, [clientId]);
    const opened = await open(openOptions);
    await setSessionCookie(opened.context, w.url, cookie);
    await opened.page.goto(endSessionUrl(w, { client_id: clientId, post_logout_redirect_uri: `${rpA.url}/bye`, state: STATE }));
    const stay = opened.page.getByRole('button', { name: 'Stay signed in' });
    const { res } = await submit(opened.page, w, () => stay.click());
    assert.equal(res.status(), 200);
    assertPageHeaders(res, 'en', 'still signed in');
    await opened.page.getByRole('heading', { name: 'You are still signed in' }).waitFor();
    return { ...opened, sid };
  }

  it('"Stay signed in" offers the way back to the client\'s client_uri, and it lands there', TEST, async () => {
    const { page, log, close, sid } = await stayFor('home-app');
    try {
      const back = page.getByRole('link', { name: 'Back to Home App' });
      assert.equal(await back.count(), 1);
      assert.equal(await back.getAttribute('href'), `${rpA.url}/home?from=op`);
      assert.equal(await page.getByRole('link').count(), 1, 'no other link');
      await screenshot(page, 'still-signed-in-way-back-desktop');
      const landings = rpA.gets('/bye').length;
      await back.click();
      await page.waitForURL((u) => u.href.startsWith(`${rpA.url}/home`));
      assert.equal(page.url(), `${rpA.url}/home?from=op`);
      assert.equal(rpA.gets('/home').at(-1).query.from, 'op', 'the relying party got the request');
      assert.equal(rpA.gets('/bye').length, landings, 'never the post-logout URI');
      assert.equal(await sessionStatus(w, sid), 200, 'still signed in');
      assertNoProblems(log);
    } finally {
      await close();
    }
  });

  it('a client without client_uri gets no way back; the operator\'s markup shows as text', TEST, async () => {
    const { page, log, close, sid } = await stayFor('plain');
    try {
      assert.equal(await page.getByRole('link').count(), 0, 'no link without a client_uri');
      // The override, with its markup and quotes, is text on the page: no script, no title change.
      assert.equal(await page.locator('main p').first().textContent(), MARKUP);
      assert.equal(await page.locator('script').count(), 0);
      assert.notEqual(await page.title(), 'pwned');
      await screenshot(page, 'still-signed-in-override-desktop');
      assert.equal(await sessionStatus(w, sid), 200);
      assertNoProblems(log);
    } finally {
      await close();
    }
  });

  it('a fifth locale given only through PAGE_TEXTS is negotiated by Accept-Language', TEST, async () => {
    const { sid, cookie } = await newSession(w, ['home-app']);
    const { context, page, log, close } = await open({ locale: 'nl-NL' });
    try {
      await setSessionCookie(context, w.url, cookie);
      const res = await page.goto(endSessionUrl(w, { client_id: 'home-app' }));
      assert.match(res.request().headers()['accept-language'] ?? '', /^nl/);
      assertPageHeaders(res, 'nl', 'Dutch confirmation');
      assert.equal(await page.getAttribute('html', 'lang'), 'nl');
      await page.getByRole('heading', { name: `Afmelden bij ${PROVIDER}?` }).waitFor();
      assert.equal(await page.getByText('Home App vraagt u af te melden.').count(), 1);
      assert.equal(await page.getByRole('button', { name: 'Afmelden', exact: true }).count(), 1);
      // A text Dutch does not give is English.
      assert.equal(await page.getByText(`You will be signed out of ${PROVIDER} and`).count(), 1);
      await screenshot(page, 'confirm-nl-desktop');
      const { res: kept } = await submit(page, w, () => page.getByRole('button', { name: 'Aangemeld blijven' }).click());
      assertPageHeaders(kept, 'nl', 'Dutch still signed in');
      await page.getByRole('heading', { name: 'U bent nog aangemeld' }).waitFor();
      assert.equal(await page.getByRole('link', { name: 'Terug naar Home App' }).getAttribute('href'), `${rpA.url}/home?from=op`);
      assert.equal(await sessionStatus(w, sid), 200);
      assertNoProblems(log);
    } finally {
      await close();
    }
  });

  it('the fifth locale is negotiated by ui_locales too, before Accept-Language', TEST, async () => {
    const { cookie } = await newSession(w, ['app-a']);
    const { context, page, log, close } = await open({ locale: 'de-DE' });
    try {
      await setSessionCookie(context, w.url, cookie);
      const res = await page.goto(endSessionUrl(w, { client_id: 'app-a', ui_locales: 'xx nl-BE de' }));
      assertPageHeaders(res, 'nl', 'Dutch by ui_locales');
      await page.getByRole('heading', { name: `Afmelden bij ${PROVIDER}?` }).waitFor();
      assert.equal(await page.getByText('App A vraagt u af te melden.').count(), 1);
      // Without ui_locales the same browser gets German, its Accept-Language.
      const de = await page.goto(endSessionUrl(w, { client_id: 'app-a' }));
      assertPageHeaders(de, 'de', 'German by Accept-Language');
      await page.getByRole('heading', { name: `Von ${PROVIDER} abmelden?` }).waitFor();
      assertNoProblems(log);
    } finally {
      await close();
    }
  });

  it('the operator\'s stylesheet is linked and applied; the CSP allows its origin and no other', TEST, async () => {
    const { cookie } = await newSession(w, ['app-a']);
    const { context, page, log, close } = await open();
    try {
      await setSessionCookie(context, w.url, cookie);
      const res = await page.goto(endSessionUrl(w, { client_id: 'app-a' }));
      await page.waitForLoadState('load');
      assert.equal(await page.locator('link[rel="stylesheet"]').getAttribute('href'), stylesheet());
      const csp = res.headers()['content-security-policy'];
      const styleSrc = /(?:^|; )style-src ([^;]*)/.exec(csp)?.[1].split(' ');
      assert.equal(styleSrc?.length, 2, csp);
      assert.match(styleSrc[0], /^'sha256-[A-Za-z0-9+/]+=*'$/, 'the inline stylesheet, by its hash');
      assert.equal(styleSrc[1], cdn.url, 'exactly the stylesheet\'s origin');
      const applied = await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--operator-css').trim());
      assert.equal(applied, 'loaded', 'the stylesheet was loaded and applied');
      assert.ok(cdn.gets('/brand.css').length >= 1, 'the CDN served it');
      await screenshot(page, 'confirm-operator-css-desktop');
      assertNoProblems(log);

      // A stylesheet from another origin is refused, and never requested.
      await page.evaluate((href) => {
        const el = document.createElement('link');
        el.rel = 'stylesheet';
        el.href = href;
        document.head.append(el);
      }, `${rpB.url}/other.css`);
      await eventually(() => log.problems(w.url).some((m) => /Content Security Policy/.test(m.text) && m.text.includes('other.css')), {
        what: `a CSP violation for the other origin's stylesheet: ${JSON.stringify(log.messages)}`,
      });
      assert.equal(rpB.gets('/other.css').length, 0, 'the other origin was not asked');
    } finally {
      await close();
    }
  });

  it('every page links the stylesheet: the error page too', TEST, async () => {
    const { page, log, close } = await open();
    try {
      const res = await page.goto(endSessionUrl(w, { id_token_hint: 'not-a-token' }));
      assert.equal(res.status(), 400);
      assert.equal(await page.locator('link[rel="stylesheet"]').getAttribute('href'), stylesheet());
      assert.match(res.headers()['content-security-policy'], new RegExp(`style-src '[^']+' ${cdn.url};`));
      // The document's own 400 is reported as a failed load; nothing else may be.
      assert.deepEqual(log.problems().filter((m) => !/status of 400/.test(m.text)), []);
    } finally {
      await close();
    }
  });
});
