// Interoperability with maintained relying-party libraries, against the built worker under
// `wrangler dev`:
// - openid-client (v6) discovers the issuer and builds the RP-Initiated Logout URL, which logs
//   the browser's session out and returns to the relying party with its state;
// - express-openid-connect (on express 5) receives our back-channel logout tokens at its
//   back-channel route, validates them its own way (signature against our jwks_uri found by
//   discovery, iss, aud, alg, events, no nonce, sub or sid), records the logout and ends its
//   user's session; it rejects tokens for another audience and tampered tokens with 400. Its
//   own /logout (idpLogout) sends the browser to our end-session endpoint and back.
// ID tokens stand for the login system's: minted with jose and the worker's private keys.
// Run by scripts/test.sh with Node 22: node --test --test-concurrency=1 tests/e2e/*.test.mjs
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe } from 'node:test';

import express from 'express';
import eoc from 'express-openid-connect';
import * as jose from 'jose';
import * as oidc from 'openid-client';

import { it } from '../support/fixtures.mjs';
import { randomToken } from '../../tools/keys.mjs';
import { BACKCHANNEL_EVENT, mintIdToken } from '../support/oidc.mjs';
import { start as startRp } from '../../tools/rp.mjs';
import { startWorker } from '../../tools/worker.mjs';

/** An express-session compatible store (get/set/destroy with callbacks) that can be inspected. */
class InspectableStore {
  constructor() {
    this.map = new Map();
  }
  get(key, done) {
    done(null, this.map.get(key));
  }
  set(key, value, done) {
    this.map.set(key, value);
    done(null);
  }
  destroy(key, done) {
    this.map.delete(key);
    done(null);
  }
}

/**
 * A relying party built with express-openid-connect: back-channel logout on (its default route,
 * /backchannel-logout), stateful sessions in an inspectable store that also holds the
 * back-channel logout entries, RP-Initiated Logout at the provider on its /logout (idpLogout).
 * Records each back-channel request with eoc's answer.
 */
