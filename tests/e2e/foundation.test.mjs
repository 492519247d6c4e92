// End-to-end tests of the foundation against the built worker under `wrangler dev`:
// discovery, JWKS, the admin API (clients and sessions), and what it refuses.
// Run by scripts/test.sh with Node 22: node --test --test-concurrency=1 tests/e2e/*.test.mjs
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';

import * as jose from 'jose';

import { it, snapshot as snapshotOf } from '../support/fixtures.mjs';
import { publicJwk } from '../../tools/keys.mjs';
import { startWorker } from '../../tools/worker.mjs';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

function assertSecurityHeaders(headers, what) {
  assert.equal(headers.get('cache-control'), 'no-store', `${what}: cache-control`);
  assert.equal(headers.get('x-content-type-options'), 'nosniff', `${what}: x-content-type-options`);
  assert.equal(headers.get('referrer-policy'), 'no-referrer', `${what}: referrer-policy`);
}

function assertJsonError(r, status, error, what) {
  assert.equal(r.status, status, `${what}: status (body ${r.text})`);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/, `${what}: content-type`);
  assert.equal(r.json?.error, error, `${what}: error (body ${r.text})`);
  assert.equal(typeof r.json?.error_description, 'string', `${what}: error_description`);
  assertSecurityHeaders(r.headers, what);
}

/** Registration metadata for a client whose URIs live on https://{id}.example. */
function metadata(id, extra = {}) {
  const origin = `https://${id}.example`;
  return {
    redirect_uris: [`${origin}/cb`],
    post_logout_redirect_uris: [`${origin}/bye`, `${origin}/bye?from=op`],
    backchannel_logout_uri: `${origin}/backchannel`,
    backchannel_logout_session_required: true,
    frontchannel_logout_uri: `${origin}/frontchannel`,
    frontchannel_logout_session_required: true,
    client_name: `Client ${id}`,
    ...extra,
  };
}

