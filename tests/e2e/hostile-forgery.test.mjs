// End-to-end tests of forgery against the built worker under `wrangler dev`: header injection
// and open-redirect attempts, CSRF on the confirmation, attacks on the admin token, forged
// session cookies. Each must be refused and change nothing: after each group the admin API shows
// the same clients and sessions, and the live session's cookie still works (support/hostile.mjs).
// Run by scripts/test.sh with Node 22: node --test --test-concurrency=1 tests/e2e/*.test.mjs
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';

import { assertConfirmationPage, assertRefused, it, sessionCookies } from '../support/fixtures.mjs';
import { BINDING, COOKIE, assertAdminError, encodeStrict, rawHttp, startHostileWorld } from '../support/hostile.mjs';
import { Browser, b64, confirmationForm, endSession, mintIdToken, parseSetCookie } from '../support/oidc.mjs';

describe('hostile requests: injection, open redirects, forged confirmations, tokens and cookies', { timeout: 150_000 }, () => {
  let h; // the world of support/hostile.mjs
  let w;
  let rp;
  let endpoint; // from discovery
  let endPath;
  let bye; // rp1's registered post-logout URI
  let byeFc; // rpfc's (with a query), a client with a front-channel URI
  let victim; // the live session every group must leave alone: {sid, sub, cookie}
  let victimHint; // a valid hint for it: with its cookie, a request that would log out at once
  let newSession, exists, snapshot, assertUnchanged, victimQuery, victimBrowser, hintOfLength;

  before(async () => {
    h = await startHostileWorld();
    ({ w, rp, endpoint, endPath, bye, byeFc, victim, victimHint } = h);
    ({ newSession, exists, snapshot, assertUnchanged, victimQuery, victimBrowser, hintOfLength } = h);
  }, { timeout: 90_000 });

  after(async () => {
    await h?.stop();
  });

  // ---- 6. header injection -------------------------------------------------------------------

  it('a hostile state is percent-encoded into the Location (no CR/LF, no extra header) and escaped in pages', { timeout: 30_000 }, async () => {
    const states = [
      '\r\nSet-Cookie: x=1',
      '%0d%0aLocation: https://evil.example/',
      '\n\rX-Injected: 1\r\n\r\n<html>',
      '<script>alert(1)</script>',
      '"\'><img src=x onerror=alert(1)>',
      'a\u0000b',
      '\u2028\u2029\u0085',
      'https://evil.example/',
      '#frag?x=1&state=2',
    ];
    for (const state of states) {
      const carol = await newSession('carol');
      const hint = await mintIdToken(w, { sub: 'carol', sid: carol.sid, aud: 'rp1' });
      const q = new URLSearchParams({ id_token_hint: hint, post_logout_redirect_uri: bye, state });
      // Read off the wire: the header block as sent.
      const raw = await rawHttp(w.port, `GET ${endPath}?${q} HTTP/1.1\r\nHost: 127.0.0.1:${w.port}\r\nCookie: ${COOKIE}=${carol.cookie}\r\nConnection: close\r\n\r\n`);
      const what = `state ${JSON.stringify(state)}`;
      assert.equal(raw.status, 303, `${what}: ${raw.head}`);
      const locations = raw.headers.filter(([n]) => n === 'location').map(([, v]) => v);
      assert.deepEqual(locations, [`${bye}?state=${encodeStrict(state)}`], what);
      assert.equal(new URL(locations[0]).searchParams.get('state'), state, `${what}: the RP decodes what it sent`);
      assert.equal(new URL(locations[0]).hash, '', what);
      const cookies = raw.headers.filter(([n]) => n === 'set-cookie').map(([, v]) => v);
      assert.equal(cookies.length, 1, `${what}: ${raw.head}`);
      assert.match(cookies[0], new RegExp(`^${COOKIE}=; Max-Age=0;`), what);
      for (const [name] of raw.headers) assert.match(name, /^[a-z0-9!#$%&'*+.^_`|~-]+$/, `${what}: a broken header line in ${raw.head}`);
      assert.ok(!raw.headers.some(([n]) => n === 'x-injected'), `${what}: ${raw.head}`);
      assert.ok(!/[\u0000\u0080-\uffff]/.test(raw.head), `${what}: control or non-ASCII bytes in the header block`);
      assert.ok(!(await exists(carol.sid)), `${what}: the logout did not happen`);
    }

    // Through the confirmation step (the state kept server-side, not echoed into the page).
    const state = '\r\nSet-Cookie: x=1"><script>alert(1)</script>';
    let carol = await newSession('carol');
    const page = await endSession(endpoint, { params: { client_id: 'rp1', post_logout_redirect_uri: bye, state }, browser: carol.browser });
    assert.equal(page.status, 200, page.text.slice(0, 200));
    assert.ok(!page.text.includes('alert(1)') && !page.text.includes('x=1'), 'the state is echoed into the confirmation page');
    const form = confirmationForm(page.text);
    const yes = await endSession(new URL(form.action, endpoint).href, { method: 'POST', params: { confirm: form.token, logout: 'yes' }, browser: carol.browser });
    assert.equal(yes.status, 303, yes.text.slice(0, 200));
    assert.equal(yes.location, `${bye}?state=${encodeStrict(state)}`);
    assert.deepEqual(yes.setCookies.map((c) => parseSetCookie(c).name), [COOKIE]);

    // The front-channel page carries the next URL (with the state) HTML-escaped.
    carol = await newSession('carol', ['rpfc']);
    const fcHint = await mintIdToken(w, { sub: 'carol', sid: carol.sid, aud: 'rpfc' });
    const fc = await endSession(endpoint, { params: { id_token_hint: fcHint, post_logout_redirect_uri: byeFc, state }, browser: carol.browser });
    assert.equal(fc.status, 200, fc.text.slice(0, 200));
    const next = `${byeFc}&state=${encodeStrict(state)}`;
    const escaped = next.replace(/&/g, '&#38;');
    const link = /<a id="continue" href="([^"]*)"/.exec(fc.text);
    assert.ok(link, 'the front-channel page has a continue link');
    assert.equal(link[1], escaped, 'continue link');
    assert.ok(fc.text.includes(`url=${escaped}"`), 'meta refresh');
    assert.ok(!fc.text.includes('<script>alert') && !fc.text.includes('<img') && !fc.text.includes('&b=2'), 'unescaped state or URL in the front-channel page');

    // The confirmation page escapes a client name; error pages escape what they echo.
    const victimPage = await endSession(endpoint, { params: { client_id: 'rpfc' }, browser: victimBrowser() });
    assert.equal(victimPage.status, 200);
    assert.ok(!victimPage.text.includes('<img src=x'), 'the client name is not escaped in the confirmation page');
    assert.ok(victimPage.text.includes('&#60;img src=x onerror=alert(1)&#62;'), 'the client name is shown escaped');
    const [, payload, sig] = victimHint.split('.');
    const badAlg = `${b64({ alg: '"><img src=x>' })}.${payload}.${sig}`;
    const err = await endSession(endpoint, {
      params: { id_token_hint: badAlg, ui_locales: '"><script>alert(2)</script>' },
      headers: { 'accept-language': '"><script>alert(3)</script>' },
      browser: victimBrowser(),
    });
    await assertRefused(err, { status: 400, what: 'alg with markup', mention: /algorithm/ });
    assert.ok(!err.text.includes('<img') && !err.text.includes('alert('), 'markup echoed into the error page');
    assert.match(err.headers.get('content-language') ?? '', /^[a-z]{2}(-[A-Za-z]{2})?$/, 'content-language');

    // A forged Host (or forwarded host) does not move the issuer or the endpoints.
    const discovery = await rawHttp(w.port, 'GET /.well-known/openid-configuration HTTP/1.1\r\nHost: evil.example\r\n' +
      'X-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\nForwarded: host=evil.example\r\nConnection: close\r\n\r\n');
    assert.equal(discovery.status, 200, discovery.head);
    assert.ok(!discovery.body.includes('evil.example'), `the discovery document names the forged host: ${discovery.body.slice(0, 300)}`);
    assert.ok(discovery.body.includes(`"end_session_endpoint":"${endpoint}"`), discovery.body.slice(0, 300));
    assert.ok(await exists(victim.sid));
  });

  it('registration refuses URIs with CR/LF, spaces, tabs, backslashes, scripts, userinfo, fragments, look-alike hosts', { timeout: 20_000 }, async () => {
    const before = await snapshot();
    const base = { redirect_uris: ['https://inj.example/cb'] };
    const bad = [
      'https://inj.example/bye\r\nSet-Cookie: x=1',
      'https://inj.example/bye\nLocation: https://evil.example/',
      'https://inj.example/bye\r',
      'https://inj.example/ bye',
      'https://inj.example/bye ',
      ' https://inj.example/bye',
      'https://inj.example/\tbye',
      'https://inj.example/bye\u0000',
      'https://inj.example/bye\u00a0',
      'https://inj.example/bye\u2028',
      'https://inj.example\\@evil.example/',
      'https://inj.example/b\\c',
      'https:\\\\evil.example/',
      'javascript:alert(1)',
      'JavaScript://inj.example/%0aalert(1)',
      'data:text/html,<script>alert(1)</script>',
      'vbscript:msgbox(1)',
      'file:///etc/passwd',
      'ftp://inj.example/',
      'https://a@b.example/',
      'https://user:pw@inj.example/',
      'https://inj.example@evil.example/',
      'https://inj.example/bye#frag',
      'https://inj.example/bye#',
      'https://evil.example#@inj.example/',
      'https://exаmple.com/', // a Cyrillic а
      'https://inj.ехample/', // Cyrillic е and х
      'https://ｅxample.com/', // fullwidth
      '//inj.example/bye',
      '/bye',
      'https:inj.example/bye',
      'https:/inj.example/bye',
      'https://',
      '',
    ];
    for (const uri of bad) {
      const r = await w.admin('PUT', '/admin/clients/inj', { ...base, post_logout_redirect_uris: [uri] });
      assertAdminError(r, 400, 'invalid_client_metadata', `post_logout_redirect_uri ${JSON.stringify(uri)}`);
    }
    // The same checks on the other URI members.
    for (const uri of bad.slice(0, 16)) {
      for (const member of ['redirect_uris', 'backchannel_logout_uri', 'frontchannel_logout_uri']) {
        const value = member === 'redirect_uris' ? [uri] : uri;
        const r = await w.admin('PUT', '/admin/clients/inj', { ...base, [member]: value });
        assertAdminError(r, 400, 'invalid_client_metadata', `${member} ${JSON.stringify(uri)}`);
      }
    }
    await assertUnchanged(before, 'URI registration');
  });

  it('registration refuses URIs whose text is not where browsers go (encoded dots, dot segments, empty userinfo, extra slashes)', { timeout: 20_000 }, async () => {
    const before = await snapshot();
    const base = { redirect_uris: ['https://inj.example/cb'] };
    const accepted = [];
    try {
      for (const uri of [
        'https://inj.example/%2e%2e/x',
        'https://inj.example/bye/%2E%2E/evil',
        'https://inj.example/%2e/x',
        'https://inj%2eexample/x',
        'https://%69nj.example/x',
        'https://inj.example/bye/../evil',
        'https://:@inj.example/',
        'https://@inj.example/',
        'https:///bye', // browsers go to https://bye/
        'https:////inj.example/',
      ]) {
        const r = await w.admin('PUT', '/admin/clients/dots', { ...base, post_logout_redirect_uris: [uri] });
        assert.ok(r.status < 500, `${uri}: ${r.status} ${r.text}`);
        if (r.status !== 400 || r.json?.error !== 'invalid_client_metadata') accepted.push(`${uri} -> ${r.status}`);
      }
    } finally {
      await w.admin('DELETE', '/admin/clients/dots');
    }
    assert.deepEqual(accepted, [], `URIs that browsers read otherwise were registered:\n${accepted.join('\n')}`);
    await assertUnchanged(before, 'dots');
  });

  // ---- 7. open redirects -------------------------------------------------------------------

  it('open-redirect attempts at logout are refused (400, no Location), with a hint and with client_id', { timeout: 30_000 }, async () => {
    const before = await snapshot();
    const origin = rp.url; // http://127.0.0.1:PORT
    const hostPort = new URL(origin).host;
    const attempts = [
      `//evil.example/bye`,
      `//${hostPort}/bye`,
      `${origin}/bye/../evil`,
      `${origin}/%2e%2e/x`,
      `${origin}/bye/%2e%2e/evil`,
      `${origin}\\@evil.example/`,
      `${origin}/bye\\@evil.example`,
      `HTTP://${hostPort}/bye`,
      `http://${hostPort.toUpperCase()}/BYE`,
      `${origin}/bye?x`,
      `${origin}/bye?`,
      `${origin}/bye#`,
      `${origin}/bye#@evil.example`,
      `http:/${hostPort}/bye`,
      `http:${hostPort}/bye`,
      `${origin}/bye/`,
      `${origin}//bye`,
      `${origin}/bye%00`,
      `${origin}/bye\r\n`,
      `${origin}/bye `,
      ` ${origin}/bye`,
      `http://evil.example@${hostPort}/bye`,
      `http://${hostPort}@evil.example/bye`,
      `http://127.0.0.1.:${new URL(origin).port}/bye`,
      `http://0x7f.0.0.1:${new URL(origin).port}/bye`,
      `http://[::ffff:127.0.0.1]:${new URL(origin).port}/bye`,
      `https://${hostPort}/bye`,
      `${origin}/BYE`,
      `${origin}/by%65`,
      `${origin}/cb`, // a redirect_uri, not a post-logout one
      `${origin}/bye2`, // rp2's
      'https://evil.example/bye',
      'javascript:alert(1)',
      '/bye',
    ];
    for (const uri of attempts) {
      for (const [how, params] of [
        ['hint', { id_token_hint: victimHint, post_logout_redirect_uri: uri, state: 's' }],
        ['client_id', { client_id: 'rp1', post_logout_redirect_uri: uri, state: 's' }],
      ]) {
        for (const method of how === 'hint' ? ['GET', 'POST'] : ['GET']) {
          const r = await endSession(endpoint, { method, params, browser: victimBrowser() });
          await assertRefused(r, { status: 400, what: `${how} + ${JSON.stringify(uri)} (${method})`, mention: /not registered/ });
          assert.equal(confirmationForm(r.text), null, `${how} + ${JSON.stringify(uri)}: a confirmation page`);
        }
      }
    }
    await assertUnchanged(before, 'open redirects');
  });

  // ---- 8. CSRF on the confirmation -------------------------------------------------------------

  it('a confirmation cannot be forged, moved to another browser, replayed, or used twice at once', { timeout: 30_000 }, async () => {
    const target = await newSession('alice');
    const mallory = await newSession('mallory');
    const later = await newSession('alice'); // the target browser's next session (for the replay)
    const before = await snapshot();
    const sids = [victim.sid, target.sid, mallory.sid, later.sid];
    const allAlive = async (what) => {
      for (const sid of sids) assert.ok(await exists(sid), `${what}: ${sid} was ended`);
    };
    const answer = (form, browser, params) =>
      endSession(new URL(form.action, endpoint).href, { method: 'POST', params: params ?? { confirm: form.token, logout: 'yes' }, browser });

    const page = await endSession(endpoint, { params: { client_id: 'rp1', post_logout_redirect_uri: bye, state: 'csrf' }, browser: target.browser });
    assert.equal(page.status, 200, page.text.slice(0, 200));
    const form = confirmationForm(page.text);
    assert.ok(form?.token, 'a confirmation form');
    const binding = target.browser.get(BINDING);
    assert.match(binding ?? '', /^[A-Za-z0-9_-]{43}$/);
    const mPage = await endSession(endpoint, { browser: mallory.browser });
    assert.ok(confirmationForm(mPage.text), 'mallory\'s confirmation page');

    // Posted from another browser: mallory's (its own session and binding), or one without cookies.
    let r = await answer(form, mallory.browser);
    await assertRefused(r, { status: 400, what: 'token from another browser', mention: /not issued to this browser/ });
    r = await answer(form, new Browser());
    await assertRefused(r, { status: 400, what: 'token from a browser without cookies', mention: /not issued to this browser/ });
    // The target's session cookie with another binding cookie, or none, or a made-up one.
    for (const [what, cookies] of [
      ['mallory\'s binding', { [COOKIE]: target.cookie, [BINDING]: mallory.browser.get(BINDING) }],
      ['no binding', { [COOKIE]: target.cookie }],
      ['a made-up binding', { [COOKIE]: target.cookie, [BINDING]: 'A'.repeat(43) }],
      ['an empty binding', { [COOKIE]: target.cookie, [BINDING]: '' }],
      ['the binding cookie twice, a wrong one first', { [COOKIE]: target.cookie, [`${BINDING}`]: `${'B'.repeat(43)}; ${BINDING}=${binding}` }],
    ]) {
      r = await answer(form, new Browser(cookies));
      await assertRefused(r, { status: 400, what: `target's cookie with ${what}` });
    }
    // Posted with GET: not a confirmation but a new logout request, which asks again.
    r = await endSession(endpoint, { params: { confirm: form.token, logout: 'yes' }, browser: new Browser(Object.fromEntries(target.browser.jar)) });
    assert.equal(r.status, 200, `GET with the token: ${r.text.slice(0, 200)}`);
    assert.equal(r.location, null, 'GET with the token');
    assert.deepEqual(sessionCookies(r.setCookies), [], 'GET with the token');
    assertConfirmationPage(r, 'GET with the token: a new confirmation', { notToken: form.token });
    // Forged flags and tokens, from the right browser.
    for (const params of [
      { confirmed: 'true', logout: 'yes' },
      { confirm: 'true', logout: 'yes' },
      { confirm: '1', logout: 'yes' },
      { confirm: form.token.slice(0, -1), logout: 'yes' },
      { confirm: `${form.token}A`, logout: 'yes' },
      { confirm: form.token.toUpperCase(), logout: 'yes' },
      { confirm: 'x'.repeat(8000), logout: 'yes' },
      { confirm: form.token, logout: 'YES' },
      { confirm: form.token, logout: 'true' },
      { confirm: form.token },
      [['confirm', form.token], ['confirm', form.token], ['logout', 'yes']],
    ]) {
      r = await answer(form, target.browser, params);
      await assertRefused(r, { status: 400, what: `forged ${JSON.stringify(params).slice(0, 80)}` });
    }
    // `confirmed=true` alone is not a confirmation: it is a plain request, which asks.
    r = await answer(form, new Browser(Object.fromEntries(target.browser.jar)), { confirmed: 'true' });
    assert.equal(r.status, 200);
    assert.equal(r.location, null);
    assert.deepEqual(sessionCookies(r.setCookies), [], 'confirmed=true');
    assertConfirmationPage(r, 'confirmed=true: it asks', { notToken: form.token });
    await allAlive('after the forgeries');

    // Posted four times at once from the right browser: used once.
    const answers = await Promise.all([0, 1, 2, 3].map(() => answer(form, new Browser(Object.fromEntries(target.browser.jar)))));
    const used = answers.filter((a) => a.status !== 400);
    assert.equal(used.length, 1, `statuses of 4 concurrent answers: ${answers.map((a) => a.status)}`);
    assert.equal(used[0].status, 303);
    assert.equal(used[0].location, `${bye}?state=csrf`);
    for (const a of answers.filter((x) => x.status === 400)) await assertRefused(a, { status: 400, what: 'a concurrent duplicate' });
    assert.ok(!(await exists(target.sid)), 'the legitimate answer did not end the session');

    // Replayed, once the browser has a new session: refused, and that session stays.
    target.browser.set(COOKIE, later.cookie);
    r = await answer(form, target.browser);
    await assertRefused(r, { status: 400, what: 'replayed token', mention: /already used/ });

    // Only the target session ended.
    const now = await snapshot();
    const expected = structuredClone(before);
    expected.sessions.alice = expected.sessions.alice.filter((s) => s.sid !== target.sid);
    assert.deepEqual(now, expected, 'something else than the one confirmed session changed');
    for (const sid of [victim.sid, mallory.sid, later.sid]) assert.ok(await exists(sid), `${sid} was ended`);
  });

  // ---- 9. the admin token --------------------------------------------------------------------

  it('admin token attacks: all 401 with WWW-Authenticate, only the right token works, nothing changes', { timeout: 30_000 }, async () => {
    const before = await snapshot();
    const tok = w.adminToken;
    const flipped = tok.slice(0, -1) + (tok.at(-1) === 'A' ? 'B' : 'A');
    const bad = [
      ['none', null],
      ['wrong, same length', `Bearer ${flipped}`],
      ['short', 'Bearer a'],
      ['empty', 'Bearer '],
      ['only spaces after Bearer', 'Bearer      '],
      ['scheme only', 'Bearer'],
      ['a prefix', `Bearer ${tok.slice(0, -1)}`],
      ['half', `Bearer ${tok.slice(0, Math.floor(tok.length / 2))}`],
      ['plus a character', `Bearer ${tok}x`],
      ['plus a word', `Bearer ${tok} x`],
      ['twice', `Bearer ${tok}${tok}`],
      ['the token alone', tok],
      ['no space', `Bearer${tok}`],
      ['a tab', `Bearer\t${tok}`],
      ['Bearer twice', `Bearer Bearer ${tok}`],
      ['Basic with the token', `Basic ${Buffer.from(`admin:${tok}`).toString('base64')}`],
      ['Basic raw', `Basic ${tok}`],
      ['Token scheme', `Token ${tok}`],
      ['quoted', `Bearer "${tok}"`],
      ['token=', `Bearer token=${tok}`],
      ['a list', `Bearer wrong, Bearer ${tok}`],
      ['case-changed token', `Bearer ${tok.toUpperCase() === tok ? tok.toLowerCase() : tok.toUpperCase()}`],
    ];
    const attempts = (auth) => [
      ['PUT', '/admin/clients/evil', { redirect_uris: ['https://evil.example/cb'] }],
      ['PUT', '/admin/clients/rp1', { redirect_uris: ['https://evil.example/cb'], post_logout_redirect_uris: ['https://evil.example/bye'] }],
      ['DELETE', '/admin/clients/rp1'],
      ['DELETE', `/admin/sessions/${victim.sid}`],
      ['DELETE', '/admin/sessions?sub=alice'],
      ['POST', '/admin/sessions', { sub: 'alice', clients: ['rp1'] }],
      ['GET', '/admin/clients'],
    ].map(([method, path, body]) => ({ method, path, body, auth }));
    const check = (r, what) => {
      assertAdminError(r, 401, 'invalid_token', what);
      assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer realm="[^"]+"$/, `${what}: WWW-Authenticate`);
      assert.ok(!r.text.includes(tok), `${what}: the answer contains the token`);
    };
    for (const [label, auth] of bad) {
      for (const a of attempts(auth)) {
        const opts = auth === null ? { token: null } : { authorization: auth };
        const r = await w.admin(a.method, a.path, a.body, opts);
        check(r, `${label}: ${a.method} ${a.path}`);
      }
    }
    // Two Authorization headers (fetch joins them into one list).
    const h = new Headers();
    h.append('authorization', `Bearer ${flipped}`);
    h.append('authorization', `Bearer ${tok}`);
    let res = await w.request('/admin/clients/rp1', { method: 'DELETE', headers: h });
    assert.equal(res.status, 401, `two Authorization headers: ${await res.text()}`);
    // The token anywhere but the Authorization header.
    for (const [method, path, init] of [
      ['GET', `/admin/clients?access_token=${tok}`, {}],
      ['DELETE', `/admin/clients/rp1?access_token=${tok}`, {}],
      ['DELETE', `/admin/sessions/${victim.sid}?token=${tok}`, {}],
      ['DELETE', `/admin/sessions?sub=alice&access_token=${tok}`, {}],
      ['POST', '/admin/sessions', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `access_token=${tok}` }],
      ['DELETE', '/admin/clients/rp1', { headers: { cookie: `access_token=${tok}; token=${tok}` } }],
      ['DELETE', '/admin/clients/rp1', { headers: { 'x-admin-token': tok, 'proxy-authorization': `Bearer ${tok}` } }],
    ]) {
      res = await w.request(path, { method, ...init });
      const text = await res.text();
      assert.equal(res.status, 401, `token in the ${method} ${path.split('?')[0]} request elsewhere: ${text}`);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer /);
    }
    await assertUnchanged(before, 'admin token attacks');

    // What is accepted: the right token, with the scheme in any case (RFC 6750 / RFC 9110:
    // auth schemes are case-insensitive) and any number of spaces before it (1*SP).
    for (const auth of [`Bearer ${tok}`, `bearer ${tok}`, `BEARER ${tok}`, `Bearer   ${tok}`, `Bearer ${tok}   `]) {
      const r = await w.admin('GET', '/admin/clients', undefined, { authorization: auth });
      assert.equal(r.status, 200, `${JSON.stringify(auth.replace(tok, '<token>'))}: ${r.text.slice(0, 200)}`);
    }
  });

  // ---- 10. forged session cookies ---------------------------------------------------------------

  it('a cookie that names a session without its secret is no session: nothing ends', { timeout: 30_000 }, async () => {
    const before = await snapshot();
    const carol = await newSession('carol');
    // `{b64url(sid)}.{secret}`, the secret being `{random}.{signature}`.
    const cut = (c) => [c.slice(0, c.indexOf('.')), c.slice(c.indexOf('.') + 1)];
    const [victimSid, victimSecret] = cut(victim.cookie);
    assert.equal(Buffer.from(victimSid, 'base64url').toString(), victim.sid, 'the cookie names its sid');
    const forgeries = {
      'the sid alone': victimSid,
      'the sid and a random secret': `${victimSid}.${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')}`,
      'the sid and another session\'s secret': `${victimSid}.${cut(carol.cookie)[1]}`,
      'the secret without its signature': `${victimSid}.${victimSecret.split('.')[0]}`,
      'the secret with one more character': `${victimSid}.${victimSecret}A`,
      'the secret alone': victimSecret,
      'the raw sid and the secret': `${victim.sid}.${victimSecret}`,
    };
    for (const [what, cookie] of Object.entries(forgeries)) {
      const r = await endSession(endpoint, { browser: new Browser({ [COOKIE]: cookie }) });
      assert.equal(r.status, 200, `${what}: ${r.text.slice(0, 200)}`);
      assert.equal(confirmationForm(r.text), null, `${what}: asked to confirm the end of a session it does not hold`);
    }
    // Carol's own cookie still names her session only.
    const r = await endSession(endpoint, { browser: carol.browser });
    assert.ok(confirmationForm(r.text), 'a genuine cookie no longer names its session');
    await w.admin('DELETE', `/admin/sessions/${carol.sid}`);
    await assertUnchanged(before, 'forged cookies');
  });

  // ---- control -------------------------------------------------------------------------------

  it('control: the victim\'s request, unaltered, logs out at once', { timeout: 20_000 }, async () => {
    // Every refused request of this file was the victim's request plus a hostile piece: that the
    // same request works shows they were refused for the piece, not for something else. It runs
    // on a fresh session of the same shape, so that it does not depend on the order of the tests
    // (each group checks that the victim's session survived it: assertUnchanged).
    const twin = await newSession('alice', ['rp1', 'rp2']);
    const hint = await mintIdToken(w, { sub: twin.sub, sid: twin.sid, aud: 'rp1' });
    const r = await endSession(endpoint, { params: victimQuery('state=control', hint), browser: twin.browser });
    assert.equal(r.status, 303, r.text.slice(0, 300));
    assert.equal(r.location, `${bye}?state=control`);
    assert.equal(sessionCookies(r.setCookies).length, 1);
    assert.ok(!(await exists(twin.sid)), 'the session was not ended');
    assert.ok(await exists(victim.sid), 'the victim\'s session ended with its twin');
  });
});
