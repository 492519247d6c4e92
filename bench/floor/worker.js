// The floor worker (see wrangler.toml beside it). Every route does one kind of work `n` times
// per request, so that its CPU per unit is (CPU per request - CPU of /noop) / n:
//   GET /noop                          nothing (the runtime's cost of one request)
//   GET /sign?alg=RS256&n=16           n WebCrypto signatures of logout-token-sized JWS inputs
//   GET /verify?alg=RS256&n=16         n WebCrypto verifications of ID-token-sized JWS
//   GET /kv?op=get|put|delete&n=8      n KV operations, one after the other (as the worker does)
//   GET /kv?op=getpar&n=32             n KV gets at once
//   GET /kv?op=bulk&n=100              one bulk read of n client records (as the worker reads a session's
//                                      clients; written first by GET /kv?op=seed&n=100)
//   GET /fetch?n=3&to=URL              n POSTs of a logout-token-sized form body, in parallel
//   GET /queue?n=100                   n delivery-sized messages sent in batches of 100
//   GET /log?n=8                       n console.log lines of a ~200-byte JSON (as the worker logs)
//   GET /logout?sid=S&to=URL           the twin of one complete logout of the peer's mix: the same
//                                      platform calls as the worker makes, in the same order, in
//                                      plain JS (see twinLogout); sessions written first by
//                                      GET /kv?op=sessions&from=I&n=N (sids twin-I...)
// Keys are imported once per isolate, as the worker does (src/edge/signer.rs).
// With the var STORE=memory (bench/phases/isolate.mjs, issue 23 item 1), KV is a Map in this
// isolate (memoryKv), as the worker's bench-memory build keeps its state; the queue stays real
// in both, as do WebCrypto and the POSTs.

const ALGS = {
  RS256: { importAlg: { name: 'RSASSA-PKCS1-v1_5', hash: { name: 'SHA-256' } }, signAlg: { name: 'RSASSA-PKCS1-v1_5' } },
  ES256: { importAlg: { name: 'ECDSA', namedCurve: 'P-256' }, signAlg: { name: 'ECDSA', hash: { name: 'SHA-256' } } },
  EdDSA: { importAlg: { name: 'Ed25519' }, signAlg: { name: 'Ed25519' } },
};
const PRIVATE = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'];

let keysPromise = null;

async function importKeys(jwksText) {
  const out = {};
  for (const jwk of JSON.parse(jwksText).keys) {
    const a = ALGS[jwk.alg];
    if (!a) continue;
    const priv = await crypto.subtle.importKey('jwk', jwk, a.importAlg, false, ['sign']);
    const pubJwk = Object.fromEntries(Object.entries(jwk).filter(([k]) => !PRIVATE.includes(k)));
    const pub = await crypto.subtle.importKey('jwk', pubJwk, a.importAlg, false, ['verify']);
    out[jwk.alg] = { kid: jwk.kid, priv, pub, signAlg: a.signAlg, samples: null };
  }
  return out;
}

const enc = new TextEncoder();
const b64u = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const b64uText = (s) => b64u(enc.encode(s));
const random = (n) => b64u(crypto.getRandomValues(new Uint8Array(n)));

/** A logout token's signing input, as src/backchannel.rs builds it (same members and sizes). */
function logoutSigningInput(alg, kid) {
  const now = Math.floor(Date.now() / 1000);
  const header = JSON.stringify({ alg, kid, typ: 'logout+jwt' });
  const claims = JSON.stringify({
    aud: 'client-a',
    events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
    exp: now + 120,
    iat: now,
    iss: 'http://127.0.0.1:8787',
    jti: random(16),
    sid: random(16),
    sub: 'user-123',
  });
  return `${b64uText(header)}.${b64uText(claims)}`;
}

function idTokenSigningInput(alg, kid) {
  const now = Math.floor(Date.now() / 1000);
  const header = JSON.stringify({ alg, kid, typ: 'JWT' });
  const claims = JSON.stringify({ sid: random(16), auth_time: now, iss: 'http://127.0.0.1:8787', aud: 'client-a', sub: 'user-123', iat: now, exp: now + 3600 });
  return `${b64uText(header)}.${b64uText(claims)}`;
}

async function signN(k, alg, n) {
  const sigs = await Promise.all(
    Array.from({ length: n }, () => crypto.subtle.sign(k.signAlg, k.priv, enc.encode(logoutSigningInput(alg, k.kid)))),
  );
  return sigs.length;
}

async function verifyN(k, alg, n) {
  if (!k.samples) {
    k.samples = [];
    for (let i = 0; i < 8; i++) {
      const input = enc.encode(idTokenSigningInput(alg, k.kid));
      k.samples.push({ input, sig: await crypto.subtle.sign(k.signAlg, k.priv, input) });
    }
  }
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const s = k.samples[i % k.samples.length];
    if (await crypto.subtle.verify(k.signAlg, k.pub, s.sig, s.input)) ok += 1;
  }
  return ok;
}

