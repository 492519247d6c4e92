// End-to-end tests of RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) against the
// built worker under `wrangler dev`: the end-session endpoint found through discovery, ID token
// hints (valid, expired, forged), exact redirect matching, malformed requests, and the state on
// the way back; what a refused request must leave untouched (the session, the cookie, no
// redirect). The confirmation step: end-session-confirmation.test.mjs.
// Run by scripts/test.sh with Node 22: node --test --test-concurrency=1 tests/e2e/*.test.mjs
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { after, before, describe } from 'node:test';

import { COOKIE, startEndSessionWorld } from '../support/end-session.mjs';
import { it } from '../support/fixtures.mjs';
import { publicJwk } from '../../tools/keys.mjs';
import {
  discover,
  endSession,
  foreignKey,
  hmacToken,
  mintIdToken,
  nowS,
  payloadOf,
  publicKeyBytes,
  signingKeys,
  unsignedToken,
  withPayload,
} from '../support/oidc.mjs';

describe('the end-session endpoint', { timeout: 150_000 }, () => {
  let e; // the world of support/end-session.mjs
  let w;
  let rp;
  let endpoint; // from discovery
  let bye; // rp1's registered post-logout URIs
  let byeQuery;
  let bye2; // rp2's
  let newSession, exists, assertAlive, assertEnded, es, answer, sessionCookies, assertRefused;
  let assertCookieCleared, assertRedirected, assertSignedOutPage, assertConfirmation, hintFor;

  before(async () => {
    e = await startEndSessionWorld();
    ({ w, rp, endpoint, bye, byeQuery, bye2 } = e);
    ({ newSession, exists, assertAlive, assertEnded, es, answer, sessionCookies, assertRefused } = e);
    ({ assertCookieCleared, assertRedirected, assertSignedOutPage, assertConfirmation, hintFor } = e);
  }, { timeout: 90_000 });

  after(async () => {
    await e?.stop();
  });

  // ---- discovery -------------------------------------------------------------------------

  it('discovery names an absolute end-session endpoint on the issuer', async () => {
    const d = await discover(w);
    assert.equal(typeof d.end_session_endpoint, 'string');
    const u = new URL(d.end_session_endpoint);
    assert.equal(u.origin, new URL(w.vars.ISSUER).origin);
    assert.ok(d.end_session_endpoint.startsWith(w.vars.ISSUER + '/'), d.end_session_endpoint);
    assert.equal(u.search, '');
    assert.equal(u.hash, '');
    // It answers both methods (a no-session request ends in the signed-out page) ...
    for (const method of ['GET', 'POST']) {
      const r = await es({ method });
      assert.equal(r.status, 200, `${method}: ${r.text.slice(0, 200)}`);
      assert.match(r.text, /You are signed out/);
    }
    // ... and no others.
    const put = await fetch(endpoint, { method: 'PUT', redirect: 'manual', signal: AbortSignal.timeout(10_000) });
    assert.equal(put.status, 405);
    assert.match(put.headers.get('allow') ?? '', /GET/);
    assert.match(put.headers.get('allow') ?? '', /POST/);
  });

  // ---- valid hints -------------------------------------------------------------------------

  it('a valid RS256 hint for the browser session logs out at once (GET, redirect with state)', async () => {
    const s = await newSession();
    const hint = await hintFor(s, { alg: 'RS256' });
    const r = await es({ params: { id_token_hint: hint, post_logout_redirect_uri: bye, state: 'abc' }, browser: s.browser });
    await assertRedirected(r, `${bye}?state=abc`, { what: 'RS256 GET', ended: [s.sid] });
    assert.equal(s.browser.get(COOKIE), undefined, 'the browser lost its session cookie');
  });

  it('a valid ES256 hint logs out at once (POST form, client_id matching, unknown parameters ignored)', async () => {
    const s = await newSession();
    const hint = await hintFor(s, { alg: 'ES256' });
    const r = await es({
      method: 'POST',
      params: {
        id_token_hint: hint,
        client_id: 'rp1',
        post_logout_redirect_uri: bye,
        state: 'xyz',
        logout_hint: 'alice', // the session's sub: a logout_hint it answers to
        ui_locales: 'tlh xx-YY',
        foo: 'bar',
        prompt: 'none',
      },
      browser: s.browser,
    });
    await assertRedirected(r, `${bye}?state=xyz`, { what: 'ES256 POST', ended: [s.sid] });
  });

  it('a POST reads its form body only (its query is ignored), with or without a charset', async () => {
    const s = await newSession();
    const hint = await hintFor(s);
    const r = await endSession(`${endpoint}?post_logout_redirect_uri=${encodeURIComponent(bye2)}&state=from-query`, {
      method: 'POST',
      params: { id_token_hint: hint, post_logout_redirect_uri: bye, state: 'from-body' },
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' },
      browser: s.browser,
    });
    assert.equal(r.headers.get('cache-control'), 'no-store');
    await assertRedirected(r, `${bye}?state=from-body`, { what: 'POST with a query', ended: [s.sid] });
  });

  it('a valid EdDSA hint without a redirect URI shows the signed-out page', async () => {
    const s = await newSession();
    const other = await newSession(); // same user, other device: untouched
    const hint = await hintFor(s, { alg: 'EdDSA' });
    const r = await es({ params: { id_token_hint: hint, state: 'ignored-without-uri' }, browser: s.browser });
    await assertSignedOutPage(r, { what: 'EdDSA, no URI', ended: [s.sid] });
    assert.ok(!r.text.includes('ignored-without-uri'));
    await assertAlive(other.sid, 'the same user\'s other session');
  });

  it('an expired hint is accepted', async () => {
    const s = await newSession();
    const iat = nowS() - 2 * 86400;
    const hint = await hintFor(s, { iat, exp: iat + 3600 });
    assert.ok(payloadOf(hint).exp < nowS() - 86400);
    const r = await es({ params: { id_token_hint: hint, post_logout_redirect_uri: bye, state: 'old' }, browser: s.browser });
    await assertRedirected(r, `${bye}?state=old`, { what: 'expired hint', ended: [s.sid] });
  });

  it('a hint with several audiences names its client by azp, or by client_id', async () => {
    const s = await newSession();
    let hint = await hintFor(s, { aud: ['rp1', 'rp2'], azp: 'rp2' });
    let r = await es({ params: { id_token_hint: hint, post_logout_redirect_uri: bye2 }, browser: s.browser });
    await assertRedirected(r, bye2, { what: 'azp rp2', ended: [s.sid] });

    const s2 = await newSession();
    hint = await hintFor(s2, { aud: ['rp1', 'rp2'] });
    // Without azp or client_id, the client is ambiguous.
    r = await es({ params: { id_token_hint: hint, post_logout_redirect_uri: bye }, browser: s2.browser });
    await assertRefused(r, { what: 'ambiguous audience', sids: [s2.sid] });
    r = await es({ params: { id_token_hint: hint, client_id: 'rp1', post_logout_redirect_uri: bye }, browser: s2.browser });
    await assertRedirected(r, bye, { what: 'client_id among the audiences', ended: [s2.sid] });
  });

  // ---- hints that must be refused ------------------------------------------------------------

  it('refuses hints the provider did not issue, or for another client, and ends nothing', async () => {
    const s = await newSession();
    const keys = signingKeys(w);
    const base = { sub: s.sub, sid: s.sid, aud: 'rp1', iss: w.vars.ISSUER, iat: nowS() - 60, exp: nowS() + 3600 };
    const other = await newSession('alice');
    const otherHint = await hintFor(other);
    const pem = createPublicKey({ key: publicJwk(keys.RS256), format: 'jwk' }).export({ type: 'spki', format: 'pem' });

    const cases = [
      ['a foreign RS256 key under the provider\'s kid', await mintIdToken(w, { ...base, alg: 'RS256', key: foreignKey('RS256', keys.RS256.kid) }), /signature/],
      ['a foreign ES256 key under an unknown kid', await mintIdToken(w, { ...base, alg: 'ES256', key: foreignKey('ES256') }), /key of this provider/],
      ['a foreign EdDSA key under the provider\'s kid', await mintIdToken(w, { ...base, alg: 'EdDSA', key: foreignKey('EdDSA', keys.EdDSA.kid) }), /signature/],
      ['alg none with the provider\'s kid', unsignedToken(base, { kid: keys.RS256.kid }), /algorithm/],
      ['alg none without a kid', unsignedToken(base), /algorithm/],
      ['HS256 keyed with the public JWK\'s JSON', hmacToken(base, publicKeyBytes(w, 'RS256'), { kid: keys.RS256.kid }), /algorithm/],
      ['HS256 keyed with the public key\'s PEM', hmacToken(base, pem, { kid: keys.RS256.kid }), /algorithm/],
      ['a modified payload (another session\'s token made to name this one)', withPayload(otherHint, base), /signature/],
      ['a wrong iss', await mintIdToken(w, { ...base, iss: 'https://evil.example' }), /not issued by this provider/],
      ['iss with a trailing slash', await mintIdToken(w, { ...base, iss: `${w.vars.ISSUER}/` }), /not issued by this provider/],
      ['no iss', await mintIdToken(w, { ...base, omit: ['iss'] }), /not issued by this provider/],
      ['no sub', await mintIdToken(w, { ...base, omit: ['sub'] }), /sub/],
      ['an unknown aud', await mintIdToken(w, { ...base, aud: 'no-such-client' }), /not registered/],
      ['iat ten minutes in the future', await mintIdToken(w, { ...base, iat: nowS() + 600, exp: nowS() + 4200 }), /future/],
      ['not a JWT', 'not.a.jwt', /well-formed/],
      ['a truncated signature', (await hintFor(s)).slice(0, -4), /signature|well-formed/],
    ];
    for (const [what, hint, mention] of cases) {
      for (const method of ['GET', 'POST']) {
        const r = await es({
          method,
          params: { id_token_hint: hint, post_logout_redirect_uri: bye, state: 's' },
          browser: s.browser,
        });
        await assertRefused(r, { what: `${what} (${method})`, sids: [s.sid, other.sid], mention });
      }
    }

    // client_id naming another (registered) client than the hint's.
    const hint = await hintFor(s);
    let r = await es({ params: { id_token_hint: hint, client_id: 'rp2', post_logout_redirect_uri: bye2, state: 's' }, browser: s.browser });
    await assertRefused(r, { what: 'client_id mismatch', sids: [s.sid], mention: /client_id does not match/ });
    r = await es({ params: { id_token_hint: hint, client_id: 'rp2' }, browser: s.browser });
    await assertRefused(r, { what: 'client_id mismatch without a URI', sids: [s.sid] });
    r = await es({ params: { id_token_hint: hint, client_id: 'no-such-client' }, browser: s.browser });
    await assertRefused(r, { what: 'client_id unknown', sids: [s.sid] });

    // The genuine hint still works afterwards: the refusals changed nothing.
    r = await es({ params: { id_token_hint: hint, client_id: 'rp1', post_logout_redirect_uri: bye }, browser: s.browser });
    await assertRedirected(r, bye, { what: 'genuine hint after the refusals', ended: [s.sid] });
  });

  it('post_logout_redirect_uri must match a registered URI of the hint\'s client exactly', async () => {
    const s = await newSession();
    const hint = await hintFor(s);
    const port = new URL(rp.url).port;
    const near = [
      `${bye}?foo=bar`,
      `${bye}/`,
      `${bye}#`,
      `${bye}?`,
      `${byeQuery}&x=1`,
      `${rp.url}/BYE`,
      `${rp.url}/Bye`,
      `HTTP://127.0.0.1:${port}/bye`,
      `http://localhost:${port}/bye`,
      `${rp.url}/by%65`,
      `${rp.url}//bye`,
      ` ${bye}`,
      bye2, // rp2's URI, with rp1's hint
      `${rp.url}/cb`, // a redirect_uri, not a post-logout one
      'https://evil.example/bye',
    ];
    for (const uri of near) {
      const r = await es({ params: { id_token_hint: hint, post_logout_redirect_uri: uri, state: 's' }, browser: s.browser });
      await assertRefused(r, { what: `hint + ${JSON.stringify(uri)}`, sids: [s.sid], mention: /not registered/ });
      // Without a hint, the client_id names the client the URI is checked against.
      const r2 = await es({ params: { client_id: 'rp1', post_logout_redirect_uri: uri }, browser: s.browser });
      await assertRefused(r2, { what: `client_id + ${JSON.stringify(uri)}`, sids: [s.sid], mention: /not registered/ });
    }
  });

  it('a post_logout_redirect_uri without hint and without client_id is refused', async () => {
    const s = await newSession();
    for (const method of ['GET', 'POST']) {
      const r = await es({ method, params: { post_logout_redirect_uri: bye, state: 's' }, browser: s.browser });
      await assertRefused(r, { what: `URI alone (${method})`, sids: [s.sid], mention: /needs an id_token_hint or a client_id/ });
    }
    // Not even for a browser without a session.
    const r = await es({ params: { post_logout_redirect_uri: bye } });
    await assertRefused(r, { what: 'URI alone, no session' });
  });

  // ---- malformed requests --------------------------------------------------------------------

  it('refuses duplicate parameters', async () => {
    const s = await newSession();
    const hint = await hintFor(s);
    // Valid as a whole: without the duplicate this would log out at once.
    const valid = [['id_token_hint', hint], ['client_id', 'rp1'], ['post_logout_redirect_uri', bye], ['state', 'a'], ['logout_hint', 'alice'], ['ui_locales', 'en']];
    for (const [name, value] of valid) {
      for (const second of [value, `${value}-2`, '']) {
        for (const method of ['GET', 'POST']) {
          const params = [...valid, [name, second]];
          const r = await es({ method, params, browser: s.browser });
          await assertRefused(r, { what: `${name} twice (${method}, ${JSON.stringify(second.slice(0, 10))})`, sids: [s.sid], mention: new RegExp(`${name} was given more than once`) });
        }
      }
    }
    // The same name, once percent-encoded.
    for (const extra of ['st%61te=b', 'client%5Fid=rp1', 'id_token_hint=' + encodeURIComponent(hint)]) {
      const r = await es({ params: `${new URLSearchParams(valid)}&${extra}`, browser: s.browser });
      await assertRefused(r, { what: `encoded duplicate ${extra.slice(0, 20)}`, sids: [s.sid], mention: /more than once/ });
    }
    // Too long a state (it would be echoed into the Location header).
    let r = await es({ params: [...valid.filter(([n]) => n !== 'state'), ['state', 's'.repeat(2049)]], browser: s.browser });
    await assertRefused(r, { what: 'state of 2049 bytes', sids: [s.sid], mention: /too long/ });
    // An unknown client_id is refused even without hint or URI.
    r = await es({ params: { client_id: 'no-such-client' }, browser: s.browser });
    await assertRefused(r, { what: 'unknown client_id alone', sids: [s.sid], mention: /not known/ });
    // Unknown parameters may repeat.
    r = await es({ params: [...valid, ['foo', '1'], ['foo', '2']], browser: s.browser });
    await assertRedirected(r, `${bye}?state=a`, { what: 'repeated unknown parameter', ended: [s.sid] });
  });

  it('refuses invalid percent-encoding and invalid UTF-8', async () => {
    const s = await newSession();
    const hint = await hintFor(s);
    const valid = new URLSearchParams({ id_token_hint: hint, post_logout_redirect_uri: bye }).toString();
    const bad = [
      ['state=%ZZ', /percent-encoding/],
      ['state=%', /percent-encoding/],
      ['state=100%', /percent-encoding/],
      ['state=%4', /percent-encoding/],
      ['state=%4g', /percent-encoding/],
      ['%zz=1', /percent-encoding/],
      ['state=%FF', /UTF-8/],
      ['state=%C3', /UTF-8/],
      ['state=%C3%28', /UTF-8/],
      ['state=%ED%A0%80', /UTF-8/],
      ['foo=%C0%AF', /UTF-8/],
    ];
    for (const [piece, mention] of bad) {
      for (const method of ['GET', 'POST']) {
        const r = await es({ method, params: `${valid}&${piece}`, browser: s.browser });
        await assertRefused(r, { what: `${piece} (${method})`, sids: [s.sid], mention });
      }
    }
    // Raw bytes that are not UTF-8 in a form body.
    const raw = Buffer.concat([Buffer.from(`${valid}&state=`), Buffer.from([0xff, 0xfe, 0x41])]);
    const r = await es({ method: 'POST', rawBody: raw, browser: s.browser });
    await assertRefused(r, { what: 'raw 0xFF in the body', sids: [s.sid], mention: /UTF-8/ });
    // A POST that is not a form.
    const json = await es({ method: 'POST', rawBody: JSON.stringify({ id_token_hint: hint }), headers: { 'content-type': 'application/json' }, browser: s.browser });
    await assertRefused(json, { what: 'JSON body', sids: [s.sid], mention: /x-www-form-urlencoded/ });
  });

  it('errors are JSON when the client prefers it', async () => {
    const s = await newSession();
    const hint = await hintFor(s);
    const cases = [
      ['bad hint', { id_token_hint: unsignedToken(payloadOf(hint)), post_logout_redirect_uri: bye }, /algorithm/],
      ['unregistered URI', { id_token_hint: hint, post_logout_redirect_uri: `${bye}?foo=bar` }, /not registered/],
      ['URI without client', { post_logout_redirect_uri: bye }, /id_token_hint or a client_id/],
      ['duplicate', 'state=a&state=b', /more than once/],
      ['bad encoding', 'state=%ZZ', /percent-encoding/],
    ];
    for (const [what, params, mention] of cases) {
      for (const accept of ['application/json', 'text/html;q=0.5, application/json']) {
        const r = await es({ params, accept, browser: s.browser });
        await assertRefused(r, { what: `${what} (${accept})`, sids: [s.sid], json: true, mention });
      }
      for (const accept of ['text/html, application/json;q=0.9', 'text/html,application/xhtml+xml,*/*;q=0.8']) {
        const r = await es({ params, accept, browser: s.browser });
        await assertRefused(r, { what: `${what} (${accept})`, sids: [s.sid], mention });
      }
    }
    // Confirmation errors too.
    const r = await es({ method: 'POST', params: { confirm: 'forged', logout: 'yes' }, accept: 'application/json', browser: s.browser });
    await assertRefused(r, { what: 'forged confirmation (JSON)', sids: [s.sid], json: true });
  });

  // ---- state and the redirect ------------------------------------------------------------------

  it('a 128-character state of URL-unsafe characters round-trips exactly', async () => {
    const seed = 'a b&c=d+e%f/g?h#i é 日本 😀 \'"<>;,:@!$()*[]{}|\\^`~%20%zz+&&==??##//';
    let state = '';
    for (const ch of [...seed]) if ([...state].length < 128) state += ch;
    let i = 0;
    while ([...state].length < 128) state += 'xyz&= +%/?#é'[i++ % 12];
    assert.equal([...state].length, 128);
    for (const ch of [' ', '&', '=', '+', '%', '/', '?', '#', 'é', '😀']) assert.ok(state.includes(ch), ch);

    const check = async (r, what) => {
      assert.equal(r.status, 303, `${what}: ${r.text.slice(0, 200)}`);
      assert.ok(r.location.startsWith(`${bye}?state=`), `${what}: ${r.location}`);
      const u = new URL(r.location);
      assert.deepEqual(u.searchParams.getAll('state'), [state], what);
      assert.deepEqual([...u.searchParams.keys()], ['state'], what);
      assert.equal(u.hash, '', `${what}: a # in the state must not become a fragment`);
      // The relying party gets it exactly.
      rp.reset();
      const landing = await fetch(r.location, { redirect: 'manual', signal: AbortSignal.timeout(5000) });
      assert.equal(landing.status, 200);
      const [rec] = rp.gets('/bye');
      assert.ok(rec, `${what}: the RP saw no landing request`);
      assert.equal(rec.query.state, state, what);
    };

    // At once (valid hint), by GET and by POST.
    for (const method of ['GET', 'POST']) {
      const s = await newSession();
      const r = await es({ method, params: { id_token_hint: await hintFor(s), post_logout_redirect_uri: bye, state }, browser: s.browser });
      await check(r, `hint, ${method}`);
      await assertEnded(s.sid, method);
    }
    // Through the confirmation step (kept server-side meanwhile).
    const s = await newSession();
    const page = await es({ params: { client_id: 'rp1', post_logout_redirect_uri: bye, state }, browser: s.browser });
    const form = await assertConfirmation(page, { what: 'long state', alive: [s.sid] });
    assert.ok(!page.text.includes(state), 'the state is not echoed into the page');
    await check(await answer(form, s.browser, 'yes'), 'after confirmation');
  });

  it('no state: no state parameter; an empty state counts as none', async () => {
    for (const params of [{ post_logout_redirect_uri: bye }, { post_logout_redirect_uri: bye, state: '' }]) {
      const s = await newSession();
      const r = await es({ params: { id_token_hint: await hintFor(s), ...params }, browser: s.browser });
      await assertRedirected(r, bye, { what: JSON.stringify(params), ended: [s.sid] });
      assert.ok(!r.location.includes('state'));
    }
  });

  it('a registered URI with a query keeps it, and the state is added', async () => {
    let s = await newSession();
    let r = await es({ params: { id_token_hint: await hintFor(s), post_logout_redirect_uri: byeQuery, state: 's 1&x=2' }, browser: s.browser });
    await assertRedirected(r, `${byeQuery}&state=s%201%26x%3D2`, { what: 'query + state', ended: [s.sid] });
    const u = new URL(r.location);
    assert.deepEqual([...u.searchParams], [['from', 'op'], ['state', 's 1&x=2']]);

    s = await newSession();
    r = await es({ params: { id_token_hint: await hintFor(s), post_logout_redirect_uri: byeQuery }, browser: s.browser });
    await assertRedirected(r, byeQuery, { what: 'query, no state', ended: [s.sid] });
  });
});
