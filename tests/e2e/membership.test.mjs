// End-to-end tests of session membership and ended sessions against the built worker under
// `wrangler dev`: clients recorded at once in one session all hear of its end (each recording
// is its own KV key, never a rewrite of the session), and an ended session stays ended (its
// tombstone refuses it being joined, created, read or listed again).
// And `logout_hint`: a hint of another user than the session's never ends it silently.
// Run by scripts/test.sh with Node 22: node --test --test-concurrency=1 tests/e2e/*.test.mjs
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';

import { checkDelivery, providerOf, tokensAt } from '../support/backchannel.mjs';
import { exists, it, newSession, recheckSettled, settled } from '../support/fixtures.mjs';
import { Browser, confirmationForm, endSession, mintIdToken } from '../support/oidc.mjs';
import { start as startRp } from '../../tools/rp.mjs';
import { startWorker } from '../../tools/worker.mjs';

const APPS = Array.from({ length: 12 }, (_, i) => `app${i}`);
const TTL_S = 120; // LOGOUT_TOKEN_TTL_S's default

describe('session membership and ended sessions', { timeout: 150_000 }, () => {
  let w;
  let rp;
  let provider;
  const jtis = new Set();

  before(async () => {
    rp = await startRp();
    w = await startWorker();
    provider = await providerOf(w);
    for (const id of APPS) {
      const r = await w.admin('PUT', `/admin/clients/${id}`, {
        redirect_uris: [`${rp.url}/cb`],
        backchannel_logout_uri: `${rp.url}/bc/${id}`,
      });
      assert.equal(r.status, 201, `${id}: ${r.text}`);
    }
  }, { timeout: 90_000 });

  after(async () => {
    try {
      recheckSettled();
    } finally {
      await Promise.all([w?.stop(), rp?.close()]);
    }
  });

  it('twelve clients recorded at once in one session are all kept, and all get a logout token', async () => {
    const s = await newSession(w, 'mia', []);
    // A single sign-on burst: every recording at once.
    const answers = await Promise.all(APPS.map((id) => w.admin('PUT', `/admin/sessions/${s.sid}/clients/${id}`)));
    answers.forEach((r, i) => assert.equal(r.status, 200, `${APPS[i]}: ${r.text}`));
    const listed = await w.admin('GET', `/admin/sessions/${s.sid}`);
    assert.deepEqual([...listed.json.clients].sort(), [...APPS].sort(), 'no recording lost');

    const r = await w.admin('DELETE', `/admin/sessions/${s.sid}`);
    assert.equal(r.status, 200, r.text);
    const planned = r.json.backchannel.delivered + r.json.backchannel.queued;
    assert.equal(planned, APPS.length, JSON.stringify(r.json.backchannel));
    // One delivery per recorded client, none lost, none twice: by the worker's state and the count.
    await settled(w, 'mia', () => rp.backchannel().filter((t) => t.claims?.sub === 'mia'), Object.fromEntries(APPS.map((id) => [`${id} ${s.sid}`, 1])));
    for (const id of APPS) {
      const [token, ...more] = tokensAt(rp, `/bc/${id}`, 'mia');
      assert.ok(token && more.length === 0, `${id}: exactly one token`);
      await checkDelivery(token, { provider, client: id, alg: 'RS256', sub: 'mia', sid: s.sid, path: `/bc/${id}`, ttl: TTL_S, jtis });
    }
  });

  it('an ended session is never joined, created, read or listed again', async () => {
    const sid = `ended-${Date.now()}`;
    let r = await w.admin('POST', '/admin/sessions', { sub: 'noa', sid, clients: ['app0'] });
    assert.equal(r.status, 201, r.text);
    r = await w.admin('DELETE', `/admin/sessions/${sid}`);
    assert.equal(r.status, 200, r.text);

    r = await w.admin('PUT', `/admin/sessions/${sid}/clients/app1`);
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.error, 'session_ended');
    r = await w.admin('POST', '/admin/sessions', { sub: 'noa', sid, clients: ['app1'] });
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.error, 'session_ended');
    r = await w.admin('GET', `/admin/sessions/${sid}`);
    assert.equal(r.status, 404, r.text);
    r = await w.admin('GET', '/admin/sessions?sub=noa');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.sessions, []);
    // The control: a live session of the same user is created, joined and listed as ever.
    const live = await newSession(w, 'noa', ['app0']);
    r = await w.admin('PUT', `/admin/sessions/${live.sid}/clients/app1`);
    assert.equal(r.status, 200, r.text);
    r = await w.admin('GET', '/admin/sessions?sub=noa');
    assert.deepEqual(r.json.sessions.map((x) => x.sid), [live.sid]);
    // Only app0 heard of the ended session: app1 never joined it.
    await settled(w, 'noa', () => rp.backchannel().filter((t) => t.claims?.sub === 'noa'), { [`app0 ${sid}`]: 1 });
    const told = rp.backchannel().filter((t) => t.claims?.sub === 'noa' && t.claims?.sid === sid).map((t) => t.path);
    assert.deepEqual(told, ['/bc/app0']);
  });
});

describe('logout_hint', { timeout: 120_000 }, () => {
  let w;
  let rp;
  let provider;

  before(async () => {
    rp = await startRp();
    w = await startWorker();
    provider = await providerOf(w);
    const r = await w.admin('PUT', '/admin/clients/app', { redirect_uris: [`${rp.url}/cb`], post_logout_redirect_uris: [`${rp.url}/bye`] });
    assert.equal(r.status, 201, r.text);
  }, { timeout: 90_000 });

  after(async () => {
    await Promise.all([w?.stop(), rp?.close()]);
  });

  /** A session of `sub` answering to `hints`, and a logout from `app` with a valid hint, the cookie and `logout_hint`. */
  async function logOut(sub, hints, logoutHint) {
    const r = await w.admin('POST', '/admin/sessions', { sub, clients: ['app'], logout_hints: hints });
    assert.equal(r.status, 201, r.text);
    const browser = new Browser({ [r.json.cookie_name]: r.json.cookie });
    const idToken = await mintIdToken(w, { sub, sid: r.json.sid, aud: 'app' });
    const params = { id_token_hint: idToken, post_logout_redirect_uri: `${rp.url}/bye`, state: 's', logout_hint: logoutHint };
    return { sid: r.json.sid, answer: await endSession(provider.endpoint, { params, browser }) };
  }

  it('a logout_hint the session answers to (its sub, or a hint given at login) logs out at once', async () => {
    for (const hint of ['eve', 'eve@example.com']) {
      const { sid, answer } = await logOut('eve', ['eve@example.com'], hint);
      assert.equal(answer.status, 303, `${hint}: ${answer.text.slice(0, 200)}`);
      assert.equal(answer.location, `${rp.url}/bye?state=s`);
      assert.ok(!(await exists(w, sid)), `${hint}: the session ended`);
    }
  });

  it('a logout_hint of another user never ends the session silently: the user is asked', async () => {
    for (const hint of ['mallory', 'mallory@example.com', 'EVE@example.com']) {
      const { sid, answer } = await logOut('eve', ['eve@example.com'], hint);
      assert.equal(answer.status, 200, `${hint}: ${answer.status}`);
      assert.ok(confirmationForm(answer.text)?.token, `${hint}: a confirmation form`);
      assert.ok(await exists(w, sid), `${hint}: the session is still there`);
    }
  });
});