function clientRecord(id) {
  const rp = `http://127.0.0.1:40000`;
  return JSON.stringify({
    client_id: id, redirect_uris: [`${rp}/cb/${id}`], post_logout_redirect_uris: [`${rp}/logged-out/${id}`],
    backchannel_logout_uri: `${rp}/bc/${id}`, backchannel_logout_session_required: true,
    frontchannel_logout_session_required: false, id_token_signed_response_alg: 'RS256', client_name: `bench ${id}`,
  });
}

async function kv(env, op, n) {
  if (op === 'seed') {
    // Client-sized records (~450 B, as the worker stores them) for the bulk reads.
    await Promise.all(Array.from({ length: Math.min(100, n) }, (_, i) => env.KV.put(`client/floor-${i}`, clientRecord(`floor-${i}`))));
    return n;
  }
  if (op === 'bulk') {
    const found = await env.KV.get(Array.from({ length: Math.min(100, n) }, (_, i) => `client/floor-${i}`));
    return [...found.values()].filter((v) => v !== null).length;
  }
  if (op === 'getpar') {
    await Promise.all(Array.from({ length: n }, (_, i) => env.KV.get(`session/floor-${i % 8}`)));
    return n;
  }
  for (let i = 0; i < n; i++) {
    const key = `session/floor-${i}`;
    if (op === 'get') await env.KV.get(key);
    else if (op === 'put') await env.KV.put(key, JSON.stringify({ sid: key, sub: 'user', clients: ['a', 'b', 'c'] }), { expirationTtl: 3600 });
    else if (op === 'delete') await env.KV.delete(key);
  }
  return n;
}

async function post(to, n) {
  const body = `logout_token=${logoutSigningInput('RS256', 'k')}.${random(256)}`;
  const res = await Promise.all(
    Array.from({ length: n }, () =>
      fetch(to, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body, redirect: 'manual' }),
    ),
  );
  return res.filter((r) => r.status === 200).length;
}

async function enqueue(env, n) {
  const body = { id: random(12), client_id: 'client-a', uri: 'http://127.0.0.1:1/bc/client-a', alg: 'RS256', sub: 'user-123', sid: random(16), attempt: 1, last_error: null };
  for (let i = 0; i < n; i += 100) {
    await env.Q.sendBatch(Array.from({ length: Math.min(100, n - i) }, () => ({ body })));
  }
  return n;
}

const MIX = [['mix-a', 'RS256'], ['mix-b', 'ES256'], ['mix-c', 'RS256']];

async function seedSessions(env, from, n) {
  for (let i = from; i < from + n; i += 100) {
    const writes = [];
    for (let j = i; j < Math.min(i + 100, from + n); j++) {
      const sid = `twin-${j}`;
      const record = JSON.stringify({ sid, sub: `user-${j}`, clients: MIX.map(([id]) => id), created_at: 1764000000, expires_at: 1864000000, secret_hash: random(32) });
      writes.push(env.KV.put(`session/${sid}`, record), env.KV.put(`subject/user-${j}/${sid}`, '1'));
    }
    await Promise.all(writes);
  }
  for (const [id] of MIX) await env.KV.put(`client/${id}`, clientRecord(id));
  return n;
}

/**
 * One logout as src/protocol/logout.rs and src/edge/notify.rs make it, call for call: the
 * session and its tombstone (one bulk read), the hint's signature (WebCrypto), the session's
 * recorded clients (a list), its clients (one bulk read), the outbox written, the re-check
 * queued, the tombstone written, each relying party's token signed and POSTed in parallel (with
 * a timeout), the outbox deleted, the session and its subject index deleted, one log line, and
 * a 303 that clears the cookie. What it leaves out is the worker's own logic: parsing, the
 * decision, JSON, the page; that is what the ratio to this twin measures.
 */
async function twinLogout(env, keys, sid, to) {
  const k = keys.RS256;
  if (!k.samples) await verifyN(k, 'RS256', 1);
  const started = Date.now();
  const [session] = (await env.KV.get([`session/${sid}`, `ended/${sid}`])).values();
  if (!session) return new Response('no session', { status: 400 });
  const hint = k.samples[0];
  if (!(await crypto.subtle.verify(k.signAlg, k.pub, hint.sig, hint.input))) return new Response('bad hint', { status: 400 });
  const s = JSON.parse(session);
  await env.KV.list({ prefix: `member/${sid}/` });
  const clients = [...(await env.KV.get(s.clients.map((id) => `client/${id}`), 'json')).values()];
  const logoutId = random(12);
  const deliveries = clients.map((c, i) => ({ id: `${logoutId}.${i + 1}`, client_id: c.client_id, uri: `${to}/${c.client_id}`, alg: MIX[i][1], sub: s.sub, sid, attempt: 1 }));
  const outbox = `outbox/${logoutId}`;
  await env.KV.put(outbox, JSON.stringify({ logout_id: logoutId, deliveries, recheck: { sid, sub: s.sub }, created_at: started }), { expirationTtl: 86400 });
  await env.Q.send({ logout_id: logoutId, round: 1, sessions: [{ sid, sub: s.sub, notified: s.clients }] }, { delaySeconds: 150 });
  await env.KV.put(`ended/${sid}`, JSON.stringify({ sub: s.sub, at: started }), { expirationTtl: 366 * 86400 });
  const attempts = await Promise.all(deliveries.map(async (d) => {
    const key = keys[d.alg];
    const input = logoutSigningInput(d.alg, key.kid);
    const sig = new Uint8Array(await crypto.subtle.sign(key.signAlg, key.priv, enc.encode(input)));
    const t = Date.now();
    const res = await fetch(d.uri, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `logout_token=${input}.${b64u(sig)}`, redirect: 'manual', signal: AbortSignal.timeout(5000),
    });
    return { event: 'backchannel_attempt', delivery: d.id, client_id: d.client_id, attempt: 1, result: res.status === 200 ? 'delivered' : 'retry', error: null, ms: Date.now() - t };
  }));
  await env.KV.delete(outbox);
  await env.KV.delete(`session/${sid}`);
  await env.KV.delete(`subject/${s.sub}/${sid}`);
  console.log(JSON.stringify({ event: 'end_session', outcome: 'signed_out', sessions: 1, attempts }));
  return new Response(null, {
    status: 303,
    headers: { location: `${to}/logged-out?state=x`, 'set-cookie': 'op_session=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax', 'cache-control': 'no-store' },
  });
}

