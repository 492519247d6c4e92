// Helpers for the logout end-to-end tests: discovery, ID tokens (valid and forged) minted with
// the worker's own keys, a tiny browser (a cookie jar), end-session requests, the confirmation
// form, and logout-token verification.
//
//   const d = await discover(w);                   // the discovery document
//   const hint = await mintIdToken(w, { alg: 'ES256', sub: 'alice', sid, aud: 'rp1' });
//   const b = new Browser({ op_session: cookie });
//   const r = await endSession(d.end_session_endpoint, { params: { id_token_hint: hint }, browser: b });
//   r.status, r.location, r.text, r.setCookies; b has absorbed r's Set-Cookie headers
import { createHmac, generateKeyPairSync } from 'node:crypto';

import * as jose from 'jose';

import { publicJwk } from '../../tools/keys.mjs';
export { eventually, sleep } from '../../tools/time.mjs';
import { DISCOVERY_PATH } from '../../tools/worker.mjs';

export const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** base64url of a string, or of a value's JSON. */
export const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
export const nowS = () => Math.floor(Date.now() / 1000);

/** The discovery document of worker `w` (asserting nothing but a 200). */
export async function discover(w) {
  const res = await w.request(DISCOVERY_PATH);
  if (res.status !== 200) throw new Error(`discovery answered ${res.status}`);
  return res.json();
}

/**
 * The worker's private signing JWKs by alg: {RS256, ES256, EdDSA}. The rule every helper
 * follows: for an alg, the LAST key of that alg in SIGNING_JWKS (the newest: the one the worker
 * signs logout tokens with; promises.test.mjs checks it with two RS256 keys).
 */
export function signingKeys(w) {
  const out = {};
  for (const k of JSON.parse(w.vars.SIGNING_JWKS).keys) out[k.alg] = k;
  return out;
}

/** A private JWK of a fresh key of `alg` that the worker does not know (kid given or random). */
export function foreignKey(alg, kid) {
  const [type, options] = {
    RS256: ['rsa', { modulusLength: 2048 }],
    ES256: ['ec', { namedCurve: 'P-256' }],
    EdDSA: ['ed25519', undefined],
  }[alg];
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), kid: kid ?? `foreign-${Math.random().toString(36).slice(2)}`, alg };
}

/**
 * An ID token signed with the worker's key of `alg` (see signingKeys: the first of that alg),
 * or with `key`, a private JWK. The only minting helper of the tests. Claims:
 * iss (default the issuer), sub, sid, aud, azp, iat (default a minute ago), exp (default iat
 * + 1 h); `omit` lists claims to leave out, `extra` adds some. `header` adds header members.
 */
export async function mintIdToken(w, { alg = 'RS256', key, sub, sid, aud, azp, iss, iat, exp, extra = {}, omit = [], header = {} } = {}) {
  const jwk = key ?? signingKeys(w)[alg];
  if (!jwk) throw new Error(`no ${alg} key`);
  iat ??= nowS() - 60;
  const claims = { iss: iss ?? w.vars.ISSUER, sub, sid, aud, azp, iat, exp: exp ?? iat + 3600, ...extra };
  for (const name of omit) delete claims[name];
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  const privateKey = await jose.importJWK(jwk, alg);
  return new jose.SignJWT(claims).setProtectedHeader({ alg, kid: jwk.kid, typ: 'JWT', ...header }).sign(privateKey);
}

/** An unsecured JWT (`alg: none`), with the given header members added. */
export function unsignedToken(claims, header = {}) {
  return `${b64({ alg: 'none', ...header })}.${b64(claims)}.`;
}

