// End-to-end tests of the session-ended events edge-logout sends to the login system
// (SESSION_EVENTS_URI): a Security Event Token (RFC 8417) per ended session, POSTed as
// application/secevent+jwt, for every way a session ends, through the same durable delivery
// as logout tokens (a failed event is retried).
// Run by scripts/test.sh with Node 22: node --test --test-concurrency=1 tests/e2e/*.test.mjs
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';

import { providerOf } from '../support/backchannel.mjs';
import { it, leftInOutbox, newSession } from '../support/fixtures.mjs';
import { SESSION_ENDED_EVENT, endSession, eventually, mintIdToken, verifySessionEvent } from '../support/oidc.mjs';
import { start as startRp } from '../../tools/rp.mjs';
import { startWorker } from '../../tools/worker.mjs';

const AUDIENCE = 'https://login.example/edge-logout';

describe('session-ended events to the login system', { timeout: 150_000 }, () => {
  let w;
  let login; // the login system's receiver
  let provider;

  before(async () => {
    login = await startRp();
    // A receiver answers 202 Accepted (RFC 8935).
    login.configure('/events', { status: 202 });
    w = await startWorker({
      vars: (v) => ({
        ...v,
        SESSION_EVENTS_URI: `${login.url}/events`,
        SESSION_EVENTS_AUDIENCE: AUDIENCE,
        BACKCHANNEL_RETRY_DELAY_S: '1',
      }),
    });
    provider = await providerOf(w);
    const r = await w.admin('PUT', '/admin/clients/app', { redirect_uris: [`${login.url}/cb`], post_logout_redirect_uris: [`${login.url}/bye`] });
    assert.equal(r.status, 201, r.text);
  }, { timeout: 90_000 });

  after(async () => {
    await Promise.all([w?.stop(), login?.close()]);
  });

  /** The session-ended event a request to the receiver carries (its sid), or undefined. */
  const eventSid = (x) => {
    if (x.path !== '/events' || x.method !== 'POST' || !x.body.includes('.')) return undefined;
    try {
      return JSON.parse(Buffer.from(x.body.split('.')[1], 'base64url').toString()).events?.[SESSION_ENDED_EVENT]?.sid;
    } catch {
      return undefined;
    }
  };

  /**
   * The one event of session `sid` (of `sub`) the receiver took, verified; its payload. Once,
   * by evidence: the worker has nothing left to send for `sub` (no failed delivery waiting for
   * a retry, the outbox empty), and then exactly one request for `sid` was answered 2xx; any
   * other was a failed attempt (answered otherwise), the cause of the retry that followed. Every
   * attempt is a new token (its own jti), so bodies cannot tell a duplicate: the answers do.
   */
  async function eventOf(sid, sub) {
    const taken = () => login.received.filter((x) => eventSid(x) === sid && x.answeredStatus >= 200 && x.answeredStatus < 300);
    const rec = await eventually(() => taken()[0], { timeoutMs: 60_000, what: `the event of ${sid}` });
    await eventually(async () => {
      const r = await w.admin('GET', '/admin/deliveries?status=failed');
      assert.equal(r.status, 200, r.text);
      return !r.json.deliveries.some((d) => d.sub === sub) && leftInOutbox(w).length === 0;
    }, { timeoutMs: 60_000, what: `nothing left to send for ${sub}` });
    assert.equal(rec.headers['content-type'], 'application/secevent+jwt');
    const { payload, protectedHeader } = await verifySessionEvent(rec.body, { jwks: provider.jwks, issuer: provider.issuer, audience: AUDIENCE });
    assert.equal(protectedHeader.typ, 'secevent+jwt');
    assert.deepEqual(Object.keys(payload).sort(), ['aud', 'events', 'iat', 'iss', 'jti']);
    assert.ok(payload.jti.length >= 16);
    const all = login.received.filter((x) => eventSid(x) === sid);
    assert.equal(taken().length, 1, `sent once: ${taken().length} events of ${sid} taken (${all.map((x) => x.answeredStatus ?? 'unanswered').join(', ')})`);
    const jtis = all.map((x) => JSON.parse(Buffer.from(x.body.split('.')[1], 'base64url').toString()).jti);
    assert.equal(new Set(jtis).size, jtis.length, `a jti sent twice: ${jtis}`);
    return payload.events[SESSION_ENDED_EVENT];
  }

  it('the user\'s logout: reason rp_logout, with the client that asked', async () => {
    const s = await newSession(w, 'ana', ['app']);
    const hint = await mintIdToken(w, { sub: 'ana', sid: s.sid, aud: 'app' });
    const r = await endSession(provider.endpoint, { params: { id_token_hint: hint, post_logout_redirect_uri: `${login.url}/bye` }, browser: s.browser });
    assert.equal(r.status, 303, r.text.slice(0, 200));
    assert.deepEqual(await eventOf(s.sid, 'ana'), { sid: s.sid, sub: 'ana', reason: 'rp_logout', client_id: 'app' });
  });

  it('an operator ends one session: reason admin_logout_session', async () => {
    const s = await newSession(w, 'ben', ['app']);
    const r = await w.admin('DELETE', `/admin/sessions/${s.sid}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(await eventOf(s.sid, 'ben'), { sid: s.sid, sub: 'ben', reason: 'admin_logout_session' });
  });

  it('an operator ends every session of a user: one admin_logout_subject event per session', async () => {
    const a = await newSession(w, 'cai', ['app']);
    const b = await newSession(w, 'cai', []);
    const r = await w.admin('DELETE', '/admin/sessions?sub=cai');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([...r.json.sessions_ended].sort(), [a.sid, b.sid].sort());
    for (const s of [a, b]) assert.deepEqual(await eventOf(s.sid, 'cai'), { sid: s.sid, sub: 'cai', reason: 'admin_logout_subject' });
  });

  it('an event the login system failed to take is retried until it does', async () => {
    login.configure('/events', { status: 503 });
    const s = await newSession(w, 'dov', []);
    const r = await w.admin('DELETE', `/admin/sessions/${s.sid}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.backchannel, { delivered: 0, queued: 1, dead: 0 }, 'the event failed inline and was queued');
    const failed = await w.admin('GET', '/admin/deliveries?status=failed');
    assert.ok(failed.json.deliveries.some((d) => d.sid === s.sid && d.client_id === '(session-events)'), failed.text);
    login.configure('/events', { status: 202 });
    // The retry is a new token, which the receiver takes.
    // Taken once, after the failed attempt(s) that caused its retries.
    assert.deepEqual(await eventOf(s.sid, 'dov'), { sid: s.sid, sub: 'dov', reason: 'admin_logout_session' });
    const attempts = login.received.filter((x) => eventSid(x) === s.sid);
    assert.ok(attempts.length >= 2 && attempts.slice(0, -1).every((x) => x.answeredStatus === 503), `attempts: ${attempts.map((x) => x.answeredStatus)}`);
  });
});