describe('a configured worker', { timeout: 180_000 }, () => {
  let w;
  // A PROVIDER_METADATA that tries to override what the service owns.
  const providerMetadata = {
    issuer: 'https://evil.example',
    jwks_uri: 'https://evil.example/jwks',
    backchannel_logout_supported: 'yes',
    authorization_endpoint: 'https://login.example.test/authorize',
    token_endpoint: 'https://login.example.test/token',
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    scopes_supported: ['openid', 'profile'],
  };

  before(async () => {
    w = await startWorker({ providerMetadata });
  }, { timeout: 90_000 });
  after(async () => {
    await w?.stop();
  });

  /** The state the admin API shows: every client, and the sessions of alice and mallory. */
  const snapshot = () => snapshotOf(w);

  describe('discovery and keys', () => {
    it('serves the discovery document with our members over PROVIDER_METADATA', async () => {
      const res = await w.request('/.well-known/openid-configuration');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type'), /^application\/json/);
      assertSecurityHeaders(res.headers, 'discovery');
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      const d = await res.json();
      assert.equal(d.issuer, w.url);
      assert.equal(d.issuer, w.vars.ISSUER);
      assert.equal(d.jwks_uri, `${w.url}/jwks`);
      for (const flag of [
        'backchannel_logout_supported',
        'backchannel_logout_session_supported',
        'frontchannel_logout_supported',
        'frontchannel_logout_session_supported',
      ]) {
        assert.equal(typeof d[flag], 'boolean', flag);
      }
      assert.ok(Array.isArray(d.id_token_signing_alg_values_supported));
      assert.ok(d.id_token_signing_alg_values_supported.includes('RS256'));
      assert.deepEqual([...d.id_token_signing_alg_values_supported].sort(), ['ES256', 'EdDSA', 'RS256']);
      // The provider's other metadata is kept.
      assert.equal(d.authorization_endpoint, providerMetadata.authorization_endpoint);
      assert.equal(d.token_endpoint, providerMetadata.token_endpoint);
      assert.deepEqual(d.response_types_supported, ['code']);
      assert.deepEqual(d.scopes_supported, ['openid', 'profile']);
    });

    it('answers HEAD and OPTIONS on discovery', async () => {
      const head = await w.request('/.well-known/openid-configuration', { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal((await head.arrayBuffer()).byteLength, 0);
      const options = await w.request('/.well-known/openid-configuration', { method: 'OPTIONS' });
      assert.equal(options.status, 204);
      assert.equal(options.headers.get('access-control-allow-origin'), '*');
    });

    it('serves only the public halves of the signing keys', async () => {
      const res = await w.request('/jwks');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type'), /json/);
      assertSecurityHeaders(res.headers, 'jwks');
      const jwks = await res.json();
      assert.ok(Array.isArray(jwks.keys));
      const ours = JSON.parse(w.vars.SIGNING_JWKS).keys;
      assert.deepEqual(jwks.keys.map((k) => k.kid).sort(), ours.map((k) => k.kid).sort());
      for (const key of jwks.keys) {
        for (const m of PRIVATE_MEMBERS) assert.equal(key[m], undefined, `${key.kid} has ${m}`);
        const mine = ours.find((k) => k.kid === key.kid);
        const expected = publicJwk(mine);
        for (const m of ['kty', 'crv', 'n', 'e', 'x', 'y', 'alg']) {
          assert.equal(key[m], expected[m], `${key.kid}.${m}`);
        }
        assert.equal(key.use, 'sig', `${key.kid}.use`);
      }
    });

    it('serves keys that verify what the private keys sign', async () => {
      const jwks = await (await w.request('/jwks')).json();
      const keySet = jose.createLocalJWKSet(jwks);
      for (const priv of JSON.parse(w.vars.SIGNING_JWKS).keys) {
        const key = await jose.importJWK(priv, priv.alg);
        const jwt = await new jose.SignJWT({ sub: 'check' })
          .setProtectedHeader({ alg: priv.alg, kid: priv.kid })
          .setIssuer(w.url)
          .sign(key);
        const { payload, protectedHeader } = await jose.jwtVerify(jwt, keySet, { issuer: w.url });
        assert.equal(payload.sub, 'check');
        assert.equal(protectedHeader.kid, priv.kid);
      }
    });

    it('answers unknown paths with a JSON 404 and the same headers', async () => {
      const res = await w.request('/nope');
      const r = { status: res.status, headers: res.headers, text: await res.text() };
      r.json = JSON.parse(r.text);
      assertJsonError(r, 404, 'not_found', 'GET /nope');
    });

    it('answers wrong methods with 405 and Allow', async () => {
      for (const [method, path, allow] of [
        ['POST', '/jwks', 'GET, HEAD, OPTIONS'],
        ['DELETE', '/.well-known/openid-configuration', 'GET, HEAD, OPTIONS'],
        ['POST', '/admin/clients', 'GET'],
        ['PATCH', '/admin/clients/some-client', 'GET, PUT, DELETE'],
        ['POST', '/admin/clients/some-client', 'GET, PUT, DELETE'],
        ['GET', '/admin/sessions/some-sid/clients/some-client', 'PUT'],
        ['POST', '/admin/sessions/some-sid', 'GET, DELETE, PATCH'],
        ['PUT', '/admin/openapi.json', 'GET'],
      ]) {
        const before = await snapshot();
        const r = await w.admin(method, path, method === 'GET' ? undefined : {});
        assertJsonError(r, 405, 'invalid_request', `${method} ${path}`);
        assert.equal(r.headers.get('allow'), allow, `${method} ${path}: Allow`);
        assert.deepEqual(await snapshot(), before, `${method} ${path} changed something`);
      }
    });
  });

  describe('admin API: clients', () => {
    it('creates, replaces, gets, lists and deletes a client', async () => {
      const id = 'crud-rp';
      let r = await w.admin('PUT', `/admin/clients/${id}`, metadata(id));
      assert.equal(r.status, 201, r.text);
      assertSecurityHeaders(r.headers, 'PUT client');
      assert.equal(r.json.client_id, id);
      assert.deepEqual(r.json.post_logout_redirect_uris, metadata(id).post_logout_redirect_uris);
      assert.equal(r.json.backchannel_logout_uri, metadata(id).backchannel_logout_uri);
      assert.equal(r.json.frontchannel_logout_uri, metadata(id).frontchannel_logout_uri);
      assert.equal(r.json.backchannel_logout_session_required, true);
      assert.equal(r.json.id_token_signed_response_alg, 'RS256');
      assert.equal(r.json.client_name, `Client ${id}`);
      const created = r.json;

      // What was stored is what the PUT answered: read back, field for field.
      r = await w.admin('GET', `/admin/clients/${id}`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, created, 'GET answers other metadata than the PUT stored');
      assert.equal(r.json.client_id, id);

      // Replace: the new metadata entirely, nothing kept from the old.
      const replacement = {
        redirect_uris: [`https://${id}.example/cb2`],
        post_logout_redirect_uris: [`https://${id}.example/bye2`],
        id_token_signed_response_alg: 'ES256',
      };
      r = await w.admin('PUT', `/admin/clients/${id}`, replacement);
      assert.equal(r.status, 200, r.text);
      r = await w.admin('GET', `/admin/clients/${id}`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json.post_logout_redirect_uris, replacement.post_logout_redirect_uris);
      assert.deepEqual(r.json.redirect_uris, replacement.redirect_uris);
      assert.equal(r.json.id_token_signed_response_alg, 'ES256');
      assert.equal(r.json.backchannel_logout_uri, undefined);
      assert.equal(r.json.frontchannel_logout_uri, undefined);
      assert.equal(r.json.backchannel_logout_session_required, false);
      assert.equal(r.json.client_name, undefined);

      r = await w.admin('PUT', '/admin/clients/crud-rp-2', metadata('crud-rp-2', { id_token_signed_response_alg: 'EdDSA' }));
      assert.equal(r.status, 201, r.text);
      r = await w.admin('GET', '/admin/clients');
      assert.equal(r.status, 200);
      assert.ok(Array.isArray(r.json.clients));
      const ids = r.json.clients.map((c) => c.client_id);
      assert.ok(ids.includes(id) && ids.includes('crud-rp-2'), JSON.stringify(ids));
      assert.equal(r.json.clients.find((c) => c.client_id === 'crud-rp-2').id_token_signed_response_alg, 'EdDSA');
      assert.equal(r.json.cursor, null);

      r = await w.admin('DELETE', `/admin/clients/${id}`);
      assert.equal(r.status, 204);
      assertJsonError(await w.admin('GET', `/admin/clients/${id}`), 404, 'not_found', 'GET deleted client');
      assertJsonError(await w.admin('DELETE', `/admin/clients/${id}`), 404, 'not_found', 'DELETE deleted client');
      r = await w.admin('GET', '/admin/clients');
      assert.ok(!r.json.clients.some((c) => c.client_id === id));
      assert.ok(r.json.clients.some((c) => c.client_id === 'crud-rp-2'));
    });

    it('decodes percent-encoded client ids in the path', async () => {
      let r = await w.admin('PUT', '/admin/clients/app%3Aweb', {});
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json.client_id, 'app:web');
      r = await w.admin('GET', '/admin/clients/app:web');
      assert.equal(r.status, 200);
      assert.equal(r.json.client_id, 'app:web');
    });

    it('answers 404 for an unknown client', async () => {
      assertJsonError(await w.admin('GET', '/admin/clients/no-such-client'), 404, 'not_found', 'GET unknown client');
    });
  });

  describe('admin API: sessions', () => {
    let sid;
    let cookie;

    before(async () => {
      for (const id of ['sess-rp-1', 'sess-rp-2']) {
        const r = await w.admin('PUT', `/admin/clients/${id}`, metadata(id));
        assert.equal(r.status, 201, r.text);
      }
    });

    it('creates a session with a cookie that is not its sid', async () => {
      const now = Math.floor(Date.now() / 1000);
      const r = await w.admin('POST', '/admin/sessions', { sub: 'alice', clients: ['sess-rp-1'], expires_in: 3600 });
      assert.equal(r.status, 201, r.text);
      assertSecurityHeaders(r.headers, 'POST session');
      ({ sid, cookie } = r.json);
      assert.equal(typeof sid, 'string');
      assert.ok(sid.length >= 16, sid);
      assert.equal(typeof cookie, 'string');
      assert.notEqual(cookie, sid);
      // `{b64url(sid)}.{random}.{signature}`: it names its session; the random part (32 bytes)
      // and the worker's signature of both are what counts.
      const [named, random, signature] = cookie.split('.');
      assert.equal(Buffer.from(named, 'base64url').toString(), sid);
      assert.ok(!random.includes(sid));
      assert.ok(random.length >= 43, `a random part of ${random.length} chars`);
      assert.equal(Buffer.from(signature, 'base64url').length, 16);
      assert.match(cookie, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
      assert.equal(r.json.cookie_name, 'op_session');
      assert.equal(r.json.sub, 'alice');
      assert.deepEqual(r.json.clients, ['sess-rp-1']);
      assert.ok(Math.abs(r.json.expires_at - (now + 3600)) <= 10, `expires_at ${r.json.expires_at} vs ${now + 3600}`);
    });

    it('shows a session without its cookie', async () => {
      const r = await w.admin('GET', `/admin/sessions/${sid}`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.sid, sid);
      assert.equal(r.json.sub, 'alice');
      assert.deepEqual(r.json.clients, ['sess-rp-1']);
      assert.equal(typeof r.json.created_at, 'number');
      assert.equal(typeof r.json.expires_at, 'number');
      assert.equal(r.json.cookie, undefined);
      assert.equal(r.json.cookie_hash, undefined);
      assert.ok(!r.text.includes(cookie));
    });

    it('records a client in a session, once', async () => {
      let r = await w.admin('PUT', `/admin/sessions/${sid}/clients/sess-rp-2`);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.clients, ['sess-rp-1', 'sess-rp-2']);
      r = await w.admin('PUT', `/admin/sessions/${sid}/clients/sess-rp-2`);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.clients, ['sess-rp-1', 'sess-rp-2']);
      r = await w.admin('GET', `/admin/sessions/${sid}`);
      assert.deepEqual(r.json.clients, ['sess-rp-1', 'sess-rp-2']);
    });

    it('creates a session with a given sid, once', async () => {
      let r = await w.admin('POST', '/admin/sessions', { sub: 'alice', sid: 'given-sid-1', clients: ['sess-rp-2', 'sess-rp-2'] });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json.sid, 'given-sid-1');
      assert.deepEqual(r.json.clients, ['sess-rp-2']);
      const before = await snapshot();
      r = await w.admin('POST', '/admin/sessions', { sub: 'mallory', sid: 'given-sid-1' });
      assertJsonError(r, 409, 'conflict', 'duplicate sid');
      assert.deepEqual(await snapshot(), before);
      r = await w.admin('GET', '/admin/sessions/given-sid-1');
      assert.equal(r.json.sub, 'alice');
      // Created again for the same user (a login system that got a 404 where the first was not
      // seen yet): its clients are recorded, with a cookie of its own.
      r = await w.admin('POST', '/admin/sessions', { sub: 'alice', sid: 'given-sid-1', clients: ['sess-rp-1'] });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.clients, ['sess-rp-2', 'sess-rp-1']);
      assert.match(r.json.cookie, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    });

    it('lists the sessions of a subject', async () => {
      // The control: bob's session exists, and must not be listed as alice's.
      const bob = await w.admin('POST', '/admin/sessions', { sub: 'bob' });
      assert.equal(bob.status, 201, bob.text);
      assert.equal(bob.json.sub, 'bob');
      let r = await w.admin('GET', '/admin/sessions?sub=bob');
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.sessions.map((s) => s.sid), [bob.json.sid], 'bob\'s own listing');
      r = await w.admin('GET', '/admin/sessions?sub=alice');
      assert.equal(r.status, 200, r.text);
      const sids = r.json.sessions.map((s) => s.sid).sort();
      assert.deepEqual(sids, [sid, 'given-sid-1'].sort());
      assert.ok(r.json.sessions.every((s) => s.sub === 'alice' && s.cookie === undefined));
      r = await w.admin('GET', '/admin/sessions?sub=nobody');
      assert.equal(r.status, 200);
      assert.deepEqual(r.json.sessions, []);
      assertJsonError(await w.admin('GET', '/admin/sessions'), 400, 'invalid_request', 'list without sub');
    });

    it('answers 404 for an unknown session', async () => {
      assertJsonError(await w.admin('GET', '/admin/sessions/no-such-sid'), 404, 'not_found', 'GET unknown session');
      const before = await snapshot();
      assertJsonError(await w.admin('PUT', '/admin/sessions/no-such-sid/clients/sess-rp-1'), 404, 'not_found', 'PUT client of unknown session');
      assert.deepEqual(await snapshot(), before);
    });
  });

  describe('admin API: what it refuses changes nothing', () => {
    const KEEP = 'keep-rp';
    let sid;

    before(async () => {
      let r = await w.admin('PUT', `/admin/clients/${KEEP}`, metadata(KEEP));
      assert.equal(r.status, 201, r.text);
      r = await w.admin('POST', '/admin/sessions', { sub: 'alice', clients: [KEEP] });
      assert.equal(r.status, 201, r.text);
      sid = r.json.sid;
    });

    /** Sends a request that must be refused, then checks that the stored state is unchanged. */
    async function refused(what, status, error, send, check) {
      const before = await snapshot();
      const keptClient = (await w.admin('GET', `/admin/clients/${KEEP}`)).json;
      const keptSession = (await w.admin('GET', `/admin/sessions/${sid}`)).json;
      const r = await send();
      assertJsonError(r, status, error, what);
      if (check) check(r);
      assert.deepEqual(await snapshot(), before, `${what}: the listings changed`);
      assert.deepEqual((await w.admin('GET', `/admin/clients/${KEEP}`)).json, keptClient, `${what}: the client changed`);
      assert.deepEqual((await w.admin('GET', `/admin/sessions/${sid}`)).json, keptSession, `${what}: the session changed`);
      return r;
    }

    it('refuses bodies that are not JSON objects', async () => {
      for (const target of [KEEP, 'new-rp']) {
        await refused(`bad JSON for ${target}`, 400, 'invalid_client_metadata',
          () => w.admin('PUT', `/admin/clients/${target}`, undefined, { rawBody: '{"redirect_uris": [' }));
        await refused(`JSON array for ${target}`, 400, 'invalid_client_metadata',
          () => w.admin('PUT', `/admin/clients/${target}`, undefined, { rawBody: '["https://x.example/cb"]' }));
        await refused(`JSON string for ${target}`, 400, 'invalid_client_metadata',
          () => w.admin('PUT', `/admin/clients/${target}`, undefined, { rawBody: '"hello"' }));
        await refused(`no content type for ${target}`, 415, 'invalid_request',
          () => w.admin('PUT', `/admin/clients/${target}`, undefined, { rawBody: '{}', contentType: null }));
        await refused(`text/plain for ${target}`, 415, 'invalid_request',
          () => w.admin('PUT', `/admin/clients/${target}`, undefined, { rawBody: '{}', contentType: 'text/plain' }));
      }
      await refused('session: bad JSON', 400, 'invalid_request',
        () => w.admin('POST', '/admin/sessions', undefined, { rawBody: '{"sub": ' }));
      await refused('session: JSON array', 400, 'invalid_request',
        () => w.admin('POST', '/admin/sessions', undefined, { rawBody: '[{"sub": "mallory"}]' }));
      await refused('session: no content type', 415, 'invalid_request',
        () => w.admin('POST', '/admin/sessions', undefined, { rawBody: '{"sub": "mallory"}', contentType: null }));
    });

    it('refuses bad client metadata', async () => {
      const o = 'https://bad-rp.example';
      for (const [what, extra, mention] of [
        ['a fragment', { post_logout_redirect_uris: [`${o}/bye#frag`] }, /fragment/],
        ['a relative URI', { post_logout_redirect_uris: ['/bye'] }, /absolute/],
        ['a javascript: URI', { post_logout_redirect_uris: ['javascript:alert(1)'] }, /scheme|absolute/],
        ['user information', { redirect_uris: ['https://user:pw@bad-rp.example/cb'] }, /user information/],
        ['a space', { post_logout_redirect_uris: [`${o}/bye x`] }, /spaces/],
        ['a back-channel URI with a fragment', { backchannel_logout_uri: `${o}/bc#x` }, /fragment/],
        ['a front-channel origin not among the redirect_uris',
          { redirect_uris: [`${o}/cb`], frontchannel_logout_uri: 'https://elsewhere.example/fc' }, /scheme, host and port/],
        ['a front-channel URI on another port',
          { redirect_uris: [`${o}/cb`], frontchannel_logout_uri: `${o}:8443/fc` }, /scheme, host and port/],
        ['alg "none"', { id_token_signed_response_alg: 'none' }, /not one of/],
        ['alg "HS256"', { id_token_signed_response_alg: 'HS256' }, /not one of/],
        ['a session flag without its URI', { backchannel_logout_session_required: true }, /needs a backchannel_logout_uri/],
        ['redirect_uris as a string', { redirect_uris: `${o}/cb` }, /sequence/],
        ['another client_id in the body', { client_id: 'other' }, /differs/],
      ]) {
        for (const target of [KEEP, 'new-rp']) {
          await refused(`${what} (${target})`, 400, 'invalid_client_metadata',
            () => w.admin('PUT', `/admin/clients/${target}`, extra),
            (r) => assert.match(r.json.error_description, mention, `${what}: ${r.json.error_description}`));
        }
      }
    });

    it('refuses sessions with unknown clients or bad members', async () => {
      await refused('session with an unknown client', 400, 'invalid_request',
        () => w.admin('POST', '/admin/sessions', { sub: 'alice', clients: [KEEP, 'no-such-client'] }),
        (r) => assert.match(r.json.error_description, /no-such-client/));
      await refused('session of a new subject with an unknown client', 400, 'invalid_request',
        () => w.admin('POST', '/admin/sessions', { sub: 'mallory', clients: ['no-such-client'] }));
      await refused('recording an unknown client', 400, 'invalid_request',
        () => w.admin('PUT', `/admin/sessions/${sid}/clients/no-such-client`));
      await refused('session without sub', 400, 'invalid_request',
        () => w.admin('POST', '/admin/sessions', { clients: [KEEP] }));
      await refused('session with a too short lifetime', 400, 'invalid_request',
        () => w.admin('POST', '/admin/sessions', { sub: 'mallory', expires_in: 5 }));
      await refused('session with an unknown member', 400, 'invalid_request',
        () => w.admin('POST', '/admin/sessions', { sub: 'mallory', admin: true }));
    });

    it('refuses requests without the right bearer token', async () => {
      const token = w.adminToken;
      const attempts = [
        ['no token', { token: null }],
        ['a wrong token', { token: `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}` }],
        ['the token in the Basic scheme', { authorization: `Basic ${token}` }],
        ['the token without a scheme', { authorization: token }],
        ['an empty bearer token', { authorization: 'Bearer ' }],
      ];
      const requests = [
        ['PUT', `/admin/clients/${KEEP}`, { redirect_uris: ['https://attacker.example/cb'] }],
        ['PUT', '/admin/clients/attacker-rp', {}],
        ['DELETE', `/admin/clients/${KEEP}`],
        ['POST', '/admin/sessions', { sub: 'mallory', clients: [KEEP] }],
        ['PUT', `/admin/sessions/${sid}/clients/${KEEP}`],
        ['GET', '/admin/clients'],
        ['GET', `/admin/sessions/${sid}`],
        ['GET', '/admin/sessions?sub=alice'],
      ];
      for (const [what, opts] of attempts) {
        for (const [method, path, body] of requests) {
          const r = await refused(`${method} ${path} with ${what}`, 401, 'invalid_token', () => w.admin(method, path, body, opts));
          assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer /);
          assert.ok(!r.text.includes(sid) || path.includes(sid), 'a refused answer shows no data');
        }
      }
    });
  });
});

