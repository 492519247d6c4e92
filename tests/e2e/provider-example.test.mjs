// The worked example of the README's "Put edge-logout beside your provider": node-oidc-provider 9
// as the login half beside edge-logout under one issuer (examples/node-oidc-provider, started as
// it is for a user: wrangler dev, the login half and two openid-client relying parties as child
// processes, the router), driven by headless Chromium through real logins and logouts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { startExample } from '../../examples/node-oidc-provider/example.mjs';
import { DESKTOP, launchBrowser, screenshot } from '../support/browser.mjs';
import { publicJwk } from '../support/keys.mjs';
import { eventually } from '../support/time.mjs';

const TEST = { timeout: 120_000 };
const USER = 'alice';

describe('edge-logout beside node-oidc-provider (examples/node-oidc-provider)', () => {
  let ex;
  let browser;
  let context;
  let page;
  before(async () => {
    const started = await Promise.allSettled([startExample(), launchBrowser()]);
    [ex, browser] = started.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) {
      await browser?.close();
      await ex?.stop();
      throw failed.reason;
    }
    context = await browser.newContext({ viewport: DESKTOP, locale: 'en-US' });
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
  });
  after(async () => {
    await browser?.close().catch(() => {});
    await ex?.stop();
  });

  const [rp1, rp2] = [0, 1].map((i) => ({ get url() { return ex.rps[i].url; }, get rp() { return ex.rps[i]; } }));
  const loginKids = () => new Set(ex.loginJwks.keys.map((k) => k.kid));

  /** The interaction (login) pages the browser asks for while `action` runs. */
  async function loginPagesDuring(action) {
    const seen = [];
    const onRequest = (req) => {
      if (new URL(req.url()).pathname.startsWith('/interaction/')) seen.push(req.url());
    };
    page.on('request', onRequest);
    try {
      await action();
    } finally {
      page.off('request', onRequest);
    }
    return seen;
  }

  async function signedInAs() {
    const status = await page.locator('#status').textContent();
    if (!status.startsWith('Signed in as')) return null;
    return { sub: await page.locator('#sub').textContent(), sid: await page.locator('#sid').textContent() };
  }

  /** Signs in at `rp` with the password: the login page must be asked for. Returns the sid. */
  async function signInWithPassword(rp) {
    await page.goto(`${rp.url}/login`);
    await page.locator('#login-form').waitFor();
    assert.ok(page.url().startsWith(`${ex.issuer}/interaction/`), page.url());
    await page.fill('input[name=login]', USER);
    await page.fill('input[name=password]', ex.password);
    await page.click('button[type=submit]');
    await page.waitForURL(`${rp.url}/`);
    const who = await signedInAs();
    assert.equal(who?.sub, USER);
    return who.sid;
  }

  /** Signs in at `rp` without a login page (single sign-on). Returns the sid. */
  async function signInSilently(rp) {
    const pages = await loginPagesDuring(async () => {
      await page.goto(`${rp.url}/login`);
      await page.waitForURL(`${rp.url}/`);
    });
    assert.deepEqual(pages, [], 'single sign-on asks for no login page');
    const who = await signedInAs();
    assert.equal(who?.sub, USER);
    return who.sid;
  }

  /** The back-channel logout tokens `rp` verified for `sid`, once there are any. */
  async function verifiedLogouts(rp, sid) {
    return eventually(async () => {
      const { events } = await rp.rp.events();
      const hits = events.filter((e) => e.type === 'backchannel' && e.sid === sid);
      return hits.length ? hits : undefined;
    }, { what: `a logout token at ${rp.rp.clientId} for ${sid}` });
  }

  it('serves one discovery document and one jwks_uri for both halves', TEST, async () => {
    const d = await (await fetch(`${ex.issuer}/.well-known/openid-configuration`)).json();
    assert.equal(d.issuer, ex.issuer);
    assert.equal(d.jwks_uri, `${ex.issuer}/jwks`);
    assert.equal(d.end_session_endpoint, `${ex.issuer}/session/end`);
    // The login half's endpoints, merged in through PROVIDER_METADATA, on the same origin.
    assert.equal(d.authorization_endpoint, `${ex.issuer}/auth`);
    assert.equal(d.token_endpoint, `${ex.issuer}/token`);
    assert.equal(d.backchannel_logout_supported, true);

    const jwks = await (await fetch(d.jwks_uri)).json();
    const served = new Map(jwks.keys.map((k) => [k.kid, k]));
    const signing = JSON.parse(ex.worker.vars.SIGNING_JWKS).keys;
    assert.equal(jwks.keys.length, signing.length + ex.loginJwks.keys.length);
    for (const k of [...signing, ...ex.loginJwks.keys]) {
      const { use, ...expected } = publicJwk(k);
      const { use: servedUse, ...got } = served.get(k.kid) ?? {};
      assert.deepEqual(got, expected, `the public half of ${k.kid}`);
    }
    for (const k of jwks.keys) {
      for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(k[member], undefined, `${member} of ${k.kid}`);
    }
  });

  for (const { name, blockCookie } of [
    { name: 'with the session cookie', blockCookie: false },
    { name: 'with the op_session cookie blocked: confirmation first', blockCookie: true },
  ]) {
    it(`logs in to RP 1, then RP 2 silently; signs out at RP 1 ${name}; both RPs end their sessions`, TEST, async () => {
      // 1. Log in to RP 1 (password), then RP 2 silently: one session, one sid for both.
      const sid = await signInWithPassword(rp1);
      assert.equal(await signInSilently(rp2), sid);
      const session = await ex.worker.admin('GET', `/admin/sessions/${encodeURIComponent(sid)}`);
      assert.equal(session.status, 200, session.text);
      assert.equal(session.json.sub, USER);
      assert.deepEqual([...session.json.clients].sort(), ['rp-1', 'rp-2']);
      const cookie = (await context.cookies(ex.issuer)).find((c) => c.name === 'op_session');
      assert.ok(cookie?.value.startsWith(`${Buffer.from(sid).toString('base64url')}.`), 'op_session names the session');
      // Each RP verified its ID token at jwks_uri; the login half signed it with its own key.
      for (const [rp, alg] of [[rp1, 'RS256'], [rp2, 'ES256']]) {
        const login = (await rp.rp.events()).events.filter((e) => e.type === 'login' && e.sid === sid);
        assert.equal(login.length, 1, rp.rp.clientId);
        assert.equal(login[0].alg, alg);
        assert.ok(loginKids().has(login[0].kid), `${login[0].kid} is a key of the login half`);
      }

      // 2. Sign out at RP 1.
      await page.goto(`${rp1.url}/`);
      if (blockCookie) await context.clearCookies({ name: 'op_session' });
      await page.click('#logout');
      if (blockCookie) {
        // 6. Without the cookie the hint does not name this browser's session: the user is asked.
        await page.getByRole('heading', { level: 1, name: 'Sign out of Example ID?' }).waitFor();
        await screenshot(page, 'provider-example-confirm');
        await page.getByRole('button', { name: 'Sign out', exact: true }).click();
      }

      // 4. The browser lands on RP 1's post-logout URI with the state RP 1 sent.
      await page.waitForURL((u) => u.href.startsWith(`${rp1.url}/bye?`));
      const sent = (await rp1.rp.events()).events.filter((e) => e.type === 'logout_started').at(-1);
      assert.equal(sent.sid, sid);
      assert.equal(new URL(page.url()).searchParams.get('state'), sent.state);
      assert.equal(await page.locator('#state').textContent(), sent.state);
      assert.equal(await page.locator('#status').textContent(), 'Signed out.');

      // 3. Both RPs got a logout token they verified against jwks_uri, and ended their session.
      for (const rp of [rp1, rp2]) {
        const tokens = await verifiedLogouts(rp, sid);
        assert.ok(tokens.every((t) => t.verified && t.sub === USER), JSON.stringify(tokens));
        assert.equal(tokens.reduce((n, t) => n + t.ended, 0), 1, `${rp.rp.clientId} ended its one session`);
        const { sessions, events } = await rp.rp.events();
        assert.deepEqual(sessions.filter((s) => s.sid === sid), []);
        assert.deepEqual(events.filter((e) => e.type === 'backchannel' && !e.verified), [], 'no token was refused');
        await page.goto(`${rp.url}/`);
        assert.equal(await page.locator('#status').textContent(), 'Not signed in.');
      }
      assert.equal((await ex.worker.admin('GET', `/admin/sessions/${encodeURIComponent(sid)}`)).status, 404);
      // The login half heard of it (session-ended event) and destroyed its own session.
      await ex.loginHalf.waitForOutput(new RegExp(`session ended: sid=${sid} reason=rp_logout`));

      // 5. No silent re-login: prompt=none fails, and a login asks for credentials again.
      const silent = await loginPagesDuring(async () => {
        await page.goto(`${rp1.url}/login?prompt=none`);
        await page.locator('#error').waitFor();
      });
      assert.deepEqual(silent, []);
      assert.equal(await page.locator('#error').textContent(), 'login_required');
      await page.goto(`${rp2.url}/login`);
      await page.locator('#login-form').waitFor();
      assert.ok(page.url().startsWith(`${ex.issuer}/interaction/`), page.url());
    });
  }
});
