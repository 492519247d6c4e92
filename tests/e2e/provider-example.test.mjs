// The worked example of the README's "Put edge-logout beside your provider": node-oidc-provider 9
// as the login half beside edge-logout under one issuer (examples/node-oidc-provider, started as
// it is for a user: wrangler dev, the login half and two openid-client relying parties as child
// processes, the router), driven by headless Chromium through real logins and logouts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { startExample } from '../../examples/node-oidc-provider/example.mjs';
import { DESKTOP, launchBrowser, screenshot } from '../support/browser.mjs';
import { publicJwk } from '../../tools/keys.mjs';
import { start as startRp } from '../../tools/rp.mjs';
import { eventually } from '../../tools/time.mjs';
import { freePort, ROOT } from '../../tools/worker.mjs';

const TEST = { timeout: 120_000 };
const USER = 'alice';

/**
 * The example (its options: startExample's) and a browser page, for one describe:
 * `before(() => t.start())`, `after(() => t.stop())`, then `t.ex`, `t.page`, `t.context`.
 */
function world(options) {
  const t = {
    async start() {
      // The example's ports are picked free, then bound by its processes a moment later; a
      // port taken in between (wrangler's own inspector and workerd pick theirs at the same
      // time) fails the start with EADDRINUSE: start again on fresh ports, up to three times.
      for (let attempt = 1; ; attempt++) {
        const started = await Promise.allSettled([startExample(options), launchBrowser()]);
        [t.ex, t.browser] = started.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
        const failed = started.find((r) => r.status === 'rejected');
        if (!failed) break;
        await t.stop();
        if (attempt >= 3 || !String(failed.reason?.message ?? failed.reason).includes('EADDRINUSE')) throw failed.reason;
      }
      t.context = await t.browser.newContext({ viewport: DESKTOP, locale: 'en-US' });
      t.context.setDefaultTimeout(15_000);
      t.page = await t.context.newPage();
    },
    async stop() {
      await t.browser?.close().catch(() => {});
      await t.ex?.stop();
    },
    rp: (i) => t.ex.rps[i],
  };
  return t;
}

/** The interaction (login) pages the browser asks for while `action` runs. */
async function loginPagesDuring(t, action) {
  const seen = [];
  const onRequest = (req) => {
    if (new URL(req.url()).pathname.startsWith('/interaction/')) seen.push(req.url());
  };
  t.page.on('request', onRequest);
  try {
    await action();
  } finally {
    t.page.off('request', onRequest);
  }
  return seen;
}

async function signedInAs(t) {
  const status = await t.page.locator('#status').textContent();
  if (!status.startsWith('Signed in as')) return null;
  return { sub: await t.page.locator('#sub').textContent(), sid: await t.page.locator('#sid').textContent() };
}

/** Signs in at `rp` with the password: the login page must be asked for. Returns the sid. */
async function signInWithPassword(t, rp) {
  await t.page.goto(`${rp.url}/login`);
  await t.page.locator('#login-form').waitFor();
  assert.ok(t.page.url().startsWith(`${t.ex.issuer}/interaction/`), t.page.url());
  await t.page.fill('input[name=login]', USER);
  await t.page.fill('input[name=password]', t.ex.password);
  await t.page.click('button[type=submit]');
  await t.page.waitForURL(`${rp.url}/`);
  const who = await signedInAs(t);
  assert.equal(who?.sub, USER);
  return who.sid;
}

/** Signs in at `rp` without a login page (single sign-on). Returns the sid. */
async function signInSilently(t, rp) {
  const pages = await loginPagesDuring(t, async () => {
    await t.page.goto(`${rp.url}/login`);
    await t.page.waitForURL(`${rp.url}/`);
  });
  assert.deepEqual(pages, [], 'single sign-on asks for no login page');
  const who = await signedInAs(t);
  assert.equal(who?.sub, USER);
  return who.sid;
}

/** Signs in at RP 1 with the password, then at RP 2 silently: one session. Returns its sid. */
async function signInToBoth(t) {
  const sid = await signInWithPassword(t, t.rp(0));
  assert.equal(await signInSilently(t, t.rp(1)), sid);
  return sid;
}

/** The back-channel logout tokens `rp` verified for `sid`, once there are any. */
async function verifiedLogouts(rp, sid) {
  return eventually(async () => {
    const { events } = await rp.events();
    const hits = events.filter((e) => e.type === 'backchannel' && e.sid === sid);
    return hits.length ? hits : undefined;
  }, { what: `a logout token at ${rp.clientId} for ${sid}` });
}