async function startExpressRp(w, { clientID, alg = 'RS256' }) {
  const app = express();
  const server = http.createServer(app);
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  const store = new InspectableStore();
  const backchannel = []; // {status, token, body}
  const sessionName = 'appSession';

  app.use((req, res, next) => {
    if (req.method !== 'POST' || req.path !== '/backchannel-logout') return next();
    const rec = { status: undefined, token: undefined, body: undefined };
    const json = res.json.bind(res);
    res.json = (body) => {
      rec.body = body;
      return json(body);
    };
    res.on('finish', () => {
      rec.status = res.statusCode;
      rec.token = req.body?.logout_token;
      backchannel.push(rec);
    });
    next();
  });
  app.use(
    eoc.auth({
      issuerBaseURL: w.url,
      baseURL: url,
      clientID,
      clientSecret: randomToken(24),
      secret: randomToken(32),
      authRequired: false,
      idpLogout: true,
      idTokenSigningAlg: alg,
      enableTelemetry: false,
      authorizationParams: { response_type: 'code', response_mode: 'query', scope: 'openid' },
      routes: { postLogoutRedirect: '/signed-out' },
      session: { name: sessionName, store },
      backchannelLogout: true, // entries go to session.store
    }),
  );
  app.get('/me', (req, res) => {
    res.json({ authenticated: req.oidc.isAuthenticated(), sub: req.oidc.user?.sub ?? null });
  });
  app.get('/signed-out', (req, res) => res.type('text').send('signed out'));
  // Errors (e.g. a failed discovery) as text, for the assertion messages.
  app.use((err, req, res, _next) => {
    res.status(500).type('text').send(String(err?.stack ?? err));
  });

  return {
    url,
    clientID,
    alg,
    store,
    backchannel,
    backchannelUri: `${url}/backchannel-logout`,
    postLogoutRedirectUri: `${url}/signed-out`,
    /**
     * Puts a signed-in user's session in the store, as eoc's callback would after a login at
     * the provider (the login endpoints live elsewhere): the session holds the ID token.
     * Returns the Cookie header value that carries the session.
     */
    signIn(idToken) {
      const id = randomToken(16);
      const now = Math.floor(Date.now() / 1000);
      store.map.set(id, {
        header: { iat: now, uat: now, exp: now + 3600 },
        data: { id_token: idToken },
        cookie: { expires: (now + 3600) * 1000, maxAge: 3600 * 1000 },
      });
      return { id, cookie: `${sessionName}=${id}` };
    },
    /** Whether eoc has a back-channel logout recorded for `key` (a sid or a sub). */
    loggedOut(key) {
      return store.map.has(`${w.vars.ISSUER}|${key}`);
    },
    async get(path, cookie) {
      return fetch(url + path, {
        redirect: 'manual',
        headers: cookie ? { cookie } : {},
        signal: AbortSignal.timeout(15_000),
      });
    },
    async postLogoutToken(token) {
      const body = token === undefined ? '' : new URLSearchParams({ logout_token: token }).toString();
      const res = await fetch(`${url}/backchannel-logout`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      let json;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {}
      return { status: res.status, json, text };
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}

/** Changes one claim of a JWT, keeping the header and signature: the signature no longer holds. */
function withClaim(jwt, name, value) {
  const [h, p, s] = jwt.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  claims[name] = value;
  return [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), s].join('.');
}

/** Flips one bit in the middle of the signature. */
function withBadSignature(jwt) {
  const [h, p, s] = jwt.split('.');
  const sig = Buffer.from(s, 'base64url');
  sig[sig.length >> 1] ^= 0x01;
  return [h, p, sig.toString('base64url')].join('.');
}

describe('interoperability with relying-party libraries', { timeout: 200_000 }, () => {
  let w;
  let rp; // the recording RP behind openid-client: its post-logout landing pages
  let eocRs; // express-openid-connect, RS256
  let eocEs; // ES256
  let eocEd; // EdDSA
  const OC_CLIENT = 'oc-rp';

  before(async () => {
    w = await startWorker(); // default: the demo PROVIDER_METADATA, a complete provider document
    rp = await startRp();
    [eocRs, eocEs, eocEd] = await Promise.all([
      startExpressRp(w, { clientID: 'eoc-rs256', alg: 'RS256' }),
      startExpressRp(w, { clientID: 'eoc-es256', alg: 'ES256' }),
      startExpressRp(w, { clientID: 'eoc-eddsa', alg: 'EdDSA' }),
    ]);
    let r = await w.admin('PUT', `/admin/clients/${OC_CLIENT}`, {
      redirect_uris: [`${rp.url}/cb`],
      post_logout_redirect_uris: [`${rp.url}/bye`, `${rp.url}/bye?from=op`],
      client_name: 'openid-client RP',
    });
    assert.equal(r.status, 201, r.text);
    for (const e of [eocRs, eocEs, eocEd]) {
      r = await w.admin('PUT', `/admin/clients/${e.clientID}`, {
        redirect_uris: [`${e.url}/callback`],
        post_logout_redirect_uris: [e.postLogoutRedirectUri],
        backchannel_logout_uri: e.backchannelUri,
        backchannel_logout_session_required: true,
        id_token_signed_response_alg: e.alg,
        client_name: `express-openid-connect ${e.alg}`,
      });
      assert.equal(r.status, 201, r.text);
    }
  }, { timeout: 120_000 });

  after(async () => {
    await Promise.all([eocRs?.close(), eocEs?.close(), eocEd?.close(), rp?.close()]);
    await w?.stop();
  });

  /** A provider session of `sub` with `clients`: {sid, cookie (the Cookie header value)}. */
  async function providerSession(sub, clients) {
    const r = await w.admin('POST', '/admin/sessions', { sub, clients });
    assert.equal(r.status, 201, r.text);
    return { sid: r.json.sid, cookie: `${r.json.cookie_name}=${r.json.cookie}` };
  }

  async function sessionExists(sid) {
    const r = await w.admin('GET', `/admin/sessions/${encodeURIComponent(sid)}`);
    assert.ok(r.status === 200 || r.status === 404, `GET session: ${r.status} ${r.text}`);
    return r.status === 200;
  }

  /** openid-client's Configuration for `clientId`, by discovery of our issuer over http. */
  function discover(clientId) {
    return oidc.discovery(new URL(w.url), clientId, { id_token_signed_response_alg: 'RS256' }, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
      timeout: 15,
    });
  }

  describe('openid-client', () => {
    it('discovers the issuer and reads the logout metadata', async () => {
      const config = await discover(OC_CLIENT);
      const m = config.serverMetadata();
      assert.equal(m.issuer, w.vars.ISSUER);
      assert.equal(m.jwks_uri, `${w.url}/jwks`);
      assert.equal(m.end_session_endpoint, `${w.url}/session/end`);
      assert.equal(m.backchannel_logout_supported, true);
      assert.equal(m.backchannel_logout_session_supported, true);
      assert.equal(m.frontchannel_logout_supported, true);
      assert.equal(m.frontchannel_logout_session_supported, true);
      assert.ok(m.id_token_signing_alg_values_supported.includes('RS256'));
      assert.equal(m.authorization_endpoint, `${w.url}/authorize`);
    });

    it('builds an end-session URL that logs out and returns to the RP with its state', async () => {
      const config = await discover(OC_CLIENT);
      const { sid, cookie } = await providerSession('alice', [OC_CLIENT]);
      const state = randomToken(12);
      const postLogout = `${rp.url}/bye`;
      const endSessionUrl = oidc.buildEndSessionUrl(config, {
        id_token_hint: await mintIdToken(w, { sub: 'alice', sid, aud: OC_CLIENT }),
        post_logout_redirect_uri: postLogout,
        state,
      });
      assert.equal(endSessionUrl.origin + endSessionUrl.pathname, `${w.url}/session/end`);
      assert.equal(endSessionUrl.searchParams.get('client_id'), OC_CLIENT);

      const res = await fetch(endSessionUrl, { redirect: 'manual', headers: { cookie }, signal: AbortSignal.timeout(15_000) });
      assert.equal(res.status, 303, await res.text());
      const location = new URL(res.headers.get('location'));
      assert.equal(location.origin + location.pathname, postLogout);
      assert.deepEqual([...location.searchParams], [['state', state]]);
      assert.equal(await sessionExists(sid), false, 'the session is gone');

      // The browser lands at the RP with the state it sent.
      const landing = await fetch(location, { signal: AbortSignal.timeout(15_000) });
      assert.equal(landing.status, 200);
      await landing.text();
      const hit = await rp.waitFor((r) => r.method === 'GET' && r.path === '/bye' && r.query.state === state);
      assert.ok(hit);
    });

    it('keeps the query of a registered post_logout_redirect_uri and adds the state', async () => {
      const config = await discover(OC_CLIENT);
      const { sid, cookie } = await providerSession('alice', [OC_CLIENT]);
      const state = 'st-' + randomToken(8);
      const endSessionUrl = oidc.buildEndSessionUrl(config, {
        id_token_hint: await mintIdToken(w, { sub: 'alice', sid, aud: OC_CLIENT }),
        post_logout_redirect_uri: `${rp.url}/bye?from=op`,
        state,
      });
      const res = await fetch(endSessionUrl, { redirect: 'manual', headers: { cookie }, signal: AbortSignal.timeout(15_000) });
      assert.equal(res.status, 303, await res.text());
      const location = new URL(res.headers.get('location'));
      assert.equal(location.origin + location.pathname, `${rp.url}/bye`);
      assert.deepEqual([...location.searchParams], [['from', 'op'], ['state', state]]);
      assert.equal(await sessionExists(sid), false);
    });
  });

  describe('express-openid-connect', () => {
    it('accepts our logout token at its back-channel route during an openid-client logout', async () => {
      const config = await discover(OC_CLIENT);
      const sub = 'bob';
      const { sid, cookie } = await providerSession(sub, [OC_CLIENT, eocRs.clientID]);
      // Bob is also signed in at the express RP.
      const app = eocRs.signIn(await mintIdToken(w, { sub, sid, aud: eocRs.clientID }));
      let me = await (await eocRs.get('/me', app.cookie)).json();
      assert.deepEqual(me, { authenticated: true, sub });
      const before = eocRs.backchannel.length;

      const state = randomToken(8);
      const url = oidc.buildEndSessionUrl(config, {
        id_token_hint: await mintIdToken(w, { sub, sid, aud: OC_CLIENT }),
        post_logout_redirect_uri: `${rp.url}/bye`,
        state,
      });
      const res = await fetch(url, { redirect: 'manual', headers: { cookie }, signal: AbortSignal.timeout(15_000) });
      assert.equal(res.status, 303, await res.text());
      assert.equal(new URL(res.headers.get('location')).searchParams.get('state'), state);

      // Delivered before the redirect: eoc has answered already.
      const delivered = eocRs.backchannel.slice(before);
      assert.equal(delivered.length, 1, JSON.stringify(delivered));
      assert.equal(delivered[0].status, 204, JSON.stringify(delivered[0].body));
      const claims = jose.decodeJwt(delivered[0].token);
      assert.equal(claims.sid, sid);
      assert.equal(claims.sub, sub);
      assert.deepEqual(claims.events, { [BACKCHANNEL_EVENT]: {} });
      assert.equal(jose.decodeProtectedHeader(delivered[0].token).typ, 'logout+jwt');
      // eoc recorded the logout by sid and by sub...
      assert.ok(eocRs.loggedOut(sid), 'logout recorded for the sid');
      assert.ok(eocRs.loggedOut(sub), 'logout recorded for the sub');
      // ...and so ends bob's session there at his next request.
      me = await (await eocRs.get('/me', app.cookie)).json();
      assert.deepEqual(me, { authenticated: false, sub: null });
      assert.equal(eocRs.store.map.has(app.id), false, 'eoc destroyed its session');
    });

    it('accepts ES256 and EdDSA logout tokens from an admin logout', async () => {
      const sub = 'carol';
      const { sid } = await providerSession(sub, [eocEs.clientID, eocEd.clientID]);
      const r = await w.admin('DELETE', `/admin/sessions/${encodeURIComponent(sid)}`);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.backchannel, { delivered: 2, queued: 0, dead: 0 });
      for (const e of [eocEs, eocEd]) {
        const rec = e.backchannel.at(-1);
        assert.equal(rec.status, 204, `${e.alg}: ${JSON.stringify(rec.body)}`);
        assert.equal(jose.decodeProtectedHeader(rec.token).alg, e.alg);
        assert.ok(e.loggedOut(sid), `${e.alg}: sid recorded`);
        assert.ok(e.loggedOut(sub), `${e.alg}: sub recorded`);
      }
    });

    it('accepts a user-wide logout token without sid', async () => {
      const sub = 'dave';
      const id = 'eoc-user-wide';
      // Same endpoint as eocRs, but a client that takes user-wide tokens: eoc checks the
      // audience against its own client_id, so this client must be eocRs's.
      let r = await w.admin('PUT', `/admin/clients/${eocRs.clientID}`, {
        redirect_uris: [`${eocRs.url}/callback`],
        post_logout_redirect_uris: [eocRs.postLogoutRedirectUri],
        backchannel_logout_uri: eocRs.backchannelUri,
        backchannel_logout_session_required: false,
        client_name: id,
      });
      assert.equal(r.status, 200, r.text);
      try {
        const s1 = await providerSession(sub, [eocRs.clientID]);
        const s2 = await providerSession(sub, [eocRs.clientID]);
        const before = eocRs.backchannel.length;
        r = await w.admin('DELETE', `/admin/sessions?sub=${sub}`);
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.json.backchannel, { delivered: 1, queued: 0, dead: 0 });
        const delivered = eocRs.backchannel.slice(before);
        assert.equal(delivered.length, 1);
        assert.equal(delivered[0].status, 204, JSON.stringify(delivered[0].body));
        const claims = jose.decodeJwt(delivered[0].token);
        assert.equal(claims.sid, undefined);
        assert.equal(claims.sub, sub);
        assert.ok(eocRs.loggedOut(sub));
        assert.ok(!eocRs.loggedOut(s1.sid) && !eocRs.loggedOut(s2.sid));
      } finally {
        r = await w.admin('PUT', `/admin/clients/${eocRs.clientID}`, {
          redirect_uris: [`${eocRs.url}/callback`],
          post_logout_redirect_uris: [eocRs.postLogoutRedirectUri],
          backchannel_logout_uri: eocRs.backchannelUri,
          backchannel_logout_session_required: true,
          client_name: 'express-openid-connect RS256',
        });
        assert.equal(r.status, 200, r.text);
      }
    });

    it('rejects a token for another audience, and the worker gives that delivery up', async () => {
      // A client whose back-channel URI is eocRs's: its tokens say aud=eoc-stranger.
      const r0 = await w.admin('PUT', '/admin/clients/eoc-stranger', {
        redirect_uris: [`${eocRs.url}/callback`],
        backchannel_logout_uri: eocRs.backchannelUri,
        backchannel_logout_session_required: true,
      });
      assert.equal(r0.status, 201, r0.text);
      const { sid } = await providerSession('erin', ['eoc-stranger']);
      const before = eocRs.backchannel.length;
      const r = await w.admin('DELETE', `/admin/sessions/${encodeURIComponent(sid)}`);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.backchannel, { delivered: 0, queued: 0, dead: 1 });
      const rec = eocRs.backchannel.slice(before);
      assert.equal(rec.length, 1);
      assert.equal(rec[0].status, 400);
      assert.equal(rec[0].body.error, 'invalid_request');
      assert.match(rec[0].body.error_description, /aud/);
      assert.ok(!eocRs.loggedOut(sid));
      const dead = await w.admin('GET', '/admin/deliveries?status=dead');
      assert.equal(dead.status, 200, dead.text);
      assert.ok(dead.json.deliveries.some((d) => d.client_id === 'eoc-stranger'), dead.text);
    });

    it('rejects tampered and missing logout tokens with 400', async () => {
      // A genuine token, captured from a delivery.
      const sub = 'frank';
      const { sid } = await providerSession(sub, [eocRs.clientID]);
      const r = await w.admin('DELETE', `/admin/sessions/${encodeURIComponent(sid)}`);
      assert.deepEqual(r.json.backchannel, { delivered: 1, queued: 0, dead: 0 }, r.text);
      const token = eocRs.backchannel.at(-1).token;
      assert.equal(jose.decodeJwt(token).sid, sid);
      eocRs.store.map.clear();

      for (const [what, bad] of [
        ['another sub', withClaim(token, 'sub', 'mallory')],
        ['another sid', withClaim(token, 'sid', 'other-session')],
        ['a flipped signature bit', withBadSignature(token)],
        ['no signature', token.split('.').slice(0, 2).join('.') + '.'],
      ]) {
        const res = await eocRs.postLogoutToken(bad);
        assert.equal(res.status, 400, `${what}: ${res.text}`);
        assert.equal(res.json?.error, 'invalid_request', `${what}: ${res.text}`);
      }
      const missing = await eocRs.postLogoutToken(undefined);
      assert.equal(missing.status, 400, missing.text);
      assert.equal(eocRs.store.map.size, 0, 'nothing was recorded');

      // The untouched token still passes (within its lifetime): the rejections were the tampering.
      const ok = await eocRs.postLogoutToken(token);
      assert.equal(ok.status, 204, ok.text);
      assert.ok(eocRs.loggedOut(sid));
    });

    it("its own /logout (idpLogout) goes through our end-session endpoint and back", async () => {
      const sub = 'grace';
      const { sid, cookie } = await providerSession(sub, [eocRs.clientID]);
      const idToken = await mintIdToken(w, { sub, sid, aud: eocRs.clientID });
      const app = eocRs.signIn(idToken);
      const before = eocRs.backchannel.length;

      // eoc ends its own session and sends the browser to the provider.
      const out = await eocRs.get('/logout', app.cookie);
      assert.equal(out.status, 302, await out.text());
      const endSession = new URL(out.headers.get('location'));
      assert.equal(endSession.origin + endSession.pathname, `${w.url}/session/end`);
      assert.equal(endSession.searchParams.get('id_token_hint'), idToken);
      assert.equal(endSession.searchParams.get('post_logout_redirect_uri'), eocRs.postLogoutRedirectUri);
      assert.equal(endSession.searchParams.get('client_id'), eocRs.clientID);

      // The provider logs the browser out, notifies eoc, and returns to eoc's landing page.
      const res = await fetch(endSession, { redirect: 'manual', headers: { cookie }, signal: AbortSignal.timeout(15_000) });
      assert.equal(res.status, 303, await res.text());
      assert.equal(res.headers.get('location'), eocRs.postLogoutRedirectUri);
      assert.equal(await sessionExists(sid), false);
      const delivered = eocRs.backchannel.slice(before);
      assert.equal(delivered.length, 1);
      assert.equal(delivered[0].status, 204, JSON.stringify(delivered[0].body));
      assert.ok(eocRs.loggedOut(sid));
      const landing = await eocRs.get('/signed-out');
      assert.equal(landing.status, 200);
      assert.equal(await landing.text(), 'signed out');
    });
  });
});
