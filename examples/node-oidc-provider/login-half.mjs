// The login half of the example: node-oidc-provider 9 with a minimal login page, wired to
// edge-logout by ./wiring.mjs. Its own logout features are off: edge-logout serves discovery,
// jwks_uri and the end-session endpoint, and notifies the relying parties.
// Run by ./example.mjs as a child process; settings come from the environment:
//   ISSUER, LOGIN_PORT, EDGE_LOGOUT_ADMIN_URL, EDGE_LOGOUT_ADMIN_TOKEN,
//   LOGIN_JWKS (its private signing keys), LOGIN_CLIENTS (node-oidc-provider client metadata),
//   COOKIE_KEYS (comma-separated), DEMO_PASSWORD (of the demo users alice and bob).
import http from 'node:http';
import { timingSafeEqual } from 'node:crypto';

import Provider from 'oidc-provider';

import { EVENTS_PATH, wireEdgeLogout } from './wiring.mjs';

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`[login] ${name} is not set`);
    process.exit(2);
  }
  return v;
};
const ISSUER = env('ISSUER');
const PORT = Number(env('LOGIN_PORT'));
const PASSWORD = Buffer.from(env('DEMO_PASSWORD'));
const SESSION_TTL_S = 24 * 3600;
const USERS = { alice: 'Alice Example', bob: 'Bob Example' };
const log = (m) => console.log(`[login] ${m}`);

const provider = new Provider(ISSUER, {
  clients: JSON.parse(env('LOGIN_CLIENTS')),
  jwks: JSON.parse(env('LOGIN_JWKS')),
  cookies: { keys: env('COOKIE_KEYS').split(',') },
  findAccount: (ctx, id) => (USERS[id] ? { accountId: id, claims: () => ({ sub: id, name: USERS[id] }) } : undefined),
  claims: { openid: ['sub'], profile: ['name'] },
  enabledJWA: { idTokenSigningAlgValues: ['RS256', 'ES256'] },
  ttl: { Session: SESSION_TTL_S },
  features: {
    devInteractions: { enabled: false },
    // edge-logout is the logout half: one end_session_endpoint, one back-channel sender.
    rpInitiatedLogout: { enabled: false },
    backchannelLogout: { enabled: false },
  },
  // First-party demo clients: consent is implied (no consent page).
  async loadExistingGrant(ctx) {
    const { client, session } = ctx.oidc;
    const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
    grant.addOIDCScope('openid profile');
    await grant.save();
    return grant;
  },
});
// Behind the router (and, in production, the CDN): trust its X-Forwarded-Proto.
provider.proxy = true;
provider.on('server_error', (ctx, err) => log(`server_error ${ctx.method} ${ctx.path}: ${err.message}`));

const edge = wireEdgeLogout(provider, {
  adminUrl: env('EDGE_LOGOUT_ADMIN_URL'),
  adminToken: env('EDGE_LOGOUT_ADMIN_TOKEN'),
  issuer: ISSUER,
  sessionTtlS: SESSION_TTL_S,
  log,
});

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid, clientName, error) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Sign in</title>
<style>body{font:16px system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}
label,input,button{display:block;width:100%;margin:.3rem 0}input,button{padding:.5rem;font:inherit}
.error{color:#b00020}</style></head>
<body><h1>Sign in</h1><p>to continue to ${escapeHtml(clientName)}</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form id="login-form" method="post" action="/interaction/${escapeHtml(uid)}/login">
<label>User <input name="login" autocomplete="username" placeholder="alice or bob" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form></body></html>`;
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 16_384) throw new Error('form too large');
  }
  return Object.fromEntries(new URLSearchParams(body));
}

function passwordOk(given) {
  const g = Buffer.from(given ?? '');
  return g.length === PASSWORD.length && timingSafeEqual(g, PASSWORD);
}

// The interaction pages: node-oidc-provider sends the browser to /interaction/{uid}.
async function interaction(req, res) {
  const { uid, prompt, params } = await provider.interactionDetails(req, res);
  const client = await provider.Client.find(params.client_id);
  const name = client?.clientName ?? params.client_id;
  const html = (status, body) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(body);
  };
  if (prompt.name !== 'login') throw new Error(`unexpected prompt ${prompt.name}`);
  if (req.method === 'GET') return html(200, loginPage(uid, name));
  const form = await readForm(req);
  if (!USERS[form.login] || !passwordOk(form.password)) {
    return html(401, loginPage(uid, name, 'Unknown user or wrong password.'));
  }
  log(`${form.login} signed in (interaction ${uid})`);
  await provider.interactionFinished(req, res, { login: { accountId: form.login } }, { mergeWithLastSubmission: false });
}

const oidc = provider.callback();
const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, ISSUER).pathname;
  try {
    if (path === EVENTS_PATH && req.method === 'POST') return await edge.sessionEvents(req, res);
    if (/^\/interaction\/[^/]+(\/login)?$/.test(path) && ['GET', 'POST'].includes(req.method)) {
      return await interaction(req, res);
    }
  } catch (e) {
    log(`${req.method} ${path}: ${e.message}`);
    if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
    return res.end(`Sign-in failed: ${e.message}\n`);
  }
  oidc(req, res);
});
server.listen(PORT, '127.0.0.1', () => log(`node-oidc-provider for ${ISSUER} on 127.0.0.1:${PORT}`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)));