/** Both RPs verified a logout token for `sid` against jwks_uri and ended their one session. */
async function assertBothSignedOut(t, sid) {
  for (const rp of t.ex.rps) {
    const tokens = await verifiedLogouts(rp, sid);
    assert.ok(tokens.every((e) => e.verified && e.sub === USER), JSON.stringify(tokens));
    assert.equal(tokens.reduce((n, e) => n + e.ended, 0), 1, `${rp.clientId} ended its one session`);
    const { sessions, events } = await rp.events();
    assert.deepEqual(sessions.filter((s) => s.sid === sid), []);
    assert.deepEqual(events.filter((e) => e.type === 'backchannel' && !e.verified), [], 'no token was refused');
    await t.page.goto(`${rp.url}/`);
    assert.equal(await t.page.locator('#status').textContent(), 'Not signed in.');
  }
  assert.equal((await t.ex.worker.admin('GET', `/admin/sessions/${encodeURIComponent(sid)}`)).status, 404);
}

/** No silent re-login: prompt=none at RP 1 fails, and a login at RP 2 asks for credentials. */
async function assertLoginAskedAgain(t) {
  const silent = await loginPagesDuring(t, async () => {
    await t.page.goto(`${t.rp(0).url}/login?prompt=none`);
    await t.page.locator('#error').waitFor();
  });
  assert.deepEqual(silent, []);
  assert.equal(await t.page.locator('#error').textContent(), 'login_required');
  await t.page.goto(`${t.rp(1).url}/login`);
  await t.page.locator('#login-form').waitFor();
  assert.ok(t.page.url().startsWith(`${t.ex.issuer}/interaction/`), t.page.url());
}

describe('edge-logout beside node-oidc-provider (examples/node-oidc-provider)', () => {
  const t = world();
  before(() => t.start());
  after(() => t.stop());

  it('serves one discovery document and one jwks_uri for both halves', TEST, async () => {
    const { ex } = t;
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
      assert.deepEqual(served.get(k.kid), publicJwk(k), `the public half of ${k.kid}`);
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
      const { ex, page, context } = t;
      const [rp1, rp2] = ex.rps;
      // 1. Log in to RP 1 (password), then RP 2 silently: one session, one sid for both.
      const sid = await signInToBoth(t);
      const session = await ex.worker.admin('GET', `/admin/sessions/${encodeURIComponent(sid)}`);
      assert.equal(session.status, 200, session.text);
      assert.equal(session.json.sub, USER);
      assert.deepEqual([...session.json.clients].sort(), ['rp-1', 'rp-2']);
      const cookie = (await context.cookies(ex.issuer)).find((c) => c.name === 'op_session');
      assert.ok(cookie?.value.startsWith(`${Buffer.from(sid).toString('base64url')}.`), 'op_session names the session');
      // Each RP verified its ID token at jwks_uri; the login half signed it with its own key.
      const loginKids = new Set(ex.loginJwks.keys.map((k) => k.kid));
      for (const [rp, alg] of [[rp1, 'RS256'], [rp2, 'ES256']]) {
        const login = (await rp.events()).events.filter((e) => e.type === 'login' && e.sid === sid);
        assert.equal(login.length, 1, rp.clientId);
        assert.equal(login[0].alg, alg);
        assert.ok(loginKids.has(login[0].kid), `${login[0].kid} is a key of the login half`);
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
      const sent = (await rp1.events()).events.filter((e) => e.type === 'logout_started').at(-1);
      assert.equal(sent.sid, sid);
      assert.equal(new URL(page.url()).searchParams.get('state'), sent.state);
      assert.equal(await page.locator('#state').textContent(), sent.state);
      assert.equal(await page.locator('#status').textContent(), 'Signed out.');

      // 3. Both RPs got a logout token they verified against jwks_uri, and ended their session.
      await assertBothSignedOut(t, sid);
      // The login half heard of it (session-ended event) and destroyed its own session.
      await ex.loginHalf.waitForOutput(new RegExp(`session ended: sid=${sid} reason=rp_logout`));

      // 5. No silent re-login.
      await assertLoginAskedAgain(t);
      // The event had destroyed the login half's session: the check at authorization found none.
      assert.doesNotMatch(ex.loginHalf.output(), new RegExp(`session ${sid} is over at edge-logout`));
    });
  }
});

