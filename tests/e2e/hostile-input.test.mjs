// End-to-end tests of malformed and oversized requests against the built worker under
// `wrangler dev`: oversized bodies, URLs, parameters and tokens; broken encodings; JSON bombs;
// wrong content types; every method on every route. Each must get the right status, never a 5xx
// or a reset connection, and change nothing: after each group the admin API shows the same
// clients and sessions, and the live session's cookie still works (support/hostile.mjs).
// Run by scripts/test.sh with Node 22: node --test --test-concurrency=1 tests/e2e/*.test.mjs
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe } from 'node:test';

import { assertRefused, it, sessionCookies } from '../support/fixtures.mjs';
import { COOKIE, KB, assertAdminError, rawHttp, startHostileWorld } from '../support/hostile.mjs';
import { b64, confirmationForm, endSession, eventually, mintIdToken, signingKeys } from '../support/oidc.mjs';

describe('hostile requests: malformed and oversized input, every method', { timeout: 150_000 }, () => {
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

  // ---- 1. oversized ------------------------------------------------------------------------

  it('refuses oversized bodies (413), URLs (414), parameters and tokens (400), changing nothing', { timeout: 30_000 }, async () => {
    const before = await snapshot();
    const pad = 'a'.repeat(17 * KB);

    // A 17 KB form (a valid logout request plus padding): 413 before anything is read.
    let r = await endSession(endpoint, { method: 'POST', params: `${victimQuery()}&pad=${pad}`, browser: victimBrowser() });
    await assertRefused(r, { status: 413, what: '17 KB form' });
    assert.match(r.contentType, /^application\/json/);
    // The same without a Content-Length (chunked): refused once read.
    const chunked = Buffer.from(`${victimQuery()}&pad=${pad}`);
    let raw = await rawHttp(w.port, Buffer.concat([
      Buffer.from(`POST ${endPath} HTTP/1.1\r\nHost: 127.0.0.1:${w.port}\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
        `Cookie: ${COOKIE}=${victim.cookie}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunked.length.toString(16)}\r\n`),
      chunked,
      Buffer.from('\r\n0\r\n\r\n'),
    ]));
    assert.equal(raw.status, 413, `chunked 17 KB form: ${raw.head}`);
    assert.ok(!raw.headers.some(([n]) => n === 'location' || n === 'set-cookie'), `chunked 17 KB form: ${raw.head}`);

    // A 17 KB JSON body to the admin API, with and without a Content-Length.
    const bigClient = JSON.stringify({ redirect_uris: ['https://big.example/cb'], client_name: pad });
    r = await w.admin('PUT', '/admin/clients/big', undefined, { rawBody: bigClient, contentType: 'application/json' });
    assertAdminError(r, 413, 'invalid_request', '17 KB client');
    r = await w.admin('POST', '/admin/sessions', undefined, { rawBody: JSON.stringify({ sub: 'alice', sid: pad }), contentType: 'application/json' });
    assertAdminError(r, 413, 'invalid_request', '17 KB session');
    raw = await rawHttp(w.port, `PUT /admin/clients/big HTTP/1.1\r\nHost: 127.0.0.1:${w.port}\r\nAuthorization: Bearer ${w.adminToken}\r\n` +
      `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${Buffer.byteLength(bigClient).toString(16)}\r\n${bigClient}\r\n0\r\n\r\n`);
    assert.equal(raw.status, 413, `chunked 17 KB client: ${raw.head}`);

    // A 9 KB URL: 414, to the end-session endpoint and to the admin API (even a DELETE).
    r = await endSession(`${endpoint}?${victimQuery(`pad=${'a'.repeat(9 * KB)}`)}`, { browser: victimBrowser() });
    await assertRefused(r, { status: 414, what: '9 KB URL' });
    for (const [method, path] of [['GET', '/admin/clients'], ['DELETE', '/admin/sessions'], ['DELETE', `/admin/sessions/${victim.sid}`]]) {
      r = await w.admin(method, `${path}?sub=alice&pad=${'a'.repeat(9 * KB)}`);
      assertAdminError(r, 414, 'invalid_request', `9 KB URL ${method} ${path}`);
    }

    // A 3 KB state (it would be echoed into the Location header), by GET and POST.
    for (const method of ['GET', 'POST']) {
      r = await endSession(endpoint, { method, params: victimQuery(`state=${'s'.repeat(3 * KB)}`), browser: victimBrowser() });
      await assertRefused(r, { status: 400, what: `3 KB state (${method})`, mention: /state is too long/ });
    }

    // A genuinely signed hint of 8 KB + 1: refused on its length alone ...
    const long = await hintOfLength(8 * KB + 1, { sub: victim.sub, sid: victim.sid, aud: 'rp1' });
    r = await endSession(endpoint, { method: 'POST', params: { id_token_hint: long, post_logout_redirect_uri: bye }, browser: victimBrowser() });
    await assertRefused(r, { status: 400, what: 'hint of 8 KB + 1', mention: /id_token_hint is too long/ });

    // ... and a JWT with a 7 KB header (the victim's payload and signature), or a nested one,
    // or thousands of segments.
    const [, payload, sig] = victimHint.split('.');
    const kid = signingKeys(w).RS256.kid;
    const bigHeader = b64({ alg: 'RS256', kid, typ: 'JWT', pad: 'h'.repeat(5400) });
    assert.ok(bigHeader.length >= 7 * KB && bigHeader.length < 7.5 * KB, `header of ${bigHeader.length} bytes`);
    const nestedHeader = b64(`{"alg":"RS256","kid":"${kid}","x":${'['.repeat(2500)}${']'.repeat(2500)}}`);
    const tokens = [
      ['a 7 KB header', `${bigHeader}.${payload}.${sig}`, /signature|well-formed|not signed/],
      ['a 7 KB header of nested arrays', `${nestedHeader}.${payload}.${sig}`, /well-formed/],
      ['3000 segments', 'a.'.repeat(3000), /well-formed/],
      ['the hint with 2000 more segments', `${victimHint}${'.a'.repeat(2000)}`, /well-formed/],
      ['8000 dots', '.'.repeat(8000), /well-formed/],
    ];
    for (const [what, token, mention] of tokens) {
      assert.ok(token.length <= 8 * KB, `${what}: ${token.length} bytes`);
      r = await endSession(endpoint, { method: 'POST', params: { id_token_hint: token, post_logout_redirect_uri: bye }, browser: victimBrowser() });
      await assertRefused(r, { status: 400, what: what, mention: mention });
    }
    await assertUnchanged(before, 'oversized');

    // The limit is exactly 8 KB: a genuinely signed hint of 8192 bytes is accepted.
    const carol = await newSession('carol');
    const exact = await hintOfLength(8 * KB, { sub: 'carol', sid: carol.sid, aud: 'rp1' });
    r = await endSession(endpoint, { method: 'POST', params: { id_token_hint: exact, post_logout_redirect_uri: bye }, browser: carol.browser });
    assert.equal(r.status, 303, `hint of exactly 8 KB: ${r.text.slice(0, 300)}`);
    assert.equal(r.location, bye);
    assert.ok(!(await exists(carol.sid)), 'hint of exactly 8 KB: the session was not ended');
  });

  // ---- 2. encoding -------------------------------------------------------------------------

  it('refuses invalid percent-encoding, invalid UTF-8, NUL bytes and duplicates (400), changing nothing', { timeout: 30_000 }, async () => {
    const before = await snapshot();
    const hintQ = encodeURIComponent(victimHint);
    const byeQ = encodeURIComponent(bye);
    // Each piece added to the victim's valid request: ignoring it would log the victim out.
    const pieces = [
      ['state=%ZZ', /percent-encoding/],
      ['state=%', /percent-encoding/],
      ['state=%C3%28', /UTF-8/],
      ['state=%FF%FE', /UTF-8/],
      ['state=%ED%A0%80', /UTF-8/], // a UTF-16 surrogate
      ['state=%C0%AE', /UTF-8/], // an overlong '.'
      ['%ZZ=1', /percent-encoding/],
      ['foo=%E0%80', /UTF-8/], // even in an unknown parameter
      ['client_id=rp1%00', /does not match/],
      ['client_id=%00', /does not match/],
      ['id_token_hint=x&id_token_hint=y', /more than once/],
      [`post_logout_redirect_uri=${encodeURIComponent('https://evil.example/')}`, /more than once/],
      [`post_logout_redirect_uri=${byeQ}`, /more than once/],
      ['client_id=rp1&client_id=rp1', /more than once/],
      ['client_id=rp1&client_id=rp2', /more than once/],
      ['state=a&state=b', /more than once/],
      ['state=a&st%61te=b', /more than once/],
      [`post%5Flogout%5Fredirect%5Furi=${encodeURIComponent(`${rp.url}/bye2`)}`, /more than once/],
    ];
    for (const [piece, mention] of pieces) {
      for (const method of ['GET', 'POST']) {
        const r = await endSession(endpoint, { method, params: victimQuery(piece), browser: victimBrowser() });
        await assertRefused(r, { status: 400, what: `${piece} (${method})`, mention: mention });
      }
    }
    // A broken piece before the valid ones, and NUL bytes inside them.
    const whole = [
      [`post_logout_redirect_uri=${byeQ}&state=%&id_token_hint=${hintQ}`, /percent-encoding/],
      [`post_logout_redirect_uri=${byeQ}%00&id_token_hint=${hintQ}`, /not registered/],
      [`post_logout_redirect_uri=${byeQ}&id_token_hint=${hintQ}%00`, /signature|well-formed/],
      [`post_logout_redirect_uri=${byeQ}&id_token_hint=%00${hintQ}`, /well-formed|algorithm/],
      [`post_logout_redirect_uri=${byeQ}&id_token_hint=${hintQ}&id_token_hint=${hintQ}`, /more than once/],
    ];
    for (const [query, mention] of whole) {
      for (const method of ['GET', 'POST']) {
        const r = await endSession(endpoint, { method, params: query, browser: victimBrowser() });
        await assertRefused(r, { status: 400, what: `${query.slice(0, 60)}… (${method})`, mention: mention });
      }
    }
    // Raw bytes in a form body: not UTF-8 (0xFF), a NUL in client_id.
    for (const [bytes, mention] of [[[0xff], /UTF-8/], [[0xfe, 0xff, 0x41], /UTF-8/], [[0xc3, 0x28], /UTF-8/]]) {
      const body = Buffer.concat([Buffer.from(`${victimQuery()}&state=`), Buffer.from(bytes)]);
      const r = await endSession(endpoint, { method: 'POST', rawBody: body, browser: victimBrowser() });
      await assertRefused(r, { status: 400, what: `raw bytes ${bytes} in the body`, mention: mention });
    }
    let r = await endSession(endpoint, {
      method: 'POST',
      rawBody: Buffer.concat([Buffer.from(`${victimQuery()}&client_id=rp1`), Buffer.from([0])]),
      browser: victimBrowser(),
    });
    await assertRefused(r, { status: 400, what: 'raw NUL after client_id in the body', mention: /does not match/ });
    // Raw bytes in the request line (no client library sends them): 400, not a reset.
    for (const bytes of [[0xff], [0x00], [0xc3, 0x28]]) {
      const raw = await rawHttp(w.port, Buffer.concat([
        Buffer.from(`GET ${endPath}?${victimQuery()}&state=`),
        Buffer.from(bytes),
        Buffer.from(` HTTP/1.1\r\nHost: 127.0.0.1:${w.port}\r\nCookie: ${COOKIE}=${victim.cookie}\r\nConnection: close\r\n\r\n`),
      ]));
      assert.equal(raw.status, 400, `raw ${bytes} in the URL: ${raw.head}`);
      assert.ok(!raw.headers.some(([n]) => n === 'location' || n === 'set-cookie'), `raw ${bytes} in the URL: ${raw.head}`);
    }

    // The admin API's query and path parameters are decoded as strictly.
    for (const query of ['sub=%ZZ', 'sub=%C3%28', 'sub=alice%00', 'sub=%FF', 'sub=', 'sub=%', 'x=%ZZ&sub=alice']) {
      for (const method of ['GET', 'DELETE']) {
        r = await w.admin(method, `/admin/sessions?${query}`);
        assertAdminError(r, 400, 'invalid_request', `${method} /admin/sessions?${query}`);
      }
    }
    for (const path of ['/admin/sessions/%ZZ', '/admin/sessions/%C3%28', `/admin/sessions/${victim.sid}%`, '/admin/clients/%FF', '/admin/clients/rp1%ZZ']) {
      r = await w.admin('DELETE', path);
      assertAdminError(r, 404, 'not_found', `DELETE ${path}`);
    }
    for (const path of ['/admin/clients/rp1%00', '/admin/clients/rp1%20', '/admin/clients/%72p1%2F']) {
      r = await w.admin('DELETE', path);
      assertAdminError(r, 404, 'not_found', `DELETE ${path}`);
    }
    await assertUnchanged(before, 'encoding');
  });

  // ---- 3. JSON bombs -----------------------------------------------------------------------

  it('refuses JSON bombs and wrongly typed metadata with 400 (413 over 16 KB), never 500, changing nothing', { timeout: 30_000 }, async () => {
    const before = await snapshot();
    const good = { redirect_uris: ['https://bomb.example/cb'], post_logout_redirect_uris: ['https://bomb.example/bye'] };
    const goodJson = JSON.stringify(good).slice(1, -1); // its members, to splice into bombs
    const nestedObjects = (n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
    const bombs = [
      ['10,000 levels of [', '['.repeat(10_000), 400],
      ['10,000 levels of [ ]', `${'['.repeat(10_000)}${']'.repeat(10_000)}`, 413],
      ['5,000 levels of [ ]', `${'['.repeat(5000)}${']'.repeat(5000)}`, 400],
      ['15 KB of nested objects', nestedObjects(2500), 400],
      ['17 KB of nested objects', nestedObjects(2900), 413],
      ['nested arrays in redirect_uris', `{"redirect_uris":${'['.repeat(8000)}${']'.repeat(7000)}}`, 400],
      ['nested objects in an unknown member', `{${goodJson},"x":${nestedObjects(2000)}}`, 400],
      ['1e400', `{${goodJson},"x":1e400}`, 400],
      ['-1e400', `{${goodJson},"x":-1e400}`, 400],
      ['a 10,000-digit number', `{${goodJson},"x":${'9'.repeat(10_000)}}`, 400],
      ['1e400 for a boolean', `{${goodJson},"backchannel_logout_session_required":1e400}`, 400],
      ['a lone surrogate escape', `{${goodJson},"client_name":"\\ud800"}`, 400],
      ['not an object: []', '[]', 400],
      ['not an object: a string', '"x"', 400],
      ['not an object: a number', '1', 400],
      ['not an object: null', 'null', 400],
      ['not an object: true', 'true', 400],
      ['empty', '', 400],
      ['whitespace', '   \n', 400],
      ['a BOM', `\ufeff${JSON.stringify(good)}`, 400],
      ['trailing garbage', `${JSON.stringify(good)} x`, 400],
      ['two objects', `${JSON.stringify(good)}{}`, 400],
      ['a comment', `{/* x */${goodJson}}`, 400],
      ['single quotes', "{'redirect_uris':['https://bomb.example/cb']}", 400],
      ['NaN', `{${goodJson},"x":NaN}`, 400],
      ['a trailing comma', `{${goodJson},}`, 400],
      ['unterminated', `{${goodJson}`, 400],
    ];
    for (const [what, body, status] of bombs) {
      const r = await w.admin('PUT', '/admin/clients/bomb', undefined, { rawBody: body, contentType: 'application/json' });
      assertAdminError(r, status, status === 413 ? 'invalid_request' : 'invalid_client_metadata', `client: ${what}`);
    }
    // Bytes that are not UTF-8 inside a string.
    let r = await w.admin('PUT', '/admin/clients/bomb', undefined, {
      rawBody: Buffer.concat([Buffer.from(`{${goodJson},"client_name":"`), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
      contentType: 'application/json',
    });
    assertAdminError(r, 400, 'invalid_client_metadata', 'client: raw 0xFF in a string');

    // Every client metadata member with wrong types.
    const wrong = {
      client_id: [1, true, ['bomb'], { id: 'bomb' }],
      redirect_uris: ['https://bomb.example/cb', 1, true, {}, [1], [null], [['https://bomb.example/cb']], [{}]],
      post_logout_redirect_uris: ['https://bomb.example/bye', 1, false, {}, [1], [null], [true], [['https://bomb.example/bye']]],
      backchannel_logout_uri: [1, true, [], ['https://bomb.example/bc'], {}],
      backchannel_logout_session_required: ['true', 1, 0, [], {}, [true]],
      frontchannel_logout_uri: [1, false, [], ['https://bomb.example/fc'], {}],
      frontchannel_logout_session_required: ['false', 1, [], {}],
      id_token_signed_response_alg: [256, true, ['RS256'], {}, 'none', 'HS256', 'rs256', 'RS256 '],
      client_name: [1, true, [], ['x'], {}, 'a\u0000b', 'a\nb', 'n'.repeat(201)],
    };
    for (const [member, values] of Object.entries(wrong)) {
      for (const value of values) {
        r = await w.admin('PUT', '/admin/clients/bomb', { ...good, [member]: value });
        assertAdminError(r, 400, 'invalid_client_metadata', `client: ${member} = ${JSON.stringify(value).slice(0, 40)}`);
      }
    }

    // Sessions: bombs and wrong types for every member (sub alice: a new one would show).
    const sessionBodies = [
      '['.repeat(10_000),
      nestedObjects(2500),
      '{"sub":"alice","expires_in":1e400}',
      `{"sub":"alice","expires_in":${'9'.repeat(5000)}}`,
      '{"sub":"alice","expires_in":1e300}',
      '{"sub":"alice","expires_in":9223372036854775807}',
      '{"sub":"alice","expires_in":-9223372036854775808}',
      '{"sub":"alice","expires_in":18446744073709551616}',
      '{"sub":"alice","expires_in":3600.5}',
      '{"sub":"alice","expires_in":"3600"}',
      '{"sub":"alice","expires_in":-1}',
      '{"sub":"alice","expires_in":0}',
      '{"sub":1}',
      '{"sub":["alice"]}',
      '{"sub":{"alice":1}}',
      '{"sub":null}',
      '{"sub":""}',
      '{"sub":"ali\\u0000ce"}',
      `{"sub":"${'a'.repeat(256)}"}`,
      '{"sub":"alice","clients":"rp1"}',
      '{"sub":"alice","clients":[1]}',
      '{"sub":"alice","clients":[["rp1"]]}',
      '{"sub":"alice","clients":{"rp1":true}}',
      '{"sub":"alice","clients":["no-such-client"]}',
      JSON.stringify({ sub: 'alice', clients: Array.from({ length: 1500 }, (_, i) => `c${i}`) }),
      '{"sub":"alice","sid":5}',
      '{"sub":"alice","sid":["x"]}',
      '{"sub":"alice","sid":"a/b"}',
      `{"sub":"mallory","sid":"${victim.sid}"}`,
      '{"sub":"alice","admin":true}',
      '{"sub":"alice"} x',
      '[{"sub":"alice"}]',
    ];
    for (const body of sessionBodies) {
      r = await w.admin('POST', '/admin/sessions', undefined, { rawBody: body, contentType: 'application/json' });
      const what = `session: ${body.slice(0, 50)}`;
      assert.ok(r.status === 400 || r.status === 409, `${what}: status ${r.status} (body ${r.text.slice(0, 300)})`);
      assertAdminError(r, r.status, r.status === 409 ? 'conflict' : 'invalid_request', what);
    }
    r = await w.admin('POST', '/admin/sessions', undefined, { rawBody: nestedObjects(2900), contentType: 'application/json' });
    assertAdminError(r, 413, 'invalid_request', 'session: 17 KB of nested objects');
    await assertUnchanged(before, 'JSON bombs');
  });

  it('refuses JSON with duplicate member names (the last one would silently win)', { timeout: 20_000 }, async () => {
    const before = await snapshot();
    const cases = [
      ['PUT', '/admin/clients/dupe', '{"redirect_uris":["https://good.example/cb"],"post_logout_redirect_uris":["https://good.example/bye"],"post_logout_redirect_uris":["https://evil.example/bye"]}'],
      ['PUT', '/admin/clients/dupe', '{"client_id":"dupe","client_id":"other","redirect_uris":["https://good.example/cb"]}'],
      ['POST', '/admin/sessions', '{"sub":"alice","sub":"mallory"}'],
    ];
    const got = [];
    try {
      for (const [method, path, body] of cases) {
        const r = await w.admin(method, path, undefined, { rawBody: body, contentType: 'application/json' });
        assert.ok(r.status < 500, `${method} ${path}: ${r.status} ${r.text}`);
        got.push(`${method} ${path} ${body} -> ${r.status} ${r.text.slice(0, 160)}`);
        if (r.status === 201 && r.json?.sid) await w.admin('DELETE', `/admin/sessions/${r.json.sid}`);
        if (r.status === 201 && path.startsWith('/admin/clients/')) await w.admin('DELETE', path);
      }
    } finally {
      await w.admin('DELETE', '/admin/clients/dupe');
    }
    const accepted = got.filter((line) => !/ -> 400 /.test(line));
    assert.deepEqual(accepted, [], `duplicate member names were accepted:\n${accepted.join('\n')}`);
    await assertUnchanged(before, 'duplicate member names');
  });

  // ---- 4. wrong content types --------------------------------------------------------------

  it('refuses wrong content types: end-session 400, admin 415, changing nothing', { timeout: 20_000 }, async () => {
    const before = await snapshot();
    const form = victimQuery('state=ct');
    const post = (body, headers) =>
      endSession(endpoint, { method: 'POST', rawBody: body, headers, browser: victimBrowser() });
    // Bodies for which fetch chooses the content type (multipart) or sends none (bytes).
    const direct = async (body) => {
      const res = await fetch(endpoint, {
        method: 'POST',
        body,
        headers: { cookie: `${COOKIE}=${victim.cookie}` },
        redirect: 'manual',
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      return { status: res.status, headers: res.headers, text, location: res.headers.get('location'), setCookies: res.headers.getSetCookie() };
    };
    const multipart = new FormData();
    multipart.set('id_token_hint', victimHint);
    multipart.set('post_logout_redirect_uri', bye);
    const cases = [
      ['application/json', post(JSON.stringify({ id_token_hint: victimHint, post_logout_redirect_uri: bye }), { 'content-type': 'application/json' })],
      ['text/plain with a form body', post(form, { 'content-type': 'text/plain' })],
      ['multipart/form-data', direct(multipart)],
      ['no content type', direct(Buffer.from(form))],
      ['an almost-form type', post(form, { 'content-type': 'application/x-www-form-urlencoded-x' })],
      ['a form type as a parameter', post(form, { 'content-type': 'text/plain; type=application/x-www-form-urlencoded' })],
    ];
    for (const [what, pending] of cases) {
      const r = await pending;
      await assertRefused(r, { status: 400, what: `end-session POST, ${what}`, mention: /x-www-form-urlencoded/ });
    }

    const client = JSON.stringify({ redirect_uris: ['https://ct.example/cb'] });
    const session = JSON.stringify({ sub: 'alice', clients: ['rp1'] });
    const types = [
      ['text/plain', 'text/plain'],
      ['no content type', null],
      ['a form', 'application/x-www-form-urlencoded'],
      ['multipart', 'multipart/form-data; boundary=x'],
      ['application/jsonx', 'application/jsonx'],
      ['application/json-seq', 'application/json-seq'],
      ['text/json', 'text/json'],
    ];
    for (const [what, contentType] of types) {
      // A Buffer body: fetch adds no content type of its own.
      let r = await w.admin('PUT', '/admin/clients/ct', undefined, { rawBody: Buffer.from(client), contentType });
      assertAdminError(r, 415, 'invalid_request', `PUT client, ${what}`);
      r = await w.admin('POST', '/admin/sessions', undefined, { rawBody: Buffer.from(session), contentType });
      assertAdminError(r, 415, 'invalid_request', `POST session, ${what}`);
    }
    await assertUnchanged(before, 'content types');
  });

  // ---- 5. methods and routes -----------------------------------------------------------------

  const ROUTES = [
    ['/.well-known/openid-configuration', ['GET', 'HEAD', 'OPTIONS']],
    ['/jwks', ['GET', 'HEAD', 'OPTIONS']],
    ['/session/end', ['GET', 'POST']],
    ['/admin/clients', ['GET']],
    ['/admin/clients/x', ['GET', 'PUT', 'DELETE']],
    ['/admin/sessions', ['GET', 'POST', 'DELETE']],
    ['/admin/sessions/x', ['GET', 'DELETE', 'PATCH']],
    ['/admin/sessions/x/clients/y', ['PUT']],
    ['/admin/deliveries', ['GET']],
    ['/admin/deliveries/x', ['DELETE']],
    ['/admin/deliveries/x/retry', ['POST']],
    ['/admin/openapi.json', ['GET']],
  ];
  const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

  it('every method on every route: 405 with the exact Allow (before the admin token is checked), unknown paths 404', { timeout: 30_000 }, async () => {
    const before = await snapshot();
    for (const [path, allowed] of ROUTES) {
      const admin = path.startsWith('/admin/');
      for (const method of [...METHODS, 'REPORT']) {
        // Without a token, with a wrong one, and with the right one.
        for (const auth of admin ? [null, 'Bearer wrong', `Bearer ${w.adminToken}`] : [null]) {
          const headers = auth ? { authorization: auth } : {};
          const what = `${method} ${path}${admin ? ` (${auth === null ? 'no token' : auth === 'Bearer wrong' ? 'wrong token' : 'token'})` : ''}`;
          const res = await w.request(path, { method, headers });
          const text = await res.text();
          assert.ok(res.status < 500, `${what}: ${res.status} ${text.slice(0, 200)}`);
          if (!allowed.includes(method)) {
            assert.equal(res.status, 405, `${what}: ${text.slice(0, 200)}`);
            assert.equal(res.headers.get('allow'), allowed.join(', '), `${what}: Allow`);
            assert.equal(res.headers.get('cache-control'), 'no-store', `${what}: cache-control`);
            if (method !== 'HEAD') assert.equal(JSON.parse(text).error, 'invalid_request', what);
          } else if (admin && auth !== `Bearer ${w.adminToken}`) {
            assert.equal(res.status, 401, `${what}: ${text.slice(0, 200)}`);
            assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer /, `${what}: WWW-Authenticate`);
          } else {
            assert.notEqual(res.status, 405, what);
            assert.equal(res.headers.get('allow'), null, `${what}: Allow on an allowed method`);
          }
        }
      }
    }
    // TRACE (fetch will not send it).
    for (const [path, allowed] of [ROUTES[2], ROUTES[3]]) {
      const raw = await rawHttp(w.port, `TRACE ${path} HTTP/1.1\r\nHost: 127.0.0.1:${w.port}\r\nConnection: close\r\n\r\n`);
      assert.equal(raw.status, 405, `TRACE ${path}: ${raw.head}`);
      assert.deepEqual(raw.headers.filter(([n]) => n === 'allow').map(([, v]) => v), [allowed.join(', ')], `TRACE ${path}`);
    }

    // Paths that name nothing: 404 for any method, with or without a token.
    const unknown = [
      '/', '/admin', '/admin/', '/admin/clients/', '/admin/x', '/admin/clients/x/y', '/admin/sessions/x/clients',
      '/admin/sessions/x/clients/', '/admin/sessions/x/clients/y/z', '/admin/deliveries/x/y', '/jwks/', '/jwks.json',
      '/admin/openapi.json/', '/admin/openapi', '/admin/openapi.yaml',
      '/session/end/', '/session/end/x', '/SESSION/END', '/Session/End', '/session%2Fend', '//session/end',
      '/session/end;x', '/.well-known/openid-configuration/', '/.well-known/openid-configuration%00',
      '/admin/clients/%ZZ', '/admin/sessions/%C3%28', '/admin%2Fclients', '/%61dmin/clients',
    ];
    for (const path of unknown) {
      for (const method of ['GET', 'POST', 'DELETE', 'PATCH']) {
        for (const headers of [{}, { authorization: `Bearer ${w.adminToken}` }]) {
          const res = await w.request(path, { method, headers });
          const text = await res.text();
          assert.equal(res.status, 404, `${method} ${path}: ${text.slice(0, 200)}`);
          assert.equal(res.headers.get('allow'), null, `${method} ${path}: Allow on a 404`);
        }
      }
    }
    await assertUnchanged(before, 'methods and routes');
  });

  it('methods outside the list (PROPFIND, PURGE, MKCOL, ...) are 405 too, and never act as a GET', { timeout: 30_000 }, async () => {
    // workerd accepts WebDAV and other methods; the worker must not read them as GET.
    const carol = await newSession('carol');
    const hint = await mintIdToken(w, { sub: 'carol', sid: carol.sid, aud: 'rp1' });
    const problems = [];
    for (const method of ['PROPFIND', 'PURGE', 'MKCOL', 'COPY']) {
      for (const [path, allowed] of ROUTES) {
        const res = await w.request(path, { method, headers: { authorization: `Bearer ${w.adminToken}` } });
        await res.text();
        assert.ok(res.status < 500, `${method} ${path}: ${res.status}`);
        if (res.status !== 405 || res.headers.get('allow') !== allowed.join(', ')) {
          problems.push(`${method} ${path} -> ${res.status} (Allow ${res.headers.get('allow')})`);
        }
      }
    }
    // A logout request sent with PROPFIND: it must end nothing.
    const q = new URLSearchParams({ id_token_hint: hint, post_logout_redirect_uri: bye, state: 'propfind' });
    const res = await w.request(`${endPath}?${q}`, { method: 'PROPFIND', headers: { cookie: `${COOKIE}=${carol.cookie}` } });
    await res.text();
    if (res.status !== 405) problems.push(`PROPFIND ${endPath}?<valid logout request> -> ${res.status} Location ${res.headers.get('location')}`);
    if (!(await exists(carol.sid))) problems.push('PROPFIND with a valid logout request ended the session');
    assert.deepEqual(problems, [], `unlisted methods:\n${problems.join('\n')}`);
  });

  // ---- a logout token is not an id_token_hint ---------------------------------------------

  it('a real logout token, captured by a relying party and replayed as id_token_hint, is refused (400), ending nothing', { timeout: 30_000 }, async () => {
    // Every relying party holds logout tokens: one must never stand for an ID token.
    let r = await w.admin('PUT', '/admin/clients/rpbc', { redirect_uris: [`${rp.url}/cb`], backchannel_logout_uri: `${rp.url}/bc-hint` });
    assert.equal(r.status, 201, r.text);
    const ended = await newSession('alice', ['rp1', 'rpbc']);
    r = await w.admin('DELETE', `/admin/sessions/${ended.sid}`);
    assert.equal(r.status, 200, r.text);
    const rec = await eventually(() => rp.backchannel().find((x) => x.path === '/bc-hint' && x.claims?.sid === ended.sid), { what: 'the logout token' });
    const logoutToken = rec.logout_token;
    assert.equal(JSON.parse(Buffer.from(logoutToken.split('.')[0], 'base64url')).typ, 'logout+jwt');
    // A live session of the same user, with the logout token's relying party, in this browser.
    const live = await newSession('alice', ['rp1', 'rpbc']);
    const before = await snapshot();
    const query = (extra = {}) => new URLSearchParams({ id_token_hint: logoutToken, ...extra }).toString();
    for (const [what, req] of [
      ['GET with the browser\'s cookie', { params: query(), browser: live.browser }],
      ['GET with client_id', { params: query({ client_id: 'rpbc' }), browser: live.browser }],
      ['cross-site POST without cookies', { method: 'POST', params: query() }],
      ['JSON', { params: query(), browser: live.browser, accept: 'application/json' }],
    ]) {
      r = await endSession(endpoint, req);
      await assertRefused(r, { what, worker: w, sids: [live.sid, victim.sid], mention: /logout token, not an ID token/, as: req.accept ? 'json' : 'page' });
      assert.equal(confirmationForm(r.text), null, `${what}: no confirmation from a logout token`);
    }
    await assertUnchanged(before, 'logout token as hint');
    assert.ok(await exists(live.sid), 'the live session survived');
  });

  // ---- a chunked body is refused while it is read ------------------------------------------

  it('a chunked body over 16 KB, written in pieces without Content-Length, gets 413 and changes nothing', { timeout: 30_000 }, async () => {
    const before = await snapshot();
    // Node's http.request without Content-Length sends Transfer-Encoding: chunked, one chunk per write.
    const chunked = (path, headers, pieces) => new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: w.port, path, method: path.startsWith('/admin') ? 'PUT' : 'POST', headers });
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
      });
      // The worker may answer and close before every piece is written: that is the point.
      req.on('error', (e) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? null : reject(e)));
      for (const piece of pieces) req.write(piece);
      req.end();
    });
    const pieces = (first, total) => [first, ...Array.from({ length: Math.ceil(total / KB) }, () => 'a'.repeat(KB))];
    const form = await chunked(endPath, { 'content-type': 'application/x-www-form-urlencoded', cookie: `${COOKIE}=${victim.cookie}` },
      pieces(`${victimQuery()}&pad=`, 17 * KB));
    assert.equal(form.status, 413, `chunked form: ${form.text}`);
    assert.equal(JSON.parse(form.text).error_description, 'the request body is larger than 16 KB');
    assert.ok(!form.headers.location && !form.headers['set-cookie'], 'chunked form: no redirect, no cookie');
    const client = await chunked('/admin/clients/x', { 'content-type': 'application/json', authorization: `Bearer ${w.adminToken}` },
      pieces('{"redirect_uris": ["https://x.example/cb"], "client_name": "', 17 * KB).concat('"}'));
    assert.equal(client.status, 413, `chunked client: ${client.text}`);
    assert.equal(JSON.parse(client.text).error, 'invalid_request');
    // Just under the limit, chunked, is read whole: the body reaches the admin API (400: it is not JSON).
    const small = await chunked('/admin/clients/x', { 'content-type': 'application/json', authorization: `Bearer ${w.adminToken}` },
      Array.from({ length: 15 }, () => 'a'.repeat(KB)));
    assert.equal(small.status, 400, `chunked 15 KB: ${small.text}`);
    assert.equal(JSON.parse(small.text).error, 'invalid_client_metadata');
    await assertUnchanged(before, 'chunked bodies');
    assert.equal((await w.admin('GET', '/admin/clients/x')).status, 404);
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