/** An HS256 JWT whose HMAC secret is `secret` (e.g. a public key's bytes: key confusion). */
export function hmacToken(claims, secret, header = {}) {
  const input = `${b64({ alg: 'HS256', typ: 'JWT', ...header })}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** `jwt` with its payload replaced by `claims` (the signature left as it was). */
export function withPayload(jwt, claims) {
  const [h, , s] = jwt.split('.');
  return `${h}.${b64(claims)}.${s}`;
}

/** The claims of a JWT, unverified. */
export function payloadOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

/** The public JWK JSON of the worker's key of `alg`, as bytes an attacker can get from /jwks. */
export function publicKeyBytes(w, alg = 'RS256') {
  return JSON.stringify(publicJwk(signingKeys(w)[alg]));
}

/** Parses one Set-Cookie value: {name, value, attrs (lower-case names)}. */
export function parseSetCookie(line) {
  const [pair, ...rest] = line.split(';');
  const i = pair.indexOf('=');
  const attrs = {};
  for (const a of rest) {
    const j = a.indexOf('=');
    const k = (j < 0 ? a : a.slice(0, j)).trim().toLowerCase();
    attrs[k] = j < 0 ? true : a.slice(j + 1).trim();
  }
  return { name: pair.slice(0, i).trim(), value: pair.slice(i + 1).trim(), attrs };
}

/** A browser, as far as the end-session endpoint can tell: a cookie jar for one origin. */
export class Browser {
  constructor(cookies = {}) {
    this.jar = new Map(Object.entries(cookies));
  }

  get(name) {
    return this.jar.get(name);
  }

  set(name, value) {
    this.jar.set(name, value);
  }

  /** The Cookie header, or undefined for an empty jar. */
  header() {
    if (this.jar.size === 0) return undefined;
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** Applies the Set-Cookie headers of a response (Max-Age=0 or an empty value deletes). */
  absorb(setCookies) {
    for (const line of setCookies) {
      const c = parseSetCookie(line);
      if (c.value === '' || c.attrs['max-age'] === '0') this.jar.delete(c.name);
      else this.jar.set(c.name, c.value);
    }
  }
}

function encodeParams(params) {
  if (params === undefined) return '';
  if (typeof params === 'string') return params;
  const pairs = Array.isArray(params) ? params : Object.entries(params);
  return new URLSearchParams(pairs.filter(([, v]) => v !== undefined)).toString();
}

/**
 * One request to the end-session endpoint `endpoint` (absolute URL). `params`: an object, a
 * list of pairs, or a raw (already encoded) query/body string. GET puts them in the query,
 * POST in an application/x-www-form-urlencoded body (`rawBody`: a Buffer or string sent as
 * is). `browser`: sends its cookies and absorbs the answer's. `accept`: the Accept header.
 * Returns {status, headers, text, location, setCookies, contentType, ms, headersAt, receivedAt}.
 */
export async function endSession(endpoint, { method = 'GET', params, rawBody, browser, accept, headers = {}, timeoutMs = 20_000 } = {}) {
  const h = { ...headers };
  const cookie = browser?.header();
  if (cookie) h.cookie = cookie;
  if (accept) h.accept = accept;
  let url = endpoint;
  let body;
  if (method === 'GET') {
    const q = encodeParams(params);
    if (q) url += (url.includes('?') ? '&' : '?') + q;
  } else {
    body = rawBody ?? encodeParams(params);
    h['content-type'] ??= 'application/x-www-form-urlencoded';
  }
  const started = Date.now();
  const res = await fetch(url, { method, headers: h, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  // When the status line and headers were here: a worker that answers before it has heard back
  // from a relying party shows it here (compare with the RP stub's `answeredAt`).
  const headersAt = Date.now();
  const text = await res.text();
  const ms = Date.now() - started;
  const setCookies = res.headers.getSetCookie();
  browser?.absorb(setCookies);
  return {
    status: res.status,
    headers: res.headers,
    text,
    location: res.headers.get('location'),
    setCookies,
    contentType: res.headers.get('content-type') ?? '',
    ms,
    headersAt,
    receivedAt: Date.now(),
  };
}

function htmlUnescape(s) {
  return s.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))).replace(/&amp;/g, '&').replace(/&quot;/g, '"');
}

/** The confirmation form of a page: {action, token, buttons} or null when there is none. */
export function confirmationForm(html) {
  const form = /<form method="post" action="([^"]*)">([\s\S]*?)<\/form>/.exec(html);
  if (!form) return null;
  const token = /<input type="hidden" name="confirm" value="([^"]*)">/.exec(form[2]);
  const buttons = [...form[2].matchAll(/<button type="submit" name="logout" value="([^"]*)"/g)].map((m) => m[1]);
  return { action: htmlUnescape(form[1]), token: token ? htmlUnescape(token[1]) : null, buttons };
}

/**
 * Verifies a logout token as a strict relying party does: signature against `jwks` (the JSON
 * of the provider's jwks_uri), only `alg`, typ logout+jwt, issuer, audience. Returns
 * {payload, protectedHeader}; throws on any failure.
 */
export async function verifyLogoutToken(token, { jwks, alg, issuer, audience }) {
  return jose.jwtVerify(token, jose.createLocalJWKSet(jwks), {
    algorithms: [alg],
    typ: 'logout+jwt',
    issuer,
    audience,
    maxTokenAge: '5 minutes',
    clockTolerance: 5,
  });
}

/** The event type of edge-logout's session-ended Security Event Tokens. */
export const SESSION_ENDED_EVENT = 'urn:edge-logout:event:session-ended';

/**
 * Verifies a session-ended Security Event Token as the login system should: signature against
 * `jwks`, RS256 only, typ secevent+jwt, issuer, audience. Returns {payload, protectedHeader}.
 */
export async function verifySessionEvent(token, { jwks, issuer, audience }) {
  return jose.jwtVerify(token, jose.createLocalJWKSet(jwks), {
    algorithms: ['RS256'],
    typ: 'secevent+jwt',
    issuer,
    audience,
    maxTokenAge: '5 minutes',
    clockTolerance: 5,
  });
}