describe('examples/node-oidc-provider while the session-ended event cannot reach the login half', () => {
  let events; // stands in for the login half's events endpoint: answers 503, so edge-logout retries
  const t = world({
    workerVars: (v) => ({ ...v, SESSION_EVENTS_URI: `${events.url}/held` }),
  });
  before(async () => {
    events = await startRp();
    events.configure('/held', { status: 503 });
    await t.start();
  });
  after(async () => {
    await t.stop();
    await events?.close();
  });

  it('still asks for credentials after the logout: the login half checks the session at edge-logout', TEST, async () => {
    const sid = await signInToBoth(t);
    await t.page.goto(`${t.rp(0).url}/`);
    await t.page.click('#logout');
    await t.page.waitForURL((u) => u.href.startsWith(`${t.rp(0).url}/bye?`));
    await assertBothSignedOut(t, sid);
    // The event was sent and refused: the login half has not heard of the logout.
    const sent = await events.waitFor((r) => r.method === 'POST' && r.path === '/held');
    assert.equal(sent.headers['content-type'], 'application/secevent+jwt');
    assert.doesNotMatch(t.ex.loginHalf.output(), /session ended:/);

    await assertLoginAskedAgain(t);
    assert.match(t.ex.loginHalf.output(), new RegExp(`session ${sid} is over at edge-logout: sign-in required`));
  });
});

describe('examples/node-oidc-provider with a relying party of the operator\'s, from a file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-logout-own-rp-'));
  const options = { relyingPartiesFile: path.join(dir, 'relying-parties.json') };
  const t = world(options);
  const own = { clientId: 'my-app', secret: 'a-secret-of-the-operators-app' };
  let app; // the operator's application: the example's openid-client RP, started as any app would be

  before(async () => {
    own.port = await freePort();
    own.url = `http://127.0.0.1:${own.port}`;
    fs.writeFileSync(options.relyingPartiesFile, JSON.stringify([{
      client_id: own.clientId,
      client_secret: own.secret,
      client_name: 'My App',
      redirect_uris: [`${own.url}/cb`],
      post_logout_redirect_uris: [`${own.url}/bye`],
      backchannel_logout_uri: `${own.url}/backchannel`,
    }]));
    await t.start();
    app = spawn(process.execPath, [path.join(ROOT, 'examples/node-oidc-provider/relying-party.mjs')], {
      env: { ...process.env, ISSUER: t.ex.issuer, RP_PORT: String(own.port), CLIENT_ID: own.clientId, CLIENT_SECRET: own.secret, RP_NAME: 'My App' },
      stdio: 'ignore',
    });
    await eventually(async () => (await fetch(`${own.url}/events.json`).catch(() => ({ ok: false }))).ok || undefined, { what: 'the operator\'s app' });
  });
  after(async () => {
    app?.kill();
    await t.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a wrong file before starting anything, naming the entry and the field', TEST, async () => {
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify([{ client_id: 'x', client_secret: 's', redirect_uris: ['http://127.0.0.1:1/cb'], logout_uri: 'y' }]));
    await assert.rejects(startExample({ relyingPartiesFile: bad }), /entry 0: unknown field logout_uri/);
    fs.writeFileSync(bad, JSON.stringify([{ client_id: 'rp-1', client_secret: 's', redirect_uris: ['http://127.0.0.1:1/cb'] }]));
    await assert.rejects(startExample({ relyingPartiesFile: bad }), /client_id rp-1 is already in use/);
  });

  it('signs in to the operator\'s relying party and out of it: it gets a verified logout token', TEST, async () => {
    assert.deepEqual(t.ex.ownRps.map((c) => c.client_id), [own.clientId]);
    const rp = { url: own.url, clientId: own.clientId, events: async () => (await fetch(`${own.url}/events.json`)).json() };
    const sid = await signInWithPassword(t, rp);
    const session = await t.ex.worker.admin('GET', `/admin/sessions/${encodeURIComponent(sid)}`);
    assert.equal(session.status, 200, session.text);
    assert.deepEqual(session.json.clients, [own.clientId]);

    await t.page.goto(`${own.url}/`);
    await t.page.click('#logout');
    await t.page.waitForURL((u) => u.href.startsWith(`${own.url}/bye?`));
    assert.equal(await t.page.locator('#status').textContent(), 'Signed out.');
    const tokens = await verifiedLogouts(rp, sid);
    assert.ok(tokens.every((e) => e.verified && e.sub === USER), JSON.stringify(tokens));
    assert.equal((await t.ex.worker.admin('GET', `/admin/sessions/${encodeURIComponent(sid)}`)).status, 404);
    await t.page.goto(`${own.url}/`);
    assert.equal(await t.page.locator('#status').textContent(), 'Not signed in.');
  });
});
