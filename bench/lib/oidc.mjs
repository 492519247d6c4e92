// What a logout needs on our side: clients registered through the admin API, sessions created
// through it (cookie + sid), and id_token_hints minted with the worker's own keys (jose).
import * as jose from 'jose';

import { json, pool } from './load.mjs';

/** The admin API of a started worker. */
export function adminApi(url, token) {
  return (method, p, body) => json(method, url + p, body, { authorization: `Bearer ${token}` });
}

/**
 * Registers `clients` ([{id, alg, backchannel: bool}]); back-channel URIs are
 * `${rpUrl}/bc/${id}` (every client its own path on one receiver).
 */
export async function registerClients(admin, rpUrl, clients) {
  await pool(clients, 8, async (c) => {
    const body = {
      redirect_uris: [`${rpUrl}/cb/${c.id}`],
      post_logout_redirect_uris: [`${rpUrl}/logged-out/${c.id}`],
      id_token_signed_response_alg: c.alg,
      client_name: `bench ${c.id}`,
    };
    if (c.backchannel) {
      body.backchannel_logout_uri = `${rpUrl}/bc/${c.id}`;
      body.backchannel_logout_session_required = true;
    }
    const r = await admin('PUT', `/admin/clients/${encodeURIComponent(c.id)}`, body);
    if (r.status !== 200 && r.status !== 201) throw new Error(`PUT client ${c.id}: ${r.status} ${r.body}`);
  }, 120_000);
}

/** Creates `n` sessions of `clientIds` (untimed), for subjects `sub(i)`. */
export async function createSessions(admin, n, clientIds, sub = (i) => `user-${i}`, concurrency = 16) {
  const out = new Array(n).fill(null);
  let errors = 0;
  const t0 = Date.now();
  const res = await pool([...Array(n).keys()], concurrency, async (i) => {
    const r = await admin('POST', '/admin/sessions', { sub: sub(i), clients: clientIds });
    if (r.status !== 201) {
      errors += 1;
      if (errors < 4) console.error(`  POST /admin/sessions: ${r.status} ${r.body.slice(0, 200)}`);
      return;
    }
    out[i] = { sid: r.json.sid, sub: r.json.sub, cookie: `${r.json.cookie_name}=${r.json.cookie}`, clients: clientIds };
  }, 180_000);
  return { sessions: out.filter(Boolean), errors, seconds: (Date.now() - t0) / 1000, stoppedByDeadline: res.stoppedByDeadline };
}

/** Signs id_token_hints with the worker's private keys (SIGNING_JWKS), by alg. */
export async function hintMinter(vars) {
  const jwks = JSON.parse(vars.SIGNING_JWKS);
  const keys = {};
  for (const jwk of jwks.keys) keys[jwk.alg] = { kid: jwk.kid, key: await jose.importJWK(jwk, jwk.alg) };
  const issuer = vars.ISSUER;
  return async function mint({ alg, clientId, sub, sid, iss = issuer }) {
    const k = keys[alg];
    if (!k) throw new Error(`no ${alg} key`);
    const now = Math.floor(Date.now() / 1000);
    return new jose.SignJWT({ sid, auth_time: now - 60 })
      .setProtectedHeader({ alg, kid: k.kid, typ: 'JWT' })
      .setIssuer(iss)
      .setAudience(clientId)
      .setSubject(sub)
      .setIssuedAt(now - 60)
      .setExpirationTime(now + 3600)
      .sign(k.key);
  };
}

/** Verifies logout tokens against the worker's public JWKS (a sample, as proof of correctness). */
export async function verifyLogoutTokens(jwksUrl, issuer, tokens) {
  const jwks = jose.createLocalJWKSet((await json('GET', jwksUrl)).json);
  let ok = 0;
  const errors = [];
  for (const { token } of tokens) {
    try {
      const { payload } = await jose.jwtVerify(token, jwks, { issuer, typ: 'logout+jwt' });
      const ev = payload.events?.['http://schemas.openid.net/event/backchannel-logout'];
      if (!ev || payload.nonce !== undefined || !payload.jti || !payload.sid) throw new Error('claims');
      ok += 1;
    } catch (e) {
      if (errors.length < 3) errors.push(e.message);
    }
  }
  return { checked: tokens.length, ok, errors };
}
