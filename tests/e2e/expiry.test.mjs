// End-to-end test of expiry under `wrangler dev` (#24): a session that reaches its expiry is
// ended by the cron as a logout is. The scheduled handler is triggered over HTTP (tools/worker.mjs
// `scheduled()`, wrangler dev's --test-scheduled), at a time after the expiry: its clock is the
// tick's scheduled time, so no minute of real waiting. Each relying party gets one verified
// logout token, the login system one session-ended event with reason `expired`, and the admin
// API no longer knows the session; a tick run again ends nothing twice.
// Run by scripts/test.sh with Node 22: node --test --test-concurrency=1 tests/e2e/*.test.mjs
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';

import { checkDelivery, providerOf, startScriptedRp, tokensAt } from '../support/backchannel.mjs';
import { it, recheckSettled, settled } from '../support/fixtures.mjs';
import { SESSION_ENDED_EVENT, eventually, verifySessionEvent } from '../support/oidc.mjs';
import { start as startRp } from '../../tools/rp.mjs';
import { startWorker } from '../../tools/worker.mjs';

const AUDIENCE = 'https://login.example/edge-logout';
const TTL_S = 120;
// src/protocol/expiry.rs LAG_S: a session is ended from KV's window (210 s) after its expiry on.
const LAG_S = 210;

describe('expiry is a logout, under wrangler dev', { timeout: 240_000 }, () => {
  let w;
  let rp; // the two relying parties, at /a and /b
  let login; // the login system's receiver of session-ended events
  let provider;
  const jtis = new Set();

  before(async () => {
    rp = await startScriptedRp();
    login = await startRp();
    login.configure('/events', { status: 202 });
    w = await startWorker({
      vars: (v) => ({
        ...v,
        SESSION_EVENTS_URI: `${login.url}/events`,
        SESSION_EVENTS_AUDIENCE: AUDIENCE,
        LOGOUT_TOKEN_TTL_S: String(TTL_S),
      }),
    });
    provider = await providerOf(w);
    for (const id of ['a', 'b']) {
      const r = await w.admin('PUT', `/admin/clients/rp-${id}`, { redirect_uris: [`${rp.url}/cb`], backchannel_logout_uri: `${rp.url}/${id}` });
      assert.equal(r.status, 201, r.text);
    }
  }, { timeout: 90_000 });

  after(async () => {
    try {
      recheckSettled();
    } finally {
      await Promise.all([w?.stop(), rp?.close(), login?.close()]);
    }
  });

  /** The session-ended events of `sid` the receiver answered 2xx, in order. */
  const eventsOf = (sid) => login.received.filter((x) => {
    if (x.path !== '/events' || x.method !== 'POST' || !(x.answeredStatus >= 200 && x.answeredStatus < 300)) return false;
    try {
      return JSON.parse(Buffer.from(x.body.split('.')[1], 'base64url').toString()).events?.[SESSION_ENDED_EVENT]?.sid === sid;
    } catch {
      return false;
    }
  });

  it('a session with expires_in 60 and two relying parties: after its expiry, the tick tells each and the login system, and the session is gone', async () => {
    const r = await w.admin('POST', '/admin/sessions', { sub: 'una', clients: ['rp-a', 'rp-b'], expires_in: 60 });
    assert.equal(r.status, 201, r.text);
    w.neverLog?.add(r.json.cookie);
    const { sid, expires_at: expiresAt } = r.json;
    const tokens = () => [...tokensAt(rp, '/a', 'una'), ...tokensAt(rp, '/b', 'una')];

    // A tick before the expiry ends nothing: the session is still there.
    assert.equal(await w.scheduled(), 'ok');
    assert.equal((await w.admin('GET', `/admin/sessions/${sid}`)).status, 200);
    assert.deepEqual(tokens(), []);

    // The tick of KV's window after the expiry, run now.
    const later = (expiresAt + LAG_S + 1) * 1000;
    assert.equal(await w.scheduled({ time: later }), 'ok');
    // Once each, by the worker's own state: nothing failed, nothing left in the outbox.
    await settled(w, 'una', tokens, { [`rp-a ${sid}`]: 1, [`rp-b ${sid}`]: 1 });
    for (const [client, path] of [['rp-a', '/a'], ['rp-b', '/b']]) {
      const [rec] = tokensAt(rp, path, 'una');
      await checkDelivery(rec, { provider, client, alg: 'RS256', sub: 'una', sid, path, ttl: TTL_S, jtis });
    }
    const [event] = await eventually(() => (eventsOf(sid).length ? eventsOf(sid) : null), { timeoutMs: 60_000, what: `the session-ended event of ${sid}` });
    assert.equal(event.headers['content-type'], 'application/secevent+jwt');
    const { payload } = await verifySessionEvent(event.body, { jwks: provider.jwks, issuer: provider.issuer, audience: AUDIENCE });
    assert.deepEqual(payload.events[SESSION_ENDED_EVENT], { sid, sub: 'una', reason: 'expired' });

    // Gone from the admin API; its sid cannot be created again.
    assert.equal((await w.admin('GET', `/admin/sessions/${sid}`)).status, 404);
    const again = await w.admin('POST', '/admin/sessions', { sub: 'una', sid, clients: ['rp-a'] });
    assert.equal(again.status, 409, again.text);
    assert.equal(again.json.error, 'session_ended');

    // The same tick again (the handler is safe to run any number of times): nobody told twice.
    assert.equal(await w.scheduled({ time: later }), 'ok');
    await settled(w, 'una', tokens, { [`rp-a ${sid}`]: 1, [`rp-b ${sid}`]: 1 });
    assert.equal(eventsOf(sid).length, 1, 'one session-ended event');
  });
});