describe('misconfigured workers', { timeout: 180_000 }, () => {
  let brokenKeys;
  let noAdmin;

  before(async () => {
    [brokenKeys, noAdmin] = await Promise.all([
      // An RSA key with neither modulus nor private parts.
      startWorker({
        vars: (v) => ({ ...v, SIGNING_JWKS: '{"keys":[{"kty":"RSA","kid":"k1","alg":"RS256","use":"sig"}]}' }),
        expectStatus: 500,
      }),
      startWorker({
        vars: ({ ADMIN_TOKEN, ...rest }) => rest,
      }),
    ]);
  }, { timeout: 90_000 });
  after(async () => {
    await Promise.all([brokenKeys?.stop(), noAdmin?.stop()]);
  });

  it('a broken SIGNING_JWKS answers 500 naming the setting, without key material', async () => {
    for (const path of ['/.well-known/openid-configuration', '/jwks', '/admin/clients']) {
      const r = await brokenKeys.admin('GET', path);
      assertJsonError(r, 500, 'server_error', `GET ${path}`);
      assert.match(r.json.error_description, /SIGNING_JWKS/, r.json.error_description);
      assert.ok(!r.text.includes(brokenKeys.adminToken));
    }
  });

  it('without ADMIN_TOKEN the admin API is off', async () => {
    const discovery = await noAdmin.request('/.well-known/openid-configuration');
    assert.equal(discovery.status, 200);
    for (const [method, path, body] of [
      ['GET', '/admin/clients'],
      ['PUT', '/admin/clients/rp1', {}],
      ['POST', '/admin/sessions', { sub: 'alice' }],
    ]) {
      for (const opts of [{ token: null }, { token: 'a-token-that-is-long-enough' }]) {
        assertJsonError(await noAdmin.admin(method, path, body, opts), 404, 'not_found', `${method} ${path}`);
      }
    }
  });
});
