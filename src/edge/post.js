// Signs and POSTs a batch of back-channel deliveries in one call from the worker's wasm
// (src/edge/notify.rs): done from Rust, each delivery crossed between wasm and JS about twenty
// times (the SubtleCrypto object, the algorithm, the signature's bytes, Headers, RequestInit,
// Request, AbortController, a timer, the response's headers), which cost more CPU than the
// signature itself (bench/, table 5). Rust decides everything: the token's signing input, the
// body around it, the URI, the timeout and what an answer means; this only does the I/O.
//
// Keys are imported once per isolate, and a signing key is used only if a probe signature
// verifies with its published public members (fail closed: a mismatched SIGNING_JWKS entry would
// sign tokens that no relying party could verify).

const ALGS = {
  RS256: { importAlg: { name: 'RSASSA-PKCS1-v1_5', hash: { name: 'SHA-256' } }, signAlg: { name: 'RSASSA-PKCS1-v1_5' } },
  ES256: { importAlg: { name: 'ECDSA', namedCurve: 'P-256' }, signAlg: { name: 'ECDSA', hash: { name: 'SHA-256' } } },
  EdDSA: { importAlg: { name: 'Ed25519' }, signAlg: { name: 'Ed25519' } },
};
const PROBE = new TextEncoder().encode('edge-logout key check');
const encoder = new TextEncoder();

/** kid -> Promise of the checked private CryptoKey, or of an error message. */
const signers = new Map();

async function importChecked(alg, privateJwk, publicJwk) {
  const a = ALGS[alg];
  const key = await crypto.subtle.importKey('jwk', privateJwk, a.importAlg, false, ['sign']);
  const pub = await crypto.subtle.importKey('jwk', publicJwk, a.importAlg, false, ['verify']);
  const probe = await crypto.subtle.sign(a.signAlg, key, PROBE);
  if (!(await crypto.subtle.verify(a.signAlg, pub, probe, PROBE))) {
    throw new Error('its signatures do not verify with its public members: fix SIGNING_JWKS');
  }
  return key;
}

/** The checked key of `kid`; `keys` holds the JWKs of kids this isolate has not imported yet. */
function signer(kid, alg, keys) {
  let p = signers.get(kid);
  if (!p) {
    const jwk = keys[kid];
    // Not cached: the next call brings the JWK (src/edge/notify.rs hands it over again).
    if (!jwk) return Promise.resolve({ nokey: true });
    p = importChecked(alg, jwk.private, jwk.public).then(
      (key) => ({ key }),
      (e) => {
        console.error(JSON.stringify({ event: 'signing_key_unusable', key: kid, alg, error: String(e?.message ?? e).slice(0, 200) }));
        return { error: `WebCrypto could not use the key ${kid}` };
      },
    );
    signers.set(kid, p);
  }
  return p;
}

function b64url(buffer) {
  let s = '';
  const bytes = new Uint8Array(buffer);
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

async function one(job, keys, timeoutMs) {
  const started = Date.now();
  const done = (outcome) => ({ ...outcome, ms: Date.now() - started });
  let signature = job.signature;
  if (signature === undefined) {
    const s = await signer(job.kid, job.alg, keys);
    if (s.nokey) return done({ kind: 'nokey' });
    if (s.error) return done({ kind: 'unsigned', error: s.error });
    try {
      signature = b64url(await crypto.subtle.sign(ALGS[job.alg].signAlg, s.key, encoder.encode(job.input)));
    } catch (e) {
      return done({ kind: 'unsigned', error: `WebCrypto could not sign with ${job.kid}: ${String(e?.message ?? e).slice(0, 200)}` });
    }
  }
  let request;
  try {
    request = new Request(job.uri, {
      method: 'POST',
      headers: { 'content-type': job.contentType },
      body: `${job.bodyPrefix}${job.input}.${signature}`,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    return done({ kind: 'invalid', error: `bad backchannel_logout_uri: ${String(e?.message ?? e).slice(0, 200)}` });
  }
  try {
    const res = await fetch(request);
    return done({ kind: 'answer', status: res.status, retryAfter: res.headers.get('retry-after')?.slice(0, 64) ?? null });
  } catch (e) {
    if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return done({ kind: 'timeout' });
    return done({ kind: 'network', error: String(e?.message ?? e).slice(0, 200) });
  }
}

/**
 * `batch`: JSON of {jobs: [{uri, kid, alg, input, contentType, bodyPrefix, signature?}], keys:
 * {kid: {private, public}} for kids not imported yet, timeoutMs}. Answers JSON of one outcome per
 * job, in order: {kind: answer|timeout|network|unsigned|nokey|invalid, status?, retryAfter?,
 * error?, ms}.
 */
export async function signAndPost(batch) {
  const { jobs, keys, timeoutMs } = JSON.parse(batch);
  return JSON.stringify(await Promise.all(jobs.map((job) => one(job, keys, timeoutMs))));
}
