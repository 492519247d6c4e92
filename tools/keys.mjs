// Key material and worker settings for local runs and tests, generated in memory.
// Only node: built-ins, so that it runs under any Node >= 20 (scripts/dev-vars.mjs uses it too).
import { generateKeyPairSync, randomBytes } from 'node:crypto';

/** A random URL-safe string of `bytes` random bytes (base64url). */
export function randomToken(bytes = 32) {
  return randomBytes(bytes).toString('base64url');
}

function privateJwk(type, options, alg, prefix) {
  const { privateKey } = generateKeyPairSync(type, options);
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: `${prefix}-${randomToken(6)}`, alg, use: 'sig' };
}

/**
 * A private signing JWKS: one RSA-2048 (RS256), one P-256 (ES256) and one Ed25519 (EdDSA) key,
 * each with "kid", "alg" and "use": "sig". RS256 comes first: it is the default ID token alg.
 */
export function generateSigningJwks() {
  return {
    keys: [
      privateJwk('rsa', { modulusLength: 2048 }, 'RS256', 'rs256'),
      privateJwk('ec', { namedCurve: 'P-256' }, 'ES256', 'es256'),
      privateJwk('ed25519', undefined, 'EdDSA', 'eddsa'),
    ],
  };
}

/** The public members of a private JWK (what the provider's /jwks must serve). */
export function publicJwk(jwk) {
  const { d, p, q, dp, dq, qi, oth, k, ...pub } = jwk;
  return pub;
}

/** A demo PROVIDER_METADATA object: the login half of the provider lives elsewhere. */
export function demoProviderMetadata(issuer) {
  return {
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    userinfo_endpoint: `${issuer}/userinfo`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    scopes_supported: ['openid', 'profile', 'email'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'private_key_jwt'],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'sid', 'auth_time'],
  };
}

/**
 * A full set of worker settings (all strings) for a local issuer on 127.0.0.1:`port`:
 * ISSUER, ALLOW_HTTP_URIS=true, fresh SIGNING_JWKS, a random ADMIN_TOKEN and, unless
 * `providerMetadata` is false, a PROVIDER_METADATA (the demo one unless an object is given).
 * Also returns the parsed `jwks` for tests that sign or compare keys.
 */
export function generateVars({ port = 8787, issuer, providerMetadata } = {}) {
  issuer ??= `http://127.0.0.1:${port}`;
  const jwks = generateSigningJwks();
  const vars = {
    ISSUER: issuer,
    ALLOW_HTTP_URIS: 'true',
    SIGNING_JWKS: JSON.stringify(jwks),
    ADMIN_TOKEN: randomToken(32),
    // The tests post many answers from one address; tests/e2e/rate-limits.test.mjs turns the
    // limits on to check them.
    RATE_LIMITS: 'off',
  };
  if (providerMetadata !== false) {
    vars.PROVIDER_METADATA = JSON.stringify(providerMetadata ?? demoProviderMetadata(issuer));
  }
  return vars;
}

/**
 * Renders settings as an env file (`.dev.vars` / `--env-file`), one `NAME=value` line each.
 * wrangler parses these with dotenv (and expands `$NAME` in --env-file files): a value must be one
 * line without `$` and must not start with a quote; one with `#` is single-quoted.
 */
export function toEnvFile(vars, header = []) {
  const lines = header.map((h) => `# ${h}`);
  for (const [name, value] of Object.entries(vars)) {
    if (value === undefined || value === null) continue;
    const v = String(value);
    if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error(`bad variable name ${name}`);
    if (/[\r\n$]/.test(v) || /^\s|\s$/.test(v) || /^['"`]/.test(v) || (v.includes('#') && v.includes("'"))) {
      throw new Error(`${name}: value cannot be written to an env file: ${v.slice(0, 40)}`);
    }
    // dotenv reads `#` as a comment unless the value is quoted (single quotes: taken literally).
    lines.push(v.includes('#') ? `${name}='${v}'` : `${name}=${v}`);
  }
  return lines.join('\n') + '\n';
}

/** Parses the simple env files written by toEnvFile (and hand-edited ones with quotes). */
export function parseEnvFile(text) {
  const vars = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2];
    const quoted = /^(['"`])([\s\S]*)\1$/.exec(value);
    if (quoted) value = quoted[1] === '"' ? quoted[2].replace(/\\n/g, '\n') : quoted[2];
    else value = value.replace(/\s+#.*$/, '').trim();
    vars[m[1]] = value;
  }
  return vars;
}
