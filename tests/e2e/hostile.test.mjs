// End-to-end tests of hostile requests against the built worker under `wrangler dev`: oversized
// bodies, URLs, parameters and tokens; broken encodings; JSON bombs; wrong content types; every
// method on every route; header injection and open-redirect attempts; CSRF on the
// confirmation; attacks on the admin token. Each must get the right status, never a 5xx or a
// reset connection, and change nothing: after each group the admin API shows the same clients
// and sessions, and the live session's cookie still works.
// Run by scripts/test.sh with Node 22: node --test --test-concurrency=1 tests/e2e/*.test.mjs
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';

import {
  Browser,
  confirmationForm,
  discover,
  endSession,
  mintIdToken,
  parseSetCookie,
  signingKeys,
} from '../support/oidc.mjs';
import { start as startRp } from '../support/rp.mjs';
import { startWorker } from '../support/worker.mjs';

const COOKIE = 'op_session';
const BINDING = 'op_session_confirm';
/** The subjects whose sessions the snapshots compare (throwaway sessions use others). */
const SUBS = ['alice', 'mallory'];
const KB = 1024;

const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** The worker's encoding of a state into a query: every byte but A-Z a-z 0-9 - . _ ~ escaped. */
function encodeStrict(s) {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Sends `data` (bytes, as is) to 127.0.0.1:`port` and reads the answer until the server closes
 * (send `Connection: close`). Rejects on a reset or when no complete answer came in time.
 * Returns {status, headers: [[lower-case name, value]], head, body}.
 */
function rawHttp(port, data, { timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${timeoutMs} ms: ${Buffer.concat(chunks).toString('latin1').slice(0, 200)}`));
    }, timeoutMs);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`connection error (${e.code ?? e.message}) after ${Buffer.concat(chunks).length} bytes`));
    });
    socket.on('end', () => {
      clearTimeout(timer);
      socket.end();
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      if (split < 0) return reject(new Error(`no HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
      const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
      if (!m) return reject(new Error(`bad status line ${JSON.stringify(statusLine)}`));
      const headers = lines.map((l) => {
        const i = l.indexOf(':');
        return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
      });
      resolve({ status: Number(m[1]), headers, head: text.slice(0, split), body: text.slice(split + 4) });
    });
    socket.write(data);
  });
}

