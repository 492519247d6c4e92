#!/usr/bin/env node
// Seeds a running local edge-logout with demo data through the admin API, then prints how to
// use it. Run by scripts/dev.sh (with Node 22; needs `jose` from node_modules).
//
//   BASE_URL=http://127.0.0.1:8787 RP_URL=http://127.0.0.1:8788 node scripts/seed-demo.mjs
//
// - clients demo-rp-1 (RS256), demo-rp-2 (ES256), demo-rp-3 (EdDSA), their URIs on the demo RP
//   (tools/rp.mjs) at RP_URL; PUT, so re-running replaces them;
// - a new session of "demo-user" with all three clients;
// - an ID token for demo-rp-1 in that session, signed with the RS256 key of .dev.vars, for
//   trying id_token_hint.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as jose from 'jose';

import { parseEnvFile } from '../tools/keys.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const varsFile = path.join(ROOT, '.dev.vars');
const vars = parseEnvFile(fs.readFileSync(varsFile, 'utf8'));
const port = Number(process.env.PORT || 8787);
const base = (process.env.BASE_URL || `http://127.0.0.1:${port}`).replace(/\/$/, '');
const rpUrl = (process.env.RP_URL || `http://127.0.0.1:${port + 1}`).replace(/\/$/, '');

function fail(message) {
  console.error(`[seed-demo] ${message}`);
  process.exit(1);
}

if (!vars.ADMIN_TOKEN) fail(`${varsFile} has no ADMIN_TOKEN: the admin API is off`);
if (!vars.ISSUER) fail(`${varsFile} has no ISSUER`);
// Routes live under the issuer's path; reach them where this server listens.
const issuer = vars.ISSUER;
const reach = base + new URL(issuer).pathname.replace(/\/$/, '');

async function call(method, p, body) {
  const res = await fetch(reach + p, {
    method,
    headers: {
      authorization: `Bearer ${vars.ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  if (!res.ok) fail(`${method} ${p} answered ${res.status}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const discovery = await fetch(`${reach}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(15_000) });
if (discovery.status !== 200) fail(`discovery answered ${discovery.status}: ${await discovery.text()}`);

const clients = [
  ['demo-rp-1', 'RS256'],
  ['demo-rp-2', 'ES256'],
  ['demo-rp-3', 'EdDSA'],
];
for (const [id, alg] of clients) {
  const at = `${rpUrl}/${id}`;
  await call('PUT', `/admin/clients/${id}`, {
    client_name: `Demo RP ${id.slice(-1)}`,
    redirect_uris: [`${at}/callback`],
    post_logout_redirect_uris: [`${at}/signed-out`],
    backchannel_logout_uri: `${at}/backchannel`,
    backchannel_logout_session_required: true,
    frontchannel_logout_uri: `${at}/frontchannel`,
    frontchannel_logout_session_required: true,
    id_token_signed_response_alg: alg,
  });
}

const session = await call('POST', '/admin/sessions', {
  sub: 'demo-user',
  clients: clients.map(([id]) => id),
});

// An ID token as the login system would have issued it to demo-rp-1 in this session.
const rsa = JSON.parse(vars.SIGNING_JWKS).keys.find((k) => k.alg === 'RS256');
if (!rsa) fail('SIGNING_JWKS in .dev.vars has no RS256 key');
const now = Math.floor(Date.now() / 1000);
const idToken = await new jose.SignJWT({ sid: session.sid })
  .setProtectedHeader({ alg: 'RS256', kid: rsa.kid, typ: 'JWT' })
  .setIssuer(issuer)
  .setAudience('demo-rp-1')
  .setSubject('demo-user')
  .setIssuedAt(now)
  .setExpirationTime(now + 3600)
  .sign(await jose.importJWK(rsa, 'RS256'));

const landing = `${rpUrl}/demo-rp-1/signed-out`;
const endSession = `${reach}/session/end`;
const relVars = path.relative(process.cwd(), varsFile) || '.dev.vars';
const line = '─'.repeat(72);
console.log(`
${line}
edge-logout is running on ${base}${issuer === reach ? '' : `  (issuer ${issuer})`}

  discovery  ${reach}/.well-known/openid-configuration
  JWKS       ${reach}/jwks
  demo RP    ${rpUrl}  (clients ${clients.map(([id, alg]) => `${id}/${alg}`).join(', ')})
  state      .wrangler/state (KV, kept between runs)

Admin API: the bearer token is ADMIN_TOKEN in ${relVars}, e.g.
  curl -s -H "Authorization: Bearer $(sed -n 's/^ADMIN_TOKEN=//p' ${relVars})" ${reach}/admin/clients

Demo session of demo-user (clients demo-rp-1, demo-rp-2, demo-rp-3):
  sid     ${session.sid}
  cookie  ${session.cookie_name}=${session.cookie}
  expires ${new Date(session.expires_at * 1000).toISOString()}

Logout (RP-initiated; send the cookie above with the request):
  ${endSession}?client_id=demo-rp-1&post_logout_redirect_uri=${encodeURIComponent(landing)}&state=demo
With an id_token_hint (demo-rp-1's ID token in this session, valid 1 h):
  ${endSession}?id_token_hint=${idToken}&post_logout_redirect_uri=${encodeURIComponent(landing)}&state=demo
${line}`);
