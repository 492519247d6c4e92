// End-to-end tests of back-channel logout (OpenID Connect Back-Channel Logout 1.0) against the
// built worker under `wrangler dev`, with recording relying parties on loopback: the logout
// tokens (verified as a strict RP does), that they arrive before the user is redirected, the
// retry queue (network errors, timeouts, 5xx, 429 with Retry-After), the dead-letter list, admin
// logout of a session and of a user, and deliveries beyond BACKCHANNEL_INLINE_MAX.
// Run by scripts/test.sh with Node 22: node --test --test-concurrency=1 tests/e2e/*.test.mjs
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';

import {
  BACKCHANNEL_EVENT,
  Browser,
  discover,
  endSession,
  eventually,
  mintIdToken,
  signingKeys,
  verifyLogoutToken,
} from '../support/oidc.mjs';
import { start as startRp } from '../support/rp.mjs';
import { startWorker } from '../support/worker.mjs';

const TTL_S = 60;
const TIMEOUT_MS = 1000;
const RETRY_DELAY_S = 1;
const MAX_ATTEMPTS = 3;
const SLOW_MS = 2500; // > TIMEOUT_MS
const TTL_B_S = 90;
// The second worker: a long per-RP timeout, bounded by a short deadline.
const TIMEOUT_B_MS = 5000;
const DEADLINE_B_MS = 800;
// Generous: the machine is shared with other builds and tests.
const MARGIN_MS = 3000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('back-channel logout', { timeout: 150_000 }, () => {
  let w; // the main worker
  let wb; // BACKCHANNEL_INLINE_MAX=1
  let rpRs;
  let rpEs;
  let rpEd;
  let rpMix; // the failure mix and 429s, one path each
  let downUrl; // a port with nothing listening
  const ctx = new Map(); // worker url -> {issuer, jwks, endpoint, kids}
  const jtis = new Set(); // every logout token of the file
  // Per path of rpMix: the answers to its successive requests (then the default, 200).
  const scripts = new Map();

  before(async () => {
    rpMix = await startRp({
      // Called with each request before it is answered: sets the answer for this request.
      log: (rec) => {
        const seq = scripts.get(rec.path);
        if (seq) rpMix.configure(rec.path, seq.length ? seq.shift() : null);
      },
    });
    [rpRs, rpEs, rpEd] = await Promise.all([startRp(), startRp(), startRp()]);
    // The RP that is down: port 1 (privileged, outside the ephemeral range, so no other test's
    // server can take it meanwhile), checked to refuse connections.
    downUrl = 'http://127.0.0.1:1';
    const refused = await new Promise((resolve) => {
      const sock = net.connect({ host: '127.0.0.1', port: 1 });
      sock.once('connect', () => { sock.destroy(); resolve(false); });
      sock.once('error', (e) => resolve(e.code === 'ECONNREFUSED'));
    });
    assert.ok(refused, 'something listens on 127.0.0.1:1: the "down" relying party needs it unused');
    const common = {
      LOGOUT_TOKEN_TTL_S: String(TTL_S),
      BACKCHANNEL_TIMEOUT_MS: String(TIMEOUT_MS),
      BACKCHANNEL_RETRY_DELAY_S: String(RETRY_DELAY_S),
      BACKCHANNEL_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
    };
    [w, wb] = await Promise.all([
      startWorker({ vars: (v) => ({ ...v, ...common }) }),
      startWorker({
        vars: (v) => ({
          ...v,
          ...common,
          LOGOUT_TOKEN_TTL_S: String(TTL_B_S),
          BACKCHANNEL_INLINE_MAX: '1',
          BACKCHANNEL_TIMEOUT_MS: String(TIMEOUT_B_MS),
          BACKCHANNEL_DEADLINE_MS: String(DEADLINE_B_MS),
        }),
      }),
    ]);
    for (const worker of [w, wb]) {
      const d = await discover(worker);
      const res = await fetch(d.jwks_uri, { signal: AbortSignal.timeout(10_000) });
      assert.equal(res.status, 200);
      const jwks = await res.json();
      const kids = Object.fromEntries(Object.entries(signingKeys(worker)).map(([alg, k]) => [alg, k.kid]));
      for (const [alg, kid] of Object.entries(kids)) {
        assert.ok(jwks.keys.some((k) => k.kid === kid && k.alg === alg), `${alg} key ${kid} in the JWKS`);
      }
      ctx.set(worker.url, { issuer: d.issuer, jwks, endpoint: d.end_session_endpoint, kids });
    }

    const put = async (worker, id, meta) => {
      const r = await worker.admin('PUT', `/admin/clients/${id}`, { redirect_uris: [`${rpRs.url}/cb`], ...meta });
      assert.equal(r.status, 201, `${id}: ${r.text}`);
    };
    // The three relying parties; rs keeps the default alg (RS256) and a query in its URI.
    await put(w, 'rs', {
      post_logout_redirect_uris: [`${rpRs.url}/bye`],
      backchannel_logout_uri: `${rpRs.url}/bc?client=rs`,
      backchannel_logout_session_required: true,
    });
    await put(w, 'es', { backchannel_logout_uri: `${rpEs.url}/bc`, id_token_signed_response_alg: 'ES256' });
    await put(w, 'ed', {
      backchannel_logout_uri: `${rpEd.url}/bc`,
      backchannel_logout_session_required: true,
      id_token_signed_response_alg: 'EdDSA',
    });
    // The failure mix.
    await put(w, 'down', { backchannel_logout_uri: `${downUrl}/bc` });
    await put(w, 'slow', { backchannel_logout_uri: `${rpMix.url}/slow`, id_token_signed_response_alg: 'ES256' });
    await put(w, 'slow2', { backchannel_logout_uri: `${rpMix.url}/slow2` });
    await put(w, 'moved', { backchannel_logout_uri: `${rpMix.url}/moved` });
    await put(w, 'flaky', { backchannel_logout_uri: `${rpMix.url}/flaky`, backchannel_logout_session_required: true });
    await put(w, 'bad', { backchannel_logout_uri: `${rpMix.url}/bad`, id_token_signed_response_alg: 'EdDSA' });
    await put(w, 'busy1', { backchannel_logout_uri: `${rpMix.url}/busy1` });
    await put(w, 'busy3', { backchannel_logout_uri: `${rpMix.url}/busy3` });
    // The second worker: the same three relying parties, on other paths.
    await put(wb, 'rs', {
      post_logout_redirect_uris: [`${rpRs.url}/bye`],
      backchannel_logout_uri: `${rpRs.url}/bc-b`,
      backchannel_logout_session_required: true,
    });
    await put(wb, 'es', { backchannel_logout_uri: `${rpEs.url}/bc-b`, id_token_signed_response_alg: 'ES256' });
    await put(wb, 'ed', { backchannel_logout_uri: `${rpEd.url}/bc-b`, id_token_signed_response_alg: 'EdDSA' });
    await put(wb, 'slowb', { backchannel_logout_uri: `${rpMix.url}/slowb` });
  }, { timeout: 90_000 });

  after(async () => {
    await Promise.all([w?.stop(), wb?.stop(), rpRs?.close(), rpEs?.close(), rpEd?.close(), rpMix?.close()]);
  });

  // ---- helpers ---------------------------------------------------------------------------

  async function newSession(worker, sub, clients) {
    const r = await worker.admin('POST', '/admin/sessions', { sub, clients });
    assert.equal(r.status, 201, r.text);
    return { sid: r.json.sid, sub, cookie: r.json.cookie, browser: new Browser({ [r.json.cookie_name]: r.json.cookie }) };
  }

  async function exists(worker, sid) {
    const r = await worker.admin('GET', `/admin/sessions/${encodeURIComponent(sid)}`);
    assert.ok(r.status === 200 || r.status === 404, r.text);
    return r.status === 200;
  }

  /** Back-channel requests at `path` of `rp` whose token names `sub` (and `sid` when given). */
  const tokensAt = (rp, path, sub) => rp.backchannel().filter((r) => r.path === path && r.claims?.sub === sub);

  /** The deliveries listed with `status`, of `sub`. */
  async function deliveries(worker, status, sub) {
    const r = await worker.admin('GET', `/admin/deliveries?status=${status}`);
    assert.equal(r.status, 200, r.text);
    assert.ok(Array.isArray(r.json.deliveries), r.text);
    return r.json.deliveries.filter((d) => d.sub === sub).sort((a, b) => a.client_id.localeCompare(b.client_id));
  }

  /**
   * Checks one back-channel request completely, as a strict RP: the request (POST, form, body
   * only logout_token), the token's signature (JWKS from jwks_uri, only `alg`), header and
   * claims. `sid` null: the token must have none. Returns the payload.
   */
  async function checkDelivery(rec, { worker = w, client, alg, sub, sid, path, query = {}, ttl = TTL_S }) {
    const what = `${client} at ${rec.url}`;
    const c = ctx.get(worker.url);
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
    assert.ok(Math.abs(payload.iat - rec.at / 1000) <= 5, `${what}: iat ${payload.iat} vs arrival ${rec.at / 1000}`);
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

  // ---- tests -------------------------------------------------------------------------------

  it('a logout by valid hint tells every RP, with verified tokens, before the redirect', async () => {
    const s = await newSession(w, 'alice', ['rs', 'es', 'ed']);
    const other = await newSession(w, 'alice', ['rs', 'es', 'ed']);
    const hint = await mintIdToken(w, { sub: s.sub, sid: s.sid, aud: 'rs' });
    const { endpoint } = ctx.get(w.url);
    const r = await endSession(endpoint, {
      params: { id_token_hint: hint, post_logout_redirect_uri: `${rpRs.url}/bye`, state: 'bc' },
      browser: s.browser,
    });
    // Taken the moment the answer is here.
    const got = { rs: tokensAt(rpRs, '/bc', 'alice'), es: tokensAt(rpEs, '/bc', 'alice'), ed: tokensAt(rpEd, '/bc', 'alice') };
    assert.equal(r.status, 303, r.text.slice(0, 300));
    assert.equal(r.location, `${rpRs.url}/bye?state=bc`);
    for (const [client, recs] of Object.entries(got)) {
      assert.equal(recs.length, 1, `${client}: ${recs.length} tokens when the redirect came back`);
      assert.ok(recs[0].at <= r.receivedAt, `${client}: the token came after the redirect`);
    }
    await checkDelivery(got.rs[0], { client: 'rs', alg: 'RS256', sub: 'alice', sid: s.sid, path: '/bc', query: { client: 'rs' } });
    // A session logout names its session even to clients that do not require sid.
    await checkDelivery(got.es[0], { client: 'es', alg: 'ES256', sub: 'alice', sid: s.sid, path: '/bc' });
    await checkDelivery(got.ed[0], { client: 'ed', alg: 'EdDSA', sub: 'alice', sid: s.sid, path: '/bc' });
    assert.ok(!(await exists(w, s.sid)), 'the session ended');
    assert.ok(await exists(w, other.sid), 'the other session lives');
    assert.deepEqual(await deliveries(w, 'failed', 'alice'), []);
    assert.deepEqual(await deliveries(w, 'dead', 'alice'), []);
    // Nothing more arrives later (no duplicate through the queue).
    await sleep(1500);
    for (const rp of [rpRs, rpEs, rpEd]) assert.equal(tokensAt(rp, '/bc', 'alice').length, 1);
  });

  it('admin logout of one session: one token with its sid per RP', async () => {
    const s = await newSession(w, 'bob', ['rs', 'es', 'ed']);
    const r = await w.admin('DELETE', `/admin/sessions/${s.sid}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { sessions_ended: [s.sid], backchannel: { delivered: 3, queued: 0, dead: 0 } });
    const rs = tokensAt(rpRs, '/bc', 'bob');
    const es = tokensAt(rpEs, '/bc', 'bob');
    const ed = tokensAt(rpEd, '/bc', 'bob');
    assert.deepEqual([rs.length, es.length, ed.length], [1, 1, 1]);
    await checkDelivery(rs[0], { client: 'rs', alg: 'RS256', sub: 'bob', sid: s.sid, path: '/bc', query: { client: 'rs' } });
    await checkDelivery(es[0], { client: 'es', alg: 'ES256', sub: 'bob', sid: s.sid, path: '/bc' });
    await checkDelivery(ed[0], { client: 'ed', alg: 'EdDSA', sub: 'bob', sid: s.sid, path: '/bc' });
    assert.ok(!(await exists(w, s.sid)));
    const again = await w.admin('DELETE', `/admin/sessions/${s.sid}`);
    assert.equal(again.status, 404, again.text);
  });

  it('admin logout of a user: sid-less tokens, or one per session where sid is required', async () => {
    const a = await newSession(w, 'carol', ['rs', 'es', 'ed']);
    const b = await newSession(w, 'carol', ['rs', 'es', 'ed']);
    const c = await newSession(w, 'carol', ['es']);
    const dave = await newSession(w, 'dave', ['rs', 'es', 'ed']);
    const r = await w.admin('DELETE', '/admin/sessions?sub=carol');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([...r.json.sessions_ended].sort(), [a.sid, b.sid, c.sid].sort());
    // rs and ed require sid: one per session they are in (2 each); es: one for the user.
    assert.deepEqual(r.json.backchannel, { delivered: 5, queued: 0, dead: 0 });
    const rs = tokensAt(rpRs, '/bc', 'carol');
    const es = tokensAt(rpEs, '/bc', 'carol');
    const ed = tokensAt(rpEd, '/bc', 'carol');
    assert.deepEqual([rs.length, es.length, ed.length], [2, 1, 2]);
    const sidsOf = async (recs, client, alg, query) => {
      const sids = [];
      for (const rec of recs) sids.push((await checkDelivery(rec, { client, alg, sub: 'carol', sid: rec.claims.sid, path: '/bc', query })).sid);
      return sids.sort();
    };
    assert.deepEqual(await sidsOf(rs, 'rs', 'RS256', { client: 'rs' }), [a.sid, b.sid].sort());
    assert.deepEqual(await sidsOf(ed, 'ed', 'EdDSA', {}), [a.sid, b.sid].sort());
    await checkDelivery(es[0], { client: 'es', alg: 'ES256', sub: 'carol', sid: null, path: '/bc' });
    for (const s of [a, b, c]) assert.ok(!(await exists(w, s.sid)), `${s.sid} ended`);
    assert.ok(await exists(w, dave.sid), 'another user\'s session lives');
    for (const rp of [rpRs, rpEs, rpEd]) assert.equal(tokensAt(rp, '/bc', 'dave').length, 0);
    const none = await w.admin('DELETE', '/admin/sessions?sub=nobody');
    assert.equal(none.status, 200, none.text);
    assert.deepEqual(none.json, { sessions_ended: [], backchannel: { delivered: 0, queued: 0, dead: 0 } });
  });

  it('admin logout of a user with many sessions: page by page with a cursor, each ended once', async () => {
    const mine = [];
    for (let i = 0; i < 27; i++) mine.push((await newSession(w, 'pat', ['rs', 'es'])).sid);
    const ended = [];
    const pages = [];
    let cursor = null;
    do {
      const r = await w.admin('DELETE', `/admin/sessions?sub=pat${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(r.status, 200, r.text);
      assert.ok(r.json.sessions_ended.length <= 20, `a page of ${r.json.sessions_ended.length}`);
      ended.push(...r.json.sessions_ended);
      pages.push(r.json);
      cursor = r.json.cursor ?? null;
      assert.ok(pages.length < 10, 'the pages do not end');
    } while (cursor);
    assert.ok(pages.length >= 2, `${pages.length} page(s)`);
    assert.deepEqual([...ended].sort(), [...mine].sort());
    for (const sid of mine) assert.ok(!(await exists(w, sid)), `${sid} ended`);
    // rs requires sid: one token per session, however they were split (delivered or queued).
    const rs = await rpRs.waitFor(() => tokensAt(rpRs, '/bc', 'pat').length >= mine.length, 20_000).then(() => tokensAt(rpRs, '/bc', 'pat'));
    assert.deepEqual(rs.map((x) => x.claims.sid).sort(), [...mine].sort());
    // es takes the user-wide token: one per page at most, none with a sid.
    const es = tokensAt(rpEs, '/bc', 'pat');
    assert.ok(es.length >= 1 && es.length <= pages.length, `${es.length} user-wide tokens for ${pages.length} pages`);
    assert.ok(es.every((x) => x.claims.sid === undefined));
  });

  it('a failure mix: the redirect is not held up, 5xx and timeouts are retried, 4xx is dead, nothing is lost', async () => {
    scripts.set('/slow', [{ delayMs: SLOW_MS }]); // then fast
    scripts.set('/flaky', [{ status: 500 }]); // then 200
    scripts.set('/slow2', [{ delayMs: SLOW_MS }]); // then fast
    scripts.set('/bad', [{ status: 400 }, { status: 400 }]);
    rpMix.configure('/moved', { status: 302, headers: { location: `${rpMix.url}/moved-here` } });
    const sub = 'erin';
    const s = await newSession(w, sub, ['rs', 'down', 'slow', 'slow2', 'flaky', 'bad', 'moved']);
    const hint = await mintIdToken(w, { alg: 'ES256', sub, sid: s.sid, aud: 'rs' });
    const { endpoint } = ctx.get(w.url);
    const r = await endSession(endpoint, {
      params: { id_token_hint: hint, post_logout_redirect_uri: `${rpRs.url}/bye`, state: 'mix' },
      browser: s.browser,
    });
    assert.equal(r.status, 303, r.text.slice(0, 300));
    assert.equal(r.location, `${rpRs.url}/bye?state=mix`);
    // Bounded by the timeout (the slow RP answers after SLOW_MS), not by the slowest RP.
    assert.ok(r.ms >= TIMEOUT_MS - 100, `answered in ${r.ms} ms: it did not wait for the slow RP`);
    assert.ok(r.ms < TIMEOUT_MS + MARGIN_MS, `answered in ${r.ms} ms, more than ${TIMEOUT_MS} + ${MARGIN_MS}`);
    assert.ok(r.ms < SLOW_MS, `answered in ${r.ms} ms: it waited for the slow RP`);
    assert.ok(!(await exists(w, s.sid)), 'the session ended');

    // Every RP that listens was tried once before the answer.
    const at = (path) => tokensAt(rpMix, path, sub);
    const rsTok = tokensAt(rpRs, '/bc', sub);
    assert.equal(rsTok.length, 1);
    await checkDelivery(rsTok[0], { client: 'rs', alg: 'RS256', sub, sid: s.sid, path: '/bc', query: { client: 'rs' } });
    for (const path of ['/slow', '/slow2', '/flaky', '/bad', '/moved']) assert.equal(at(path).length, 1, `${path}: tried once inline`);
    // In parallel: the second slow RP was not kept waiting behind the first.
    assert.ok(Math.abs(at('/slow')[0].at - at('/slow2')[0].at) < TIMEOUT_MS / 2, 'the deliveries were not sent in parallel');
    const first = {
      slow: await checkDelivery(at('/slow')[0], { client: 'slow', alg: 'ES256', sub, sid: s.sid, path: '/slow' }),
      slow2: await checkDelivery(at('/slow2')[0], { client: 'slow2', alg: 'RS256', sub, sid: s.sid, path: '/slow2' }),
      flaky: await checkDelivery(at('/flaky')[0], { client: 'flaky', alg: 'RS256', sub, sid: s.sid, path: '/flaky' }),
    };
    await checkDelivery(at('/bad')[0], { client: 'bad', alg: 'EdDSA', sub, sid: s.sid, path: '/bad' });
    await checkDelivery(at('/moved')[0], { client: 'moved', alg: 'RS256', sub, sid: s.sid, path: '/moved' });

    // Right after: the 400 and the redirect are dead at once, the others wait for a retry.
    const dead = await deliveries(w, 'dead', sub);
    assert.deepEqual(dead.map((d) => [d.client_id, d.status, d.attempts, d.last_error, d.sid, d.next_attempt_at]), [
      ['bad', 'dead', 1, 'HTTP 400', s.sid, null],
      ['moved', 'dead', 1, 'HTTP 302', s.sid, null],
    ]);
    const failed = await deliveries(w, 'failed', sub);
    assert.deepEqual(failed.map((d) => d.client_id), ['down', 'flaky', 'slow', 'slow2'], JSON.stringify(failed));
    const byClient = Object.fromEntries(failed.map((d) => [d.client_id, d]));
    assert.match(byClient.down.last_error, /^network error/);
    assert.equal(byClient.flaky.last_error, 'HTTP 500');
    assert.equal(byClient.slow.last_error, 'timed out');
    assert.equal(byClient.slow2.last_error, 'timed out');
    for (const d of failed) {
      assert.equal(d.status, 'failed');
      assert.equal(d.attempts, 1, `${d.client_id}: attempts`);
      assert.equal(d.sid, s.sid);
      assert.equal(typeof d.id, 'string');
      assert.equal(d.next_attempt_at - d.updated_at, RETRY_DELAY_S, `${d.client_id}: first retry delay`);
    }
    assert.equal(new Set([...failed, ...dead].map((d) => d.id)).size, 6, 'one id per delivery');

    // The retries: a fresh token each.
    await rpMix.waitFor((x) => x.path === '/flaky' && x.claims?.sub === sub && x.claims.jti !== first.flaky.jti, 15_000);
    await rpMix.waitFor((x) => x.path === '/slow' && x.claims?.sub === sub && x.claims.jti !== first.slow.jti, 15_000);
    await rpMix.waitFor((x) => x.path === '/slow2' && x.claims?.sub === sub && x.claims.jti !== first.slow2.jti, 15_000);
    const flaky2 = await checkDelivery(at('/flaky')[1], { client: 'flaky', alg: 'RS256', sub, sid: s.sid, path: '/flaky' });
    const slowB = await checkDelivery(at('/slow')[1], { client: 'slow', alg: 'ES256', sub, sid: s.sid, path: '/slow' });
    await checkDelivery(at('/slow2')[1], { client: 'slow2', alg: 'RS256', sub, sid: s.sid, path: '/slow2' });
    assert.ok(flaky2.iat >= first.flaky.iat && slowB.iat >= first.slow.iat);
    assert.ok(at('/flaky')[1].at - at('/flaky')[0].at >= RETRY_DELAY_S * 1000 - 200, 'the retry waited its delay');

    // The unreachable RP runs out of attempts; then nothing is left failed.
    const finalDead = await eventually(async () => {
      const d = await deliveries(w, 'dead', sub);
      return d.length === 3 && (await deliveries(w, 'failed', sub)).length === 0 ? d : null;
    }, { timeoutMs: 25_000, intervalMs: 250, what: 'down to be dead and nothing failed' });
    assert.deepEqual(finalDead.map((d) => d.client_id), ['bad', 'down', 'moved']);
    const down = finalDead.find((d) => d.client_id === 'down');
    assert.equal(down.attempts, MAX_ATTEMPTS);
    assert.match(down.last_error, /^network error/);
    assert.equal(down.id, byClient.down.id, 'the same delivery, listed under its id');
    assert.deepEqual(finalDead.filter((d) => d.client_id !== 'down'), dead, 'the dead 400 and 302 are unchanged');

    // Nothing lost, nothing doubled: each planned delivery was delivered or is listed dead.
    await sleep(1500);
    assert.equal(at('/bad').length, 1, 'a 400 is never retried');
    assert.equal(at('/moved').length, 1, 'a redirect is never retried');
    assert.deepEqual(rpMix.received.filter((x) => x.path === '/moved-here'), [], 'a redirect is never followed');
    assert.equal(at('/slow2').length, 2, 'delivered on the second attempt, once');
    assert.equal(at('/flaky').length, 2, 'delivered on the second attempt, once');
    assert.equal(at('/slow').length, 2, 'delivered on the second attempt, once');
    assert.equal(tokensAt(rpRs, '/bc', sub).length, 1);
    const delivered = ['rs', 'flaky', 'slow', 'slow2'];
    const listed = finalDead.map((d) => d.client_id);
    assert.deepEqual([...delivered, ...listed].sort(), ['bad', 'down', 'flaky', 'moved', 'rs', 'slow', 'slow2']);
  });

  it('429 is retried, after Retry-After when it is longer than the backoff', async () => {
    scripts.set('/busy1', [{ status: 429, headers: { 'retry-after': '1' } }]);
    scripts.set('/busy3', [{ status: 429, headers: { 'retry-after': '3' } }]);
    const sub = 'fay';
    const s = await newSession(w, sub, ['busy1', 'busy3']);
    const r = await w.admin('DELETE', `/admin/sessions/${s.sid}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.backchannel, { delivered: 0, queued: 2, dead: 0 });
    const failed = await deliveries(w, 'failed', sub);
    assert.deepEqual(failed.map((d) => [d.client_id, d.last_error, d.attempts, d.next_attempt_at - d.updated_at]), [
      ['busy1', 'HTTP 429', 1, 1],
      ['busy3', 'HTTP 429', 1, 3],
    ]);
    const at = (path) => tokensAt(rpMix, path, sub);
    await rpMix.waitFor((x) => x.path === '/busy1' && x.claims?.sub === sub && at('/busy1').length >= 2, 15_000);
    await rpMix.waitFor((x) => x.path === '/busy3' && x.claims?.sub === sub && at('/busy3').length >= 2, 15_000);
    for (const [path, client, wait] of [['/busy1', 'busy1', 1], ['/busy3', 'busy3', 3]]) {
      const [one, two] = at(path);
      const p1 = await checkDelivery(one, { client, alg: 'RS256', sub, sid: s.sid, path });
      const p2 = await checkDelivery(two, { client, alg: 'RS256', sub, sid: s.sid, path });
      assert.notEqual(p1.jti, p2.jti);
      assert.ok(two.at - one.at >= wait * 1000 - 600, `${client}: retried after ${two.at - one.at} ms, Retry-After ${wait} s`);
    }
    await eventually(async () => (await deliveries(w, 'failed', sub)).length === 0, { timeoutMs: 5000, what: 'the failed records to go' });
    assert.deepEqual(await deliveries(w, 'dead', sub), []);
    await sleep(1200);
    assert.deepEqual([at('/busy1').length, at('/busy3').length], [2, 2], 'delivered once each, no more');
  });

  it('BACKCHANNEL_INLINE_MAX=1: the first RP is told inline, the others through the queue, all of them', async () => {
    const { endpoint } = ctx.get(wb.url);
    // By the user, with a hint.
    const s = await newSession(wb, 'gus', ['rs', 'es', 'ed']);
    const hint = await mintIdToken(wb, { alg: 'EdDSA', sub: 'gus', sid: s.sid, aud: 'rs' });
    const r = await endSession(endpoint, {
      params: { id_token_hint: hint, post_logout_redirect_uri: `${rpRs.url}/bye`, state: 'q' },
      browser: s.browser,
    });
    const inline = tokensAt(rpRs, '/bc-b', 'gus');
    assert.equal(r.status, 303, r.text.slice(0, 300));
    assert.equal(r.location, `${rpRs.url}/bye?state=q`);
    assert.equal(inline.length, 1, 'the first RP has its token when the redirect comes back');
    await rpEs.waitFor((x) => x.path === '/bc-b' && x.claims?.sub === 'gus', 10_000);
    await rpEd.waitFor((x) => x.path === '/bc-b' && x.claims?.sub === 'gus', 10_000);
    const opts = { worker: wb, sub: 'gus', sid: s.sid, path: '/bc-b', ttl: TTL_B_S };
    await checkDelivery(inline[0], { ...opts, client: 'rs', alg: 'RS256' });
    await checkDelivery(tokensAt(rpEs, '/bc-b', 'gus')[0], { ...opts, client: 'es', alg: 'ES256' });
    await checkDelivery(tokensAt(rpEd, '/bc-b', 'gus')[0], { ...opts, client: 'ed', alg: 'EdDSA' });

    // By the admin API: the summary says how many went to the queue.
    const t = await newSession(wb, 'hal', ['rs', 'es', 'ed']);
    const a = await wb.admin('DELETE', `/admin/sessions/${t.sid}`);
    assert.equal(a.status, 200, a.text);
    assert.deepEqual(a.json, { sessions_ended: [t.sid], backchannel: { delivered: 1, queued: 2, dead: 0 } });
    for (const rp of [rpRs, rpEs, rpEd]) await rp.waitFor((x) => x.path === '/bc-b' && x.claims?.sub === 'hal', 10_000);
    const o = { worker: wb, sub: 'hal', sid: t.sid, path: '/bc-b', ttl: TTL_B_S };
    await checkDelivery(tokensAt(rpRs, '/bc-b', 'hal')[0], { ...o, client: 'rs', alg: 'RS256' });
    await checkDelivery(tokensAt(rpEs, '/bc-b', 'hal')[0], { ...o, client: 'es', alg: 'ES256' });
    await checkDelivery(tokensAt(rpEd, '/bc-b', 'hal')[0], { ...o, client: 'ed', alg: 'EdDSA' });
    await sleep(1200);
    for (const rp of [rpRs, rpEs, rpEd]) {
      assert.equal(tokensAt(rp, '/bc-b', 'gus').length, 1, 'once each');
      assert.equal(tokensAt(rp, '/bc-b', 'hal').length, 1, 'once each');
    }
    for (const status of ['failed', 'dead']) {
      assert.deepEqual(await deliveries(wb, status, 'gus'), []);
      assert.deepEqual(await deliveries(wb, status, 'hal'), []);
    }
  });

  it('BACKCHANNEL_DEADLINE_MS bounds a delivery below BACKCHANNEL_TIMEOUT_MS', async () => {
    scripts.set('/slowb', [{ delayMs: SLOW_MS }]); // then fast
    const s = await newSession(wb, 'ivy', ['slowb']);
    const started = Date.now();
    const r = await wb.admin('DELETE', `/admin/sessions/${s.sid}`);
    const ms = Date.now() - started;
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.backchannel, { delivered: 0, queued: 1, dead: 0 });
    assert.ok(ms >= DEADLINE_B_MS - 100, `answered in ${ms} ms`);
    assert.ok(ms < SLOW_MS, `answered in ${ms} ms: not bounded by the deadline of ${DEADLINE_B_MS} ms`);
    const failed = await deliveries(wb, 'failed', 'ivy');
    assert.deepEqual(failed.map((d) => [d.client_id, d.last_error, d.attempts]), [['slowb', 'timed out', 1]]);
    await rpMix.waitFor((x) => x.path === '/slowb' && tokensAt(rpMix, '/slowb', 'ivy').length >= 2, 15_000);
    const [one, two] = tokensAt(rpMix, '/slowb', 'ivy');
    const o = { worker: wb, client: 'slowb', alg: 'RS256', sub: 'ivy', sid: s.sid, path: '/slowb', ttl: TTL_B_S };
    assert.notEqual((await checkDelivery(one, o)).jti, (await checkDelivery(two, o)).jti);
    await eventually(async () => (await deliveries(wb, 'failed', 'ivy')).length === 0, { timeoutMs: 5000, what: 'the failed record to go' });
    assert.deepEqual(await deliveries(wb, 'dead', 'ivy'), []);
  });

  it('every logout token of this file had its own jti', () => {
    // checkDelivery refuses a repeated jti; this checks that it saw enough of them.
    assert.ok(jtis.size >= 30, `${jtis.size} tokens checked`);
  });
});