describe('hostile requests', { timeout: 150_000 }, () => {
  let w;
  let rp;
  let endpoint; // from discovery
  let endPath;
  let bye; // rp1's registered post-logout URI
  let byeFc; // rpfc's (with a query), a client with a front-channel URI
  let victim; // the live session every group must leave alone: {sid, sub, cookie}
  let victimHint; // a valid hint for it: with its cookie, a request that would log out at once

  before(async () => {
    [w, rp] = await Promise.all([startWorker(), startRp()]);
    bye = `${rp.url}/bye`;
    byeFc = `${rp.url}/bye-fc?a=1&b=2`;
    let r = await w.admin('PUT', '/admin/clients/rp1', {
      redirect_uris: [`${rp.url}/cb`],
      post_logout_redirect_uris: [bye],
      client_name: 'RP One',
    });
    assert.equal(r.status, 201, r.text);
    r = await w.admin('PUT', '/admin/clients/rp2', { redirect_uris: [`${rp.url}/cb2`], post_logout_redirect_uris: [`${rp.url}/bye2`] });
    assert.equal(r.status, 201, r.text);
    r = await w.admin('PUT', '/admin/clients/rpfc', {
      redirect_uris: [`${rp.url}/cb`],
      post_logout_redirect_uris: [byeFc],
      frontchannel_logout_uri: `${rp.url}/fc`,
      client_name: '<img src=x onerror=alert(1)>"\'&',
    });
    assert.equal(r.status, 201, r.text);
    endpoint = (await discover(w)).end_session_endpoint;
    endPath = new URL(endpoint).pathname;
    victim = await newSession('alice', ['rp1', 'rp2']);
    victimHint = await mintIdToken(w, { sub: victim.sub, sid: victim.sid, aud: 'rp1' });
  }, { timeout: 90_000 });

  after(async () => {
    await Promise.all([w?.stop(), rp?.close()]);
  });

  // ---- helpers ---------------------------------------------------------------------------

  async function newSession(sub, clients = ['rp1']) {
    const r = await w.admin('POST', '/admin/sessions', { sub, clients });
    assert.equal(r.status, 201, r.text);
    return { sid: r.json.sid, sub, cookie: r.json.cookie, browser: new Browser({ [COOKIE]: r.json.cookie }) };
  }

  async function exists(sid) {
    const r = await w.admin('GET', `/admin/sessions/${encodeURIComponent(sid)}`);
    assert.ok(r.status === 200 || r.status === 404, `GET session: ${r.status} ${r.text}`);
    return r.status === 200;
  }

  /** What the admin API shows: every client, and the sessions of SUBS. */
  async function snapshot() {
    const clients = await w.admin('GET', '/admin/clients');
    assert.equal(clients.status, 200, clients.text);
    const sessions = {};
    for (const sub of SUBS) {
      const r = await w.admin('GET', `/admin/sessions?sub=${sub}`);
      assert.equal(r.status, 200, r.text);
      sessions[sub] = r.json.sessions.map((s) => JSON.stringify(s)).sort();
    }
    return { clients: clients.json, sessions };
  }

  /** Nothing changed since `before`, and the victim's browser still has its session. */
  async function assertUnchanged(before, what) {
    assert.deepEqual(await snapshot(), before, `${what}: the clients or sessions changed`);
    assert.ok(await exists(victim.sid), `${what}: the live session was ended`);
    // Its cookie still names it: a plain logout request asks for confirmation.
    const r = await endSession(endpoint, { browser: new Browser({ [COOKIE]: victim.cookie }) });
    assert.equal(r.status, 200, `${what}: the live session's cookie: ${r.text.slice(0, 200)}`);
    assert.ok(confirmationForm(r.text), `${what}: the live session's cookie no longer names a session`);
  }

  const sessionCookies = (setCookies) => setCookies.map(parseSetCookie).filter((c) => c.name === COOKIE);

  /** A refused end-session request: `status`, no redirect, the session cookie untouched. */
  function assertRefused(r, status, what, mention) {
    assert.equal(r.status, status, `${what}: status (body ${r.text.slice(0, 300)})`);
    assert.equal(r.location, null, `${what}: a refusal must not redirect`);
    assert.deepEqual(sessionCookies(r.setCookies), [], `${what}: a refusal must not touch the session cookie`);
    assert.equal(r.headers.get('cache-control'), 'no-store', `${what}: cache-control`);
    if (mention) assert.match(r.text, mention, `${what}: the answer does not say why`);
  }

  /** An admin API error: status, JSON {error, error_description}. */
  function assertAdminError(r, status, error, what) {
    assert.equal(r.status, status, `${what}: status (body ${r.text.slice(0, 300)})`);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/, `${what}: content-type`);
    if (error) assert.equal(r.json?.error, error, `${what}: error (body ${r.text.slice(0, 300)})`);
    assert.equal(typeof r.json?.error_description, 'string', `${what}: error_description`);
  }

  /** The victim's valid logout request, plus `extra` (a raw query piece). */
  const victimQuery = (extra = '') =>
    `${new URLSearchParams({ id_token_hint: victimHint, post_logout_redirect_uri: bye })}${extra ? `&${extra}` : ''}`;

  const victimBrowser = () => new Browser({ [COOKIE]: victim.cookie });

  /** A genuinely signed hint (claims as mintIdToken takes them) exactly `length` bytes long. */
  async function hintOfLength(length, claims) {
    for (const alg of ['ES256', 'EdDSA', 'RS256']) {
      for (let h = 0; h < 4; h++) {
        const header = { x: 'y'.repeat(h) };
        const probe = await mintIdToken(w, { alg, ...claims, header, extra: { pad: '' } });
        const guess = Math.floor(((length - probe.length) * 3) / 4);
        for (let p = Math.max(0, guess - 3); p <= guess + 3; p++) {
          const t = await mintIdToken(w, { alg, ...claims, header, extra: { pad: 'p'.repeat(p) } });
          if (t.length === length) return t;
        }
      }
    }
    throw new Error(`no hint of exactly ${length} bytes`);
  }

  // ---- 1. oversized ------------------------------------------------------------------------

  it('refuses oversized bodies (413), URLs (414), parameters and tokens (400), changing nothing', { timeout: 30_000 }, async () => {
    const before = await snapshot();
    const pad = 'a'.repeat(17 * KB);

    // A 17 KB form (a valid logout request plus padding): 413 before anything is read.
    let r = await endSession(endpoint, { method: 'POST', params: `${victimQuery()}&pad=${pad}`, browser: victimBrowser() });
    assertRefused(r, 413, '17 KB form');
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
    assertRefused(r, 414, '9 KB URL');
    for (const [method, path] of [['GET', '/admin/clients'], ['DELETE', '/admin/sessions'], ['DELETE', `/admin/sessions/${victim.sid}`]]) {
      r = await w.admin(method, `${path}?sub=alice&pad=${'a'.repeat(9 * KB)}`);
      assertAdminError(r, 414, 'invalid_request', `9 KB URL ${method} ${path}`);
    }

    // A 3 KB state (it would be echoed into the Location header), by GET and POST.
    for (const method of ['GET', 'POST']) {
      r = await endSession(endpoint, { method, params: victimQuery(`state=${'s'.repeat(3 * KB)}`), browser: victimBrowser() });
      assertRefused(r, 400, `3 KB state (${method})`, /state is too long/);
    }

    // A genuinely signed hint of 8 KB + 1: refused on its length alone ...
    const long = await hintOfLength(8 * KB + 1, { sub: victim.sub, sid: victim.sid, aud: 'rp1' });
    r = await endSession(endpoint, { method: 'POST', params: { id_token_hint: long, post_logout_redirect_uri: bye }, browser: victimBrowser() });
    assertRefused(r, 400, 'hint of 8 KB + 1', /id_token_hint is too long/);

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
      assertRefused(r, 400, what, mention);
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
        assertRefused(r, 400, `${piece} (${method})`, mention);
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
        assertRefused(r, 400, `${query.slice(0, 60)}… (${method})`, mention);
      }
    }
    // Raw bytes in a form body: not UTF-8 (0xFF), a NUL in client_id.
    for (const [bytes, mention] of [[[0xff], /UTF-8/], [[0xfe, 0xff, 0x41], /UTF-8/], [[0xc3, 0x28], /UTF-8/]]) {
      const body = Buffer.concat([Buffer.from(`${victimQuery()}&state=`), Buffer.from(bytes)]);
      const r = await endSession(endpoint, { method: 'POST', rawBody: body, browser: victimBrowser() });
      assertRefused(r, 400, `raw bytes ${bytes} in the body`, mention);
    }
    let r = await endSession(endpoint, {
      method: 'POST',
      rawBody: Buffer.concat([Buffer.from(`${victimQuery()}&client_id=rp1`), Buffer.from([0])]),
      browser: victimBrowser(),
    });
    assertRefused(r, 400, 'raw NUL after client_id in the body', /does not match/);
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
      `{"sub":"alice","sid":"${victim.sid}"}`,
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
      assertRefused(r, 400, `end-session POST, ${what}`, /x-www-form-urlencoded/);
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
    ['/admin/sessions/x', ['GET', 'DELETE']],
    ['/admin/sessions/x/clients/y', ['PUT']],
    ['/admin/deliveries', ['GET']],
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
      '/admin/sessions/x/clients/', '/admin/sessions/x/clients/y/z', '/admin/deliveries/x', '/jwks/', '/jwks.json',
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
    assertRefused(err, 400, 'alg with markup', /algorithm/);
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
          assertRefused(r, 400, `${how} + ${JSON.stringify(uri)} (${method})`, /not registered/);
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
    assertRefused(r, 400, 'token from another browser', /not issued to this browser/);
    r = await answer(form, new Browser());
    assertRefused(r, 400, 'token from a browser without cookies', /not issued to this browser/);
    // The target's session cookie with another binding cookie, or none, or a made-up one.
    for (const [what, cookies] of [
      ['mallory\'s binding', { [COOKIE]: target.cookie, [BINDING]: mallory.browser.get(BINDING) }],
      ['no binding', { [COOKIE]: target.cookie }],
      ['a made-up binding', { [COOKIE]: target.cookie, [BINDING]: 'A'.repeat(43) }],
      ['an empty binding', { [COOKIE]: target.cookie, [BINDING]: '' }],
      ['the binding cookie twice, a wrong one first', { [COOKIE]: target.cookie, [`${BINDING}`]: `${'B'.repeat(43)}; ${BINDING}=${binding}` }],
    ]) {
      r = await answer(form, new Browser(cookies));
      assertRefused(r, 400, `target's cookie with ${what}`);
    }
    // Posted with GET: not a confirmation but a new logout request, which asks again.
    r = await endSession(endpoint, { params: { confirm: form.token, logout: 'yes' }, browser: new Browser(Object.fromEntries(target.browser.jar)) });
    assert.equal(r.status, 200, `GET with the token: ${r.text.slice(0, 200)}`);
    assert.equal(r.location, null, 'GET with the token');
    assert.deepEqual(sessionCookies(r.setCookies), [], 'GET with the token');
    assert.notEqual(confirmationForm(r.text)?.token, form.token, 'GET with the token: a new confirmation');
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
      assertRefused(r, 400, `forged ${JSON.stringify(params).slice(0, 80)}`);
    }
    // `confirmed=true` alone is not a confirmation: it is a plain request, which asks.
    r = await answer(form, new Browser(Object.fromEntries(target.browser.jar)), { confirmed: 'true' });
    assert.equal(r.status, 200);
    assert.equal(r.location, null);
    assert.deepEqual(sessionCookies(r.setCookies), [], 'confirmed=true');
    await allAlive('after the forgeries');

    // Posted four times at once from the right browser: used once.
    const answers = await Promise.all([0, 1, 2, 3].map(() => answer(form, new Browser(Object.fromEntries(target.browser.jar)))));
    const used = answers.filter((a) => a.status !== 400);
    assert.equal(used.length, 1, `statuses of 4 concurrent answers: ${answers.map((a) => a.status)}`);
    assert.equal(used[0].status, 303);
    assert.equal(used[0].location, `${bye}?state=csrf`);
    for (const a of answers.filter((x) => x.status === 400)) assertRefused(a, 400, 'a concurrent duplicate');
    assert.ok(!(await exists(target.sid)), 'the legitimate answer did not end the session');

    // Replayed, once the browser has a new session: refused, and that session stays.
    target.browser.set(COOKIE, later.cookie);
    r = await answer(form, target.browser);
    assertRefused(r, 400, 'replayed token', /already used/);

    // Only the target session ended.
    const now = await snapshot();
    const expected = structuredClone(before);
    expected.sessions.alice = expected.sessions.alice.filter((s) => JSON.parse(s).sid !== target.sid);
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
    const [victimSid, victimSecret] = victim.cookie.split('.');
    assert.equal(Buffer.from(victimSid, 'base64url').toString(), victim.sid, 'the cookie names its sid');
    const forgeries = {
      'the sid alone': victimSid,
      'the sid and a random secret': `${victimSid}.${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')}`,
      'the sid and another session\'s secret': `${victimSid}.${carol.cookie.split('.')[1]}`,
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

  it('control: the live session survived everything, and its request, unaltered, logs out at once', { timeout: 20_000 }, async () => {
    // Every refused request above was this one plus a hostile piece: that it works shows they
    // were refused for the piece, not for something else.
    const r = await endSession(endpoint, { params: victimQuery('state=control'), browser: victimBrowser() });
    assert.equal(r.status, 303, r.text.slice(0, 300));
    assert.equal(r.location, `${bye}?state=control`);
    assert.equal(sessionCookies(r.setCookies).length, 1);
    assert.ok(!(await exists(victim.sid)), 'the session was not ended');
  });
});
