// Signs and POSTs a batch of back-channel deliveries in one call from the worker's wasm
// (src/protocol/backchannel/delivery.rs builds the batch, src/edge/fetch.rs crosses): done from Rust, each delivery crossed between wasm and JS about twenty
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
    // Not cached: the next call brings the JWK (src/protocol/backchannel/delivery.rs hands it over again).
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

/**
 * One job, once a connection is free: signed, then POSTed with its timeout timed from now (not
 * from when the batch began: a job that waited for a slot still gets its whole timeout, cut only
 * by the deadline of the batch). The answer's body is cancelled so that the slot frees at once.
 */
async function one(job, keys, timeoutMs, deadlineAt) {
  const started = Date.now();
  const done = (outcome) => ({ ...outcome, ms: Date.now() - started });
  if (deadlineAt <= started) return done({ kind: 'unsent' });
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
      signal: AbortSignal.timeout(Math.max(1, Math.min(timeoutMs, deadlineAt - Date.now()))),
    });
  } catch (e) {
    return done({ kind: 'invalid', error: `bad backchannel_logout_uri: ${String(e?.message ?? e).slice(0, 200)}` });
  }
  try {
    const res = await fetch(request);
    // Nothing reads the body: cancelled, or the connection would keep its slot.
    await res.body?.cancel().catch(() => {});
    return done({ kind: 'answer', status: res.status, retryAfter: res.headers.get('retry-after')?.slice(0, 64) ?? null });
  } catch (e) {
    if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return done({ kind: 'timeout' });
    return done({ kind: 'network', error: String(e?.message ?? e).slice(0, 200) });
  }
}

/**
 * `batch`: JSON of {jobs: [{uri, kid, alg, input, contentType, bodyPrefix, signature?}], keys:
 * {kid: {private, public}} for kids not imported yet, timeoutMs (each job, from its send),
 * deadlineMs (all of them, from now), connections (at most this many POSTs open at once: the
 * platform's six per invocation, src/budget.rs)}. Answers JSON of one outcome per job, in
 * order: {kind: answer|timeout|network|unsigned|nokey|invalid|unsent, status?, retryAfter?,
 * error?, ms}; `unsent`: no connection came free before the deadline.
 */
export async function signAndPost(batch) {
  const { jobs, keys, timeoutMs, deadlineMs = timeoutMs, connections = 6 } = JSON.parse(batch);
  const deadlineAt = Date.now() + deadlineMs;
  const outcomes = new Array(jobs.length);
  let next = 0;
  // `connections` lanes, each taking the next job when its previous one is answered: never
  // more than `connections` POSTs open, and each sent as soon as a slot is free.
  async function lane() {
    while (next < jobs.length) {
      const i = next++;
      outcomes[i] = await one(jobs[i], keys, timeoutMs, deadlineAt);
    }
  }
  const lanes = Math.max(1, Math.min(connections, jobs.length));
  await Promise.all(Array.from({ length: lanes }, lane));
  return JSON.stringify(outcomes);
}
