// A demo relying party of the example, with openid-client 6: signs in with the authorization
// code flow (PKCE), keeps a local session per browser, signs out through the issuer's
// end_session_endpoint (RP-Initiated Logout) and ends local sessions on back-channel logout
// tokens, which it verifies with jose against the issuer's jwks_uri (so does it the ID token).
// Run by ./example.mjs as a child process; settings from the environment:
//   ISSUER, RP_PORT, CLIENT_ID, CLIENT_SECRET, RP_NAME.
// Pages: / (who is signed in), /login, /cb, /logout, /bye (post-logout), POST /backchannel.
// GET /events.json lists what happened (sign-ins, logout tokens and their checks) for the test.
import http from 'node:http';
import { randomBytes } from 'node:crypto';

import * as jose from 'jose';
import * as oidc from 'openid-client';

const ISSUER = process.env.ISSUER;
const PORT = Number(process.env.RP_PORT);
const CLIENT_ID = process.env.CLIENT_ID;
const NAME = process.env.RP_NAME ?? CLIENT_ID;
const ORIGIN = `http://127.0.0.1:${PORT}`;
// Every server of the demo is on 127.0.0.1, where cookies do not tell ports apart: one name each.
const COOKIE = `${CLIENT_ID}_session`;
const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const log = (m) => console.log(`[${CLIENT_ID}] ${m}`);

const config = await oidc.discovery(new URL(ISSUER), CLIENT_ID, undefined, oidc.ClientSecretBasic(process.env.CLIENT_SECRET), {
  execute: [oidc.allowInsecureRequests], // http: local demo only
});
const { jwks_uri: jwksUri, issuer } = config.serverMetadata();
const jwks = jose.createRemoteJWKSet(new URL(jwksUri));

const sessions = new Map(); // local session id -> {sub, sid, idToken}
const pending = new Map(); // state -> {verifier, nonce}
const events = [];

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const cookieOf = (req) => Object.fromEntries(
  (req.headers.cookie ?? '').split(/;\s*/).filter(Boolean).map((c) => [c.slice(0, c.indexOf('=')), c.slice(c.indexOf('=') + 1)]),
)[COOKIE];

function page(res, status, title, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(NAME)}: ${escapeHtml(title)}</title>
<style>body{font:16px system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}</style></head>
<body><h1>${escapeHtml(NAME)}</h1>${body}</body></html>`);
}
const redirect = (res, location, headers = {}) => res.writeHead(303, { location, 'cache-control': 'no-store', ...headers }).end();

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 65_536) throw new Error('body too large');
  }
  return new URLSearchParams(body);
}

/** Checks a logout token as Back-Channel Logout 1.0 section 2.6 says; returns its claims. */
async function verifyLogoutToken(token) {
  const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, {
    issuer,
    audience: CLIENT_ID,
    typ: 'logout+jwt',
    maxTokenAge: '2 minutes',
  });
  const ev = payload.events?.[BACKCHANNEL_EVENT];
  if (!ev || typeof ev !== 'object' || Object.keys(ev).length) throw new Error('no back-channel logout event');
  if (payload.nonce !== undefined) throw new Error('a logout token has no nonce');
  if (!payload.sid && !payload.sub) throw new Error('neither sid nor sub');
  if (!payload.jti) throw new Error('no jti');
  return { payload, protectedHeader };
}

const routes = {
  'GET /': (req, res) => {
    const s = sessions.get(cookieOf(req));
    if (!s) return page(res, 200, 'signed out', '<p id="status">Not signed in.</p><p><a id="login" href="/login">Sign in</a></p>');
    page(res, 200, 'signed in', `<p id="status">Signed in as <b id="sub">${escapeHtml(s.sub)}</b>.</p>
