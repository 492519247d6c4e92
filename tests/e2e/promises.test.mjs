// End-to-end checks of README promises no other file checks, against the built worker under
// `wrangler dev`: Referrer-Policy on every answer; SESSION_COOKIE_DOMAIN and SESSION_COOKIE_PATH
// on the clearing cookie; the last key of an algorithm signs (rotation inside the worker); a
// Retry-After longer than the 1 h cap waits the cap; a delivery whose client was deleted is
// listed as cancelled; a dead delivery driven again succeeds and leaves the list; at most 500
// clients per session; GET /admin/clients pages by 100; SIGNER=wasm refused by the default build.
// Run by scripts/test.sh with Node 22: node --test --test-concurrency=1 tests/e2e/*.test.mjs
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';

import { deliveries, startScriptedRp, tokensAt } from '../support/backchannel.mjs';
import { it, newSession, sessionCookies } from '../support/fixtures.mjs';
import { decodeProtectedHeader } from 'jose';
import { discover, endSession, eventually, foreignKey, mintIdToken, parseSetCookie } from '../support/oidc.mjs';
import { startWorker } from '../../tools/worker.mjs';

const COOKIE_DOMAIN = 'login.example.test';
const COOKIE_PATH = '/account';

describe('README promises', { timeout: 240_000 }, () => {
  let w;
  let rp;
  let newKid; // the RS256 key added last: the one that signs

  before(async () => {
    rp = await startScriptedRp();
    w = await startWorker({
      vars: (v) => {
        // Rotation: a second RS256 key appended after the generated one.
        const jwks = JSON.parse(v.SIGNING_JWKS);
        const added = foreignKey('RS256', 'rs-newer');
        newKid = added.kid;
        jwks.keys.push(added);
        return {
          ...v,
          SIGNING_JWKS: JSON.stringify(jwks),
          SESSION_COOKIE_DOMAIN: COOKIE_DOMAIN,
          SESSION_COOKIE_PATH: COOKIE_PATH,
          BACKCHANNEL_RETRY_DELAY_S: '1',
          BACKCHANNEL_MAX_ATTEMPTS: '3',
        };
      },
    });
    const put = async (id, meta = {}) => {
      const r = await w.admin('PUT', `/admin/clients/${id}`, { redirect_uris: [`${rp.url}/cb`], backchannel_logout_uri: `${rp.url}/${id}`, ...meta });
      assert.equal(r.status, 201, `${id}: ${r.text}`);
    };
    await put('app', { post_logout_redirect_uris: [`${rp.url}/bye`] });
    for (const id of ['busy', 'gone', 'redo']) await put(id);
  }, { timeout: 90_000 });

  after(async () => {
    await Promise.all([w?.stop(), rp?.close()]);
  });

  it('Referrer-Policy: no-referrer on every kind of answer', async () => {
    const d = await discover(w);
    const answers = {
      discovery: await w.request('/.well-known/openid-configuration'),
      jwks: await fetch(d.jwks_uri),
      'end-session page (no session)': await w.request('/session/end'),
      'a refused end-session request': await w.request('/session/end?id_token_hint=nope'),
      'admin JSON': await w.request('/admin/clients', { headers: { authorization: `Bearer ${w.adminToken}` } }),
      'admin refusal (no token)': await w.request('/admin/clients'),
      'an unknown path': await w.request('/nowhere'),
      'a method not allowed': await w.request('/jwks', { method: 'DELETE' }),
    };
    for (const [what, res] of Object.entries(answers)) {
      await res.arrayBuffer();
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer', `${what} (${res.status})`);
    }
  });

  it('the clearing cookie carries SESSION_COOKIE_DOMAIN and SESSION_COOKIE_PATH (else the browser keeps its cookie)', async () => {
    const s = await newSession(w, 'tess', ['app']);
    const hint = await mintIdToken(w, { sub: 'tess', sid: s.sid, aud: 'app' });
    const endpoint = (await discover(w)).end_session_endpoint;
    const r = await endSession(endpoint, { params: { id_token_hint: hint, post_logout_redirect_uri: `${rp.url}/bye` }, browser: s.browser });
    assert.equal(r.status, 303, r.text.slice(0, 300));
    const [cleared, ...more] = sessionCookies(r.setCookies);
    assert.ok(cleared && more.length === 0, `one clearing cookie: ${JSON.stringify(r.setCookies)}`);
    const raw = r.setCookies.find((c) => parseSetCookie(c).name === s.cookieName);
    assert.ok(raw, `no Set-Cookie of ${s.cookieName}: ${JSON.stringify(r.setCookies)}`);
    assert.match(raw, new RegExp(`;\\s*Domain=${COOKIE_DOMAIN.replace(/\./g, '\\.')}(;|$)`, 'i'), `no Domain: ${raw}`);
    assert.match(raw, new RegExp(`;\\s*Path=${COOKIE_PATH}(;|$)`, 'i'), `no Path: ${raw}`);
    assert.match(raw, /;\s*(Max-Age=0|Expires=Thu, 01 Jan 1970)/i, `not a clearing cookie: ${raw}`);
  });

  it('rotation: the last listed key of an algorithm signs the logout tokens, and both verify', async () => {
    const s = await newSession(w, 'uma', ['app']);
    const r = await w.admin('DELETE', `/admin/sessions/${s.sid}`);
    assert.equal(r.status, 200, r.text);
    const rec = await rp.waitFor((x) => x.path === '/app' && x.claims?.sub === 'uma');
    assert.equal(decodeProtectedHeader(rec.logout_token).kid, newKid, 'the first RS256 key signed, not the newest');
    const jwks = await (await fetch((await discover(w)).jwks_uri)).json();
    const rs = jwks.keys.filter((k) => k.alg === 'RS256').map((k) => k.kid);
    assert.ok(rs.length >= 2 && rs.includes(newKid), `both RS256 keys published: ${rs}`);
  });

  it('a Retry-After longer than the 1 h cap waits the cap', async () => {
    rp.script('/busy', [{ status: 503, headers: { 'retry-after': '7200' } }]);
    const s = await newSession(w, 'vic', ['busy']);
    const r = await w.admin('DELETE', `/admin/sessions/${s.sid}`);
    assert.equal(r.status, 200, r.text);
    const [d] = await deliveries(w, 'failed', 'vic');
    assert.equal(d?.last_error, 'HTTP 503', JSON.stringify(d));
    assert.equal(d.next_attempt_at - d.updated_at, 3600, 'the retry waits 1 h, not the 2 h asked, nor the 1 s backoff');
  });

  it('a delivery whose client was deleted is listed as cancelled, with its error', async () => {
    rp.script('/gone', [{ status: 500 }, { status: 500 }, { status: 500 }]);
    const s = await newSession(w, 'wes', ['gone']);
    const r = await w.admin('DELETE', `/admin/sessions/${s.sid}`);
    assert.equal(r.status, 200, r.text);
    assert.equal((await deliveries(w, 'failed', 'wes')).length, 1);
    const del = await w.admin('DELETE', '/admin/clients/gone');
    assert.equal(del.status, 204, del.text);
    const cancelled = await eventually(async () => {
      const c = await deliveries(w, 'cancelled', 'wes');
      return c.length ? c : null;
    }, { timeoutMs: 60_000, intervalMs: 250, what: 'the delivery to be cancelled' });
    assert.deepEqual(cancelled.map((c) => [c.client_id, c.status, c.sid]), [['gone', 'cancelled', s.sid]]);
    assert.deepEqual(await deliveries(w, 'failed', 'wes'), [], 'no longer waiting for a retry');
    assert.deepEqual(await deliveries(w, 'dead', 'wes'), []);
  });

  it('a dead delivery driven again succeeds and leaves the dead list', async () => {
    rp.script('/redo', [{ status: 400 }]); // dead at once; then 200
    const s = await newSession(w, 'xia', ['redo']);
    let r = await w.admin('DELETE', `/admin/sessions/${s.sid}`);
    assert.equal(r.status, 200, r.text);
    const [dead] = await deliveries(w, 'dead', 'xia');
    assert.equal(dead?.last_error, 'HTTP 400', JSON.stringify(dead));
    r = await w.admin('POST', `/admin/deliveries/${encodeURIComponent(dead.id)}/retry`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { id: dead.id, backchannel: { delivered: 1, queued: 0, dead: 0 } });
    const tokens = tokensAt(rp, '/redo', 'xia');
    assert.deepEqual(tokens.map((x) => x.answeredStatus), [400, 200]);
    assert.notEqual(tokens[0].claims.jti, tokens[1].claims.jti, 'a new token');
    assert.deepEqual(await deliveries(w, 'dead', 'xia'), []);
    assert.deepEqual(await deliveries(w, 'failed', 'xia'), []);
  });

  it('at most 500 clients per session', async () => {
    const ids = Array.from({ length: 501 }, (_, i) => `m${String(i).padStart(3, '0')}`);
    for (let i = 0; i < ids.length; i += 25) {
      const batch = await Promise.all(ids.slice(i, i + 25).map((id) => w.admin('PUT', `/admin/clients/${id}`, { redirect_uris: [`${rp.url}/cb`] })));
      batch.forEach((r) => assert.equal(r.status, 201, r.text));
    }
    let r = await w.admin('POST', '/admin/sessions', { sub: 'yan', clients: ids });
    assert.equal(r.status, 400, r.text);
    assert.match(r.json?.error_description ?? '', /too many clients/);
    r = await w.admin('POST', '/admin/sessions', { sub: 'yan', clients: ids.slice(0, 500) });
    assert.equal(r.status, 201, r.text);
    const got = await w.admin('GET', `/admin/sessions/${r.json.sid}`);
    assert.equal(got.json.clients.length, 500);
  });

  it('GET /admin/clients pages by 100: every client once, then no cursor', async () => {
    const seen = [];
    let cursor = null;
    let pages = 0;
    do {
      const r = await w.admin('GET', `/admin/clients${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(r.status, 200, r.text);
      pages++;
      assert.ok(r.json.clients.length <= 100, `page ${pages}: ${r.json.clients.length}`);
      if (r.json.cursor) assert.equal(r.json.clients.length, 100, `page ${pages} is not full but has a cursor`);
      seen.push(...r.json.clients.map((c) => c.client_id));
      cursor = r.json.cursor ?? null;
      assert.ok(pages < 20, 'the pages do not end');
    } while (cursor);
    // 501 from the test above and the four of before(), less the deleted one.
    assert.equal(new Set(seen).size, seen.length, 'a client listed twice');
    assert.equal(seen.length, 501 + 3);
    assert.equal(pages, 6);
  });
});

describe('SIGNER=wasm', { timeout: 120_000 }, () => {
  it('is refused by the default build (no Rust signer in it): a configuration error, not a worker that signs', async () => {
    const w = await startWorker({ vars: (v) => ({ ...v, SIGNER: 'wasm' }), expectStatus: 500 });
    try {
      const r = await w.request('/.well-known/openid-configuration');
      const text = await r.text();
      assert.equal(r.status, 500);
      assert.match(text, /SIGNER/, 'the answer names the setting');
      const s = await w.admin('POST', '/admin/sessions', { sub: 'zed', clients: [] });
      assert.equal(s.status, 500, `a misconfigured worker takes sessions: ${s.text}`);
    } finally {
      await w.stop();
    }
  });
});
