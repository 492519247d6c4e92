// src/edge/post.js, the worker's JS helper that signs and POSTs back-channel deliveries, run on
// its own in Node 22 (same WebCrypto, fetch and Request APIs as workerd) against a local
// receiver: what it sends, and each outcome it reports to the Rust side.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';

import { compactVerify, importJWK } from 'jose';

import { signAndPost } from '../../src/edge/post.js';
import { generateSigningJwks, publicJwk } from '../../tools/keys.mjs';

const jwks = generateSigningJwks();
const keyOf = (alg) => jwks.keys.find((k) => k.alg === alg);
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const input = (alg, kid) => `${b64({ alg, kid, typ: 'logout+jwt' })}.${b64({ iss: 'https://id.example', aud: 'rp', jti: kid + Math.random() })}`;

describe('post.js: sign and POST a batch of deliveries', () => {
  let server;
  let base;
  const got = [];
  // Open requests at the receiver (from its start to its response's end or close), the most at
  // once, and how each ended.
  let open = 0;
  let mostOpen = 0;
  const closes = [];
  before(async () => {
    server = http.createServer((req, res) => {
      open += 1;
      mostOpen = Math.max(mostOpen, open);
      let settled = false;
      const settle = (how) => {
        if (settled) return;
        settled = true;
        open -= 1;
        closes.push({ path: req.url, how, at: Date.now() });
      };
      res.on('finish', () => settle('finished'));
      res.on('close', () => settle('closed'));
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        got.push({ path: req.url, type: req.headers['content-type'], body });
        if (req.url === '/slow') return setTimeout(() => res.end(), 2000);
        if (req.url.startsWith('/wait')) return setTimeout(() => res.end('ok'), 300);
        if (req.url === '/endless') {
          // Headers, a first chunk, and a body that never ends on its own.
          res.writeHead(200, { 'content-type': 'text/plain' });
          return res.write('x'.repeat(1024));
        }
        if (req.url === '/busy') {
          res.writeHead(429, { 'retry-after': '7' });
          return res.end();
        }
        res.writeHead(200);
        res.end();
      });
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${server.address().port}`;
  });
  after(() => server.close());

  const job = (alg, path, extra = {}) => ({
    uri: `${base}${path}`, kid: keyOf(alg).kid, alg, input: input(alg, keyOf(alg).kid),
    contentType: 'application/x-www-form-urlencoded', bodyPrefix: 'logout_token=', ...extra,
  });
  const keysFor = (...algs) => Object.fromEntries(algs.map((a) => [keyOf(a).kid, { private: keyOf(a), public: publicJwk(keyOf(a)) }]));
  const run = async (jobs, keys, timeoutMs = 1000, more = {}) => JSON.parse(await signAndPost(JSON.stringify({ jobs, keys, timeoutMs, ...more })));

  it('signs each token with its key and POSTs it as the body names; the signature verifies', async () => {
    got.length = 0;
    const jobs = ['RS256', 'ES256', 'EdDSA'].map((alg) => job(alg, `/ok/${alg}`));
    const out = await run(jobs, keysFor('RS256', 'ES256', 'EdDSA'));
    assert.deepEqual(out.map((o) => [o.kind, o.status]), [['answer', 200], ['answer', 200], ['answer', 200]]);
    for (const j of jobs) {
      const req = got.find((g) => g.path === new URL(j.uri).pathname);
      assert.equal(req.type, 'application/x-www-form-urlencoded');
      assert.ok(req.body.startsWith(`logout_token=${j.input}.`), req.body.slice(0, 80));
      const jwt = req.body.slice('logout_token='.length);
      const key = await importJWK(publicJwk(keyOf(j.alg)), j.alg);
      await compactVerify(jwt, key); // throws when the signature is not the key's
    }
  });

  it('reports a status with its Retry-After, a timeout, a refused connection and an unusable URI', async () => {
    const out = await run([
      job('RS256', '/busy'),
      job('RS256', '/slow'),
      job('RS256', '/x', { uri: 'http://127.0.0.1:1/refused' }),
      job('RS256', '/x', { uri: 'not a uri' }),
    ], {}, 300);
    assert.deepEqual(out.map((o) => o.kind), ['answer', 'timeout', 'network', 'invalid']);
    assert.equal(out[0].status, 429);
    assert.equal(out[0].retryAfter, '7');
  });

  it('a key never handed over is asked for again; a key whose public members are not its own never signs', async () => {
    const fresh = generateSigningJwks().keys[1]; // an ES256 key this isolate has not seen
    const lonely = { ...job('ES256', '/never'), kid: fresh.kid };
    assert.deepEqual((await run([lonely], {})).map((o) => o.kind), ['nokey']);
    const other = generateSigningJwks().keys[1];
    const mismatched = { ...fresh, kid: `${fresh.kid}-x`, x: other.x, y: other.y };
    got.length = 0;
    const out = await run([{ ...lonely, kid: mismatched.kid }], { [mismatched.kid]: { private: { ...fresh, kid: mismatched.kid }, public: publicJwk(mismatched) } });
    assert.equal(out[0].kind, 'unsigned', JSON.stringify(out));
    assert.equal(got.length, 0, 'nothing was POSTed');
  });

  it('a token signed elsewhere (SIGNER=wasm) is only POSTed, as a session-ended event when the body says so', async () => {
    got.length = 0;
    const j = job('RS256', '/set', { signature: 'c2ln', contentType: 'application/secevent+jwt', bodyPrefix: '' });
    const out = await run([j], {});
    assert.equal(out[0].kind, 'answer');
    assert.deepEqual([got[0].type, got[0].body], ['application/secevent+jwt', `${j.input}.c2ln`]);
  });

  it('at most `connections` POSTs are open at once, each timed from its own send', async () => {
    mostOpen = 0;
    // 10 answers of 300 ms through 6 connections: the last 4 are sent when the first answers
    // come, ~300 ms in. A timeout of 450 ms timed from the batch's start would cut them at
    // ~150 ms of their own; timed from their send, every one is answered.
    const jobs = Array.from({ length: 10 }, (_, i) => job('ES256', `/wait/${i}`));
    const out = await run(jobs, keysFor('ES256'), 450, { deadlineMs: 5000, connections: 6 });
    assert.deepEqual(out.map((o) => [o.kind, o.status]), Array.from({ length: 10 }, () => ['answer', 200]), JSON.stringify(out));
    assert.equal(mostOpen, 6, 'six open at most, and six used');
  });

  it("an answer's body is cancelled, so its connection frees without waiting for the timeout", async () => {
    closes.length = 0;
    const started = Date.now();
    const out = await run([job('ES256', '/endless')], keysFor('ES256'), 10_000, { deadlineMs: 20_000, connections: 1 });
    assert.deepEqual([out[0].kind, out[0].status], ['answer', 200]);
    // The receiver sees its response closed by the client: well before the 10 s timeout could
    // have aborted it.
    const closed = await new Promise((resolve, reject) => {
      const t0 = Date.now();
      const look = () => {
        const c = closes.find((x) => x.path === '/endless');
        if (c) return resolve(c);
        if (Date.now() - t0 > 5000) return reject(new Error('the response was never closed'));
        setTimeout(look, 20);
      };
      look();
    });
    assert.equal(closed.how, 'closed');
    assert.ok(closed.at - started < 5000, `closed after ${closed.at - started} ms`);
  });

  it('a job with no connection free before the deadline is reported unsent, not sent', async () => {
    got.length = 0;
    const out = await run([job('ES256', '/wait/a'), job('ES256', '/wait/b')], keysFor('ES256'), 1000, { deadlineMs: 200, connections: 1 });
    // The first is cut at the deadline; the second never had a connection before it.
    assert.deepEqual(out.map((o) => o.kind), ['timeout', 'unsent']);
    assert.deepEqual(got.map((g) => g.path), ['/wait/a']);
  });
});
