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
  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        got.push({ path: req.url, type: req.headers['content-type'], body });
        if (req.url === '/slow') return setTimeout(() => res.end(), 2000);
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
  const run = async (jobs, keys, timeoutMs = 1000) => JSON.parse(await signAndPost(JSON.stringify({ jobs, keys, timeoutMs })));

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
});
