// The operator's part: what ties node-oidc-provider (the login half) to edge-logout (the logout
// half) under one issuer. Everything else in this folder is a demo around it.
//
//   const edge = wireEdgeLogout(provider, { adminUrl, adminToken, issuer });
//   http.createServer((req, res) => req.url === EVENTS_PATH ? edge.sessionEvents(req, res) : provider.callback()(req, res));
//
// What it does:
// - one sid: node-oidc-provider 9 gives each client its own `sid` (and puts it in ID tokens only
//   for its own back-channel clients); edge-logout has one per session. Every client's `sid`
//   becomes the provider session's `uid`, which is the edge-logout session's `sid` too, and every
//   ID token carries it (so hints and logout tokens name the session the RPs hold).
// - at every authorization that issues a code, records the client in the edge-logout session
//   (`PUT /admin/sessions/{sid}/clients/{client_id}`), creating the session on the first one
//   (`POST /admin/sessions`) and setting its `op_session` cookie on the issuer's origin.
// - session-ended events (SESSION_EVENTS_URI): verified against the issuer's jwks_uri, they
//   destroy the provider session with that uid and revoke its grants.
// - before every authorization request, the browser's provider session is checked against
//   edge-logout (`GET /admin/sessions/{sid}`): the event is asynchronous (and retried for
//   minutes when the login half is down), so a silent re-login in between must not be possible.
import * as jose from 'jose';

export const EVENTS_PATH = '/edge-logout/session-ended';
export const SESSION_ENDED = 'urn:edge-logout:event:session-ended';
// Why edge-logout ended a session. Each one ends the provider session the same way: the user
// logged out (rp_logout), an operator ended it (admin_logout_session, admin_logout_subject), or it
// reached its expiry (expired: edge-logout's cron ends it within 10 minutes of the expires_in the
// login half gave, telling the relying parties too). A reason added later ends it all the same.
export const END_REASONS = new Set(['rp_logout', 'admin_logout_session', 'admin_logout_subject', 'expired']);
// The routes of node-oidc-provider that may issue a code for an existing session, and their path
// (its default `routes.authorization`; resume is below it).
const AUTHORIZATION_ROUTES = new Set(['authorization', 'resume']);
const AUTHORIZATION_PATH = '/auth';

/** The part of a client registration each half needs: {login, logout}. */
export function splitClient(client) {
  const { post_logout_redirect_uris, backchannel_logout_uri, client_uri, ...login } = client;
  const logout = {
    redirect_uris: client.redirect_uris,
    post_logout_redirect_uris,
    backchannel_logout_uri,
    backchannel_logout_session_required: true,
    id_token_signed_response_alg: client.id_token_signed_response_alg ?? 'RS256',
    client_name: client.client_name,
    client_uri,
  };
  return { login, logout };
}