/**
 * KV's calls the twin makes (get of one key or of an array, as text or JSON; put; delete; list
 * by prefix), answered from a Map in this isolate: the twin without the local KV simulator.
 */
function memoryKv() {
  const data = new Map();
  // Keys by their folder (up to the last '/'), so that a list of `member/<sid>/` is not a scan of all.
  const folders = new Map();
  const folder = (key) => key.slice(0, key.lastIndexOf('/') + 1);
  const read = (key, type) => {
    const v = data.get(key);
    if (v === undefined) return null;
    return type === 'json' || type?.type === 'json' ? JSON.parse(v) : v;
  };
  return {
    async get(key, type) {
      if (Array.isArray(key)) return new Map(key.map((k) => [k, read(k, type)]));
      return read(key, type);
    },
    async put(key, value) {
      data.set(key, String(value));
      const f = folder(key);
      if (!folders.has(f)) folders.set(f, new Set());
      folders.get(f).add(key);
    },
    async delete(key) {
      data.delete(key);
      folders.get(folder(key))?.delete(key);
    },
    async list({ prefix = '', limit = 1000 } = {}) {
      const among = prefix.endsWith('/') ? [...(folders.get(prefix) ?? [])] : [...data.keys()].filter((k) => k.startsWith(prefix));
      return { keys: among.sort().slice(0, limit).map((name) => ({ name })), list_complete: true };
    },
  };
}

let memory = null;

export default {
  async fetch(request, env) {
    if (env.STORE === 'memory') {
      memory ??= memoryKv();
      env = { ...env, KV: memory };
    }
    const url = new URL(request.url);
    const n = Math.min(256, Math.max(1, Number(url.searchParams.get('n') ?? 1)));
    const alg = url.searchParams.get('alg') ?? 'RS256';
    try {
      switch (url.pathname) {
        case '/noop':
          return new Response(null, { status: 204 });
        case '/sign': {
          keysPromise ??= importKeys(env.SIGNING_JWKS);
          const k = (await keysPromise)[alg];
          return new Response(String(await signN(k, alg, n)));
        }
        case '/verify': {
          keysPromise ??= importKeys(env.SIGNING_JWKS);
          const k = (await keysPromise)[alg];
          return new Response(String(await verifyN(k, alg, n)));
        }
        case '/logout': {
          const to = url.searchParams.get('to');
          if (!to || !to.startsWith('http://127.0.0.1:')) return new Response('loopback only', { status: 400 });
          keysPromise ??= importKeys(env.SIGNING_JWKS);
          return await twinLogout(env, await keysPromise, url.searchParams.get('sid'), to);
        }
        case '/kv':
          if (url.searchParams.get('op') === 'sessions') {
            return new Response(String(await seedSessions(env, Number(url.searchParams.get('from') ?? 0), Math.min(5000, Number(url.searchParams.get('n') ?? 1)))));
          }
          return new Response(String(await kv(env, url.searchParams.get('op'), n)));
        case '/log':
          for (let i = 0; i < n; i++) {
            console.log(JSON.stringify({ event: 'backchannel_attempt', delivery: random(12), client_id: 'client-a', attempt: 1, result: 'delivered', error: null, ms: 3 }));
          }
          return new Response(String(n));
        case '/queue':
          return new Response(String(await enqueue(env, Math.min(1000, Number(url.searchParams.get('n') ?? 1)))));
        case '/fetch': {
          const to = url.searchParams.get('to');
          if (!to || !to.startsWith('http://127.0.0.1:')) return new Response('loopback only', { status: 400 });
          return new Response(String(await post(to, n)));
        }
        default:
          return new Response('not found', { status: 404 });
      }
    } catch (e) {
      return new Response(String(e?.stack ?? e), { status: 500 });
    }
  },
};
