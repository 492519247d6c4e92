// Helpers of the back-channel files (backchannel*.test.mjs): relying parties whose answers are
// scripted request by request, what a worker publishes for verifying its logout tokens, the
// checks of one delivery as a strict relying party makes them, and the admin's delivery lists.
//
//   const rp = await startScriptedRp();
//   rp.script('/flaky', [{ status: 500 }]);        // the first request gets 500, then 200s
//   const provider = await providerOf(w);          // {issuer, jwks, endpoint, kids}
//   await checkDelivery(rec, { provider, client: 'rs', alg: 'RS256', sub, sid, path: '/bc', ttl: 60, jtis });
import assert from 'node:assert/strict';

import { BACKCHANNEL_EVENT, discover, signingKeys, verifyLogoutToken } from './oidc.mjs';
import { start as startRp } from '../../tools/rp.mjs';

/**
 * A recording RP (rp.mjs) whose answers can be scripted per path: `rp.script(path, answers)`
 * gives the successive requests to `path` those answers ({status, delayMs, hang, headers}), then
 * the default (200).
 */
export async function startScriptedRp() {
  const scripts = new Map();
  const rp = await startRp({
    // Called with each request before it is answered: sets the answer for this request.
    log: (rec) => {
      const seq = scripts.get(rec.path);
      if (seq) rp.configure(rec.path, seq.length ? seq.shift() : null);
    },
  });
  rp.script = (path, answers) => scripts.set(path, [...answers]);
  return rp;
}

/** What worker `w` publishes to verify its logout tokens: {issuer, jwks, endpoint, kids by alg}. */
export async function providerOf(w) {
  const d = await discover(w);
  const res = await fetch(d.jwks_uri, { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200);
  const jwks = await res.json();
  const kids = Object.fromEntries(Object.entries(signingKeys(w)).map(([alg, k]) => [alg, k.kid]));
  for (const [alg, kid] of Object.entries(kids)) {
    assert.ok(jwks.keys.some((k) => k.kid === kid && k.alg === alg), `${alg} key ${kid} in the JWKS`);
  }
  return { issuer: d.issuer, jwks, endpoint: d.end_session_endpoint, kids };
}

/** Back-channel requests at `path` of `rp` whose token names `sub`. */
export const tokensAt = (rp, path, sub) => rp.backchannel().filter((r) => r.path === path && r.claims?.sub === sub);

/** The deliveries `worker` lists with `status` (failed or dead), of `sub`, by client_id. */
export async function deliveries(worker, status, sub) {
  const r = await worker.admin('GET', `/admin/deliveries?status=${status}`);
  assert.equal(r.status, 200, r.text);
  assert.ok(Array.isArray(r.json.deliveries), r.text);
  return r.json.deliveries.filter((d) => d.sub === sub).sort((a, b) => a.client_id.localeCompare(b.client_id));
}

/**
 * Checks one back-channel request completely, as a strict RP: the request (POST, form, body
 * only logout_token), the token's signature (the `provider`'s JWKS, only `alg`), header and
 * claims (`ttl`: exp - iat). `sid` null: the token must have none. `jtis`: the jtis seen so far
 * (a repeat fails; this one is added). Returns the payload.
 */
export async function checkDelivery(rec, { provider: c, client, alg, sub, sid, path, query = {}, ttl, jtis }) {
  const what = `${client} at ${rec.url}`;
  assert.equal(rec.method, 'POST', what);
  assert.equal(rec.path, path, what);
  assert.deepEqual(rec.query, query, `${what}: the registered URI's query is kept`);
  assert.equal(rec.headers['content-type'], 'application/x-www-form-urlencoded', what);
  assert.deepEqual([...new URLSearchParams(rec.body).keys()], ['logout_token'], `${what}: body ${rec.body.slice(0, 80)}`);
  assert.match(rec.logout_token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, what);
  assert.equal(rec.body, `logout_token=${rec.logout_token}`, what);

  const { payload, protectedHeader } = await verifyLogoutToken(rec.logout_token, {
    jwks: c.jwks,
    alg,
    issuer: c.issuer,
    audience: client,
  });
  assert.deepEqual(protectedHeader, { alg, kid: c.kids[alg], typ: 'logout+jwt' }, `${what}: header`);
  const expected = ['aud', 'events', 'exp', 'iat', 'iss', 'jti', 'sub', ...(sid === null ? [] : ['sid'])].sort();
  assert.deepEqual(Object.keys(payload).sort(), expected, `${what}: claims ${JSON.stringify(payload)}`);
  assert.equal(payload.iss, c.issuer, what);
  assert.equal(payload.aud, client, `${what}: aud is the client_id`);
  assert.equal(payload.sub, sub, what);
  if (sid !== null) assert.equal(payload.sid, sid, what);
  assert.equal(payload.nonce, undefined, `${what}: never a nonce`);
  assert.ok(Number.isInteger(payload.iat) && Number.isInteger(payload.exp), what);
  assert.equal(payload.exp - payload.iat, ttl, `${what}: exp - iat`);
  // Issued before it arrived (one clock: the same machine), and not expired on arrival. No upper
  // bound on the time in between: a busy machine may take long, the token says so itself.
  assert.ok(payload.iat <= Math.ceil(rec.at / 1000), `${what}: iat ${payload.iat} after its arrival ${rec.at / 1000}`);
  assert.ok(payload.exp > rec.at / 1000, `${what}: expired (exp ${payload.exp}) when it arrived (${rec.at / 1000})`);
  assert.deepEqual(payload.events, { [BACKCHANNEL_EVENT]: {} }, `${what}: events`);
  assert.equal(Object.keys(payload.events).length, 1, what);
  assert.equal(typeof payload.jti, 'string', what);
  assert.ok(payload.jti.length >= 16, `${what}: jti ${payload.jti}`);
  assert.ok(!jtis.has(payload.jti), `${what}: jti ${payload.jti} seen before`);
  jtis.add(payload.jti);
  // The same token under any other algorithm is refused.
  for (const other of ['RS256', 'ES256', 'EdDSA'].filter((a) => a !== alg)) {
    await assert.rejects(verifyLogoutToken(rec.logout_token, { jwks: c.jwks, alg: other, issuer: c.issuer, audience: client }), `${what}: accepted as ${other}`);
  }
  return payload;
}