/** An admin API client of edge-logout (server to server, never through the browser). */
export function edgeLogoutAdmin(adminUrl, adminToken) {
  return async function call(method, path, body) {
    const res = await fetch(adminUrl + path, {
      method,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {}
    return { status: res.status, json };
  };
}

/**
 * Wires `provider` (a node-oidc-provider 9 Provider whose issuer is `issuer`) to edge-logout.
 * Options: `adminUrl` (edge-logout's origin as this server reaches it), `adminToken`, `issuer`,
 * `audience` (SESSION_EVENTS_AUDIENCE; default the events URI `${issuer}${EVENTS_PATH}`),
 * `sessionTtlS` (the edge-logout session's lifetime: node-oidc-provider's ttl.Session),
 * `log` (one line per session event). Returns {sessionEvents(req, res)}.
 */
export function wireEdgeLogout(provider, { adminUrl, adminToken, issuer, audience, sessionTtlS = 86400, log = () => {} }) {
  const admin = edgeLogoutAdmin(adminUrl, adminToken);
  const secure = new URL(issuer).protocol === 'https:';

  // One sid per session: every client's sid is the session's uid, and every ID token has it
  // (node-oidc-provider puts `sid` in only for its own back-channel clients, disabled here).
  provider.Session.prototype.ensureClientContainer = function ensureClientContainer(clientId) {
    this.sidFor(clientId, this.uid);
  };
  provider.Client.prototype.includeSid = () => true;

  // Before: a browser whose provider session edge-logout no longer knows (ended, expired) signs
  // in again. Destroying the session here makes node-oidc-provider start a new one (new uid).
  provider.use(async (ctx, next) => {
    if (ctx.path === AUTHORIZATION_PATH || ctx.path.startsWith(`${AUTHORIZATION_PATH}/`)) {
      const session = await provider.Session.get(ctx);
      if (session.accountId && !(await alive(session.uid))) {
        await session.destroy();
        log(`session ${session.uid} is over at edge-logout: sign-in required`);
      }
    }
    await next();
    if (AUTHORIZATION_ROUTES.has(ctx.oidc?.route) && ctx.oidc.entities?.AuthorizationCode) {
      await record(ctx);
    }
  });

  async function alive(sid) {
    const r = await admin('GET', `/admin/sessions/${encodeURIComponent(sid)}`);
    if (r.status === 200) return true;
    if (r.status === 404) return false;
    throw new Error(`edge-logout answered ${r.status} to GET /admin/sessions/{sid}`);
  }

  // After a code was issued: the client is in the edge-logout session before its ID token exists.
  async function record(ctx) {
    const { session, client } = ctx.oidc;
    const sid = encodeURIComponent(session.uid);
    const clientId = encodeURIComponent(client.clientId);
    let r = await admin('PUT', `/admin/sessions/${sid}/clients/${clientId}`);
    if (r.status === 404) {
      r = await admin('POST', '/admin/sessions', {
        sid: session.uid,
        sub: session.accountId,
        clients: [client.clientId],
        expires_in: sessionTtlS,
      });
      if (r.status === 201) {
        ctx.cookies.set(r.json.cookie_name, r.json.cookie, {
          httpOnly: true,
          secure,
          sameSite: 'lax',
          path: '/',
          signed: false,
          overwrite: true,
        });
        return;
      }
    }
    if (r.status !== 200) {
      // No code reaches the client of a session edge-logout cannot end (or has ended).
      await session.destroy();
      throw new Error(`edge-logout refused the session (${r.status} ${r.json?.error ?? ''}): sign in again`);
    }
  }

  const jwks = jose.createRemoteJWKSet(new URL(`${issuer}/jwks`));
  const aud = audience ?? `${issuer}${EVENTS_PATH}`;

  /** The SESSION_EVENTS_URI endpoint: RFC 8417 SETs, pushed (RFC 8935). */
  async function sessionEvents(req, res) {
    let body = '';
    for await (const chunk of req) {
      body += chunk;
      if (body.length > 16_384) return res.writeHead(413).end();
    }
    let ended;
    try {
      const { payload } = await jose.jwtVerify(body, jwks, {
        algorithms: ['RS256'],
        typ: 'secevent+jwt',
        issuer,
        audience: aud,
      });
      ended = payload.events?.[SESSION_ENDED];
      if (typeof ended?.sid !== 'string') throw new Error('no session-ended event');
    } catch (e) {
      log(`refused a session event: ${e.message}`);
      return res.writeHead(400).end();
    }
    try {
      await endProviderSession(ended.sid);
    } catch (e) {
      log(`session event for ${ended.sid} failed: ${e.message}`);
      return res.writeHead(500).end(); // edge-logout retries it
    }
    const known = END_REASONS.has(ended.reason) ? '' : ' (a reason this login half does not know: ended all the same)';
    log(`session ended: sid=${ended.sid} reason=${ended.reason}${known}`);
    res.writeHead(202).end();
  }

  async function endProviderSession(uid) {
    const session = await provider.Session.findByUid(uid);
    if (!session) return; // already gone: events are delivered at least once
    const grantIds = Object.values(session.authorizations ?? {}).map((a) => a.grantId).filter(Boolean);
    await Promise.all(grantIds.flatMap((grantId) => [
      provider.AccessToken.revokeByGrantId(grantId),
      provider.RefreshToken.revokeByGrantId(grantId),
      provider.AuthorizationCode.revokeByGrantId(grantId),
      provider.Grant.adapter.destroy(grantId),
    ]));
    await session.destroy();
  }

  return { sessionEvents };
}