<p>Session <code id="sid">${escapeHtml(s.sid)}</code></p><p><a id="logout" href="/logout">Sign out</a></p>`);
  },
  'GET /login': (req, res, url) => {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    pending.set(state, { verifier, nonce });
    oidc.calculatePKCECodeChallenge(verifier).then((challenge) => {
      const params = {
        redirect_uri: `${ORIGIN}/cb`,
        scope: 'openid profile',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state,
        nonce,
      };
      if (url.searchParams.get('prompt')) params.prompt = url.searchParams.get('prompt');
      redirect(res, oidc.buildAuthorizationUrl(config, params).href);
    });
  },
  'GET /cb': async (req, res, url) => {
    const state = url.searchParams.get('state');
    const p = pending.get(state);
    pending.delete(state);
    if (!p) return page(res, 400, 'error', '<p>Unknown state.</p>');
    if (url.searchParams.get('error')) {
      events.push({ type: 'login_error', error: url.searchParams.get('error') });
      return page(res, 200, 'not signed in', `<p id="status">Sign-in failed: <code id="error">${escapeHtml(url.searchParams.get('error'))}</code></p>`);
    }
    const tokens = await oidc.authorizationCodeGrant(config, new URL(url.pathname + url.search, ORIGIN), {
      pkceCodeVerifier: p.verifier,
      expectedState: state,
      expectedNonce: p.nonce,
    });
    // The ID token's signature, checked with the issuer's jwks_uri (edge-logout's /jwks).
    const { payload, protectedHeader } = await jose.jwtVerify(tokens.id_token, jwks, { issuer, audience: CLIENT_ID });
    const id = randomBytes(24).toString('base64url');
    sessions.set(id, { sub: payload.sub, sid: payload.sid, idToken: tokens.id_token });
    events.push({ type: 'login', sub: payload.sub, sid: payload.sid, kid: protectedHeader.kid, alg: protectedHeader.alg });
    log(`signed in: sub=${payload.sub} sid=${payload.sid}`);
    redirect(res, '/', { 'set-cookie': `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax` });
  },
  'GET /logout': (req, res) => {
    const s = sessions.get(cookieOf(req));
    const state = oidc.randomState();
    events.push({ type: 'logout_started', state, sid: s?.sid });
    const url = oidc.buildEndSessionUrl(config, {
      ...(s ? { id_token_hint: s.idToken } : {}),
      post_logout_redirect_uri: `${ORIGIN}/bye`,
      state,
    });
    redirect(res, url.href);
  },
  'GET /bye': (req, res, url) => {
    const state = url.searchParams.get('state');
    events.push({ type: 'post_logout', state });
    const signedIn = sessions.has(cookieOf(req));
    page(res, 200, 'signed out', `<p id="status">${signedIn ? 'Still signed in here.' : 'Signed out.'}</p>
<p>state: <code id="state">${escapeHtml(state ?? '(none)')}</code></p><p><a href="/">Home</a></p>`);
  },
  'POST /backchannel': async (req, res) => {
    const token = (await readForm(req)).get('logout_token');
    try {
      const { payload, protectedHeader } = await verifyLogoutToken(token ?? '');
      let ended = 0;
      for (const [id, s] of sessions) {
        if (payload.sid ? s.sid === payload.sid : s.sub === payload.sub) {
          sessions.delete(id);
          ended += 1;
        }
      }
      events.push({ type: 'backchannel', verified: true, sid: payload.sid, sub: payload.sub, kid: protectedHeader.kid, alg: protectedHeader.alg, ended });
      log(`back-channel logout: sid=${payload.sid} verified, ${ended} local session(s) ended`);
      res.writeHead(200, { 'cache-control': 'no-store' }).end();
    } catch (e) {
      events.push({ type: 'backchannel', verified: false, error: e.message });
      log(`back-channel logout refused: ${e.message}`);
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_request' }));
    }
  },
  'GET /events.json': (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify({ events, sessions: [...sessions.values()].map(({ sub, sid }) => ({ sub, sid })) }));
  },
};

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, ORIGIN);
  const route = routes[`${req.method} ${url.pathname}`];
  try {
    if (route) return await route(req, res, url);
    page(res, 404, 'not found', '<p>Not found.</p>');
  } catch (e) {
    log(`${req.method} ${url.pathname}: ${e.message}`);
    if (!res.headersSent) page(res, 500, 'error', `<p id="error">${escapeHtml(e.message)}</p>`);
  }
});
server.listen(PORT, '127.0.0.1', () => log(`${NAME} on ${ORIGIN}`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)));
