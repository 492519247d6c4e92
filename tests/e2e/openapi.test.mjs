// End-to-end test of the admin API's OpenAPI document against the built worker under
// `wrangler dev`: the document served at /admin/openapi.json is valid OpenAPI 3.1
// (@seriousme/openapi-schema-validator), and real answers of every admin route and method,
// successes and errors, are answers it describes: a documented status, the documented headers,
// and a body valid against its JSON schema (ajv, JSON Schema 2020-12, OpenAPI 3.1's dialect).
// The request bodies sent for successes are checked against the document too. So the
// description cannot drift from the worker. Also: PATCH /admin/sessions/{sid} end to end.
// Run by scripts/test.sh with Node 22: node --test --test-concurrency=1 tests/e2e/*.test.mjs
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';

import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

import { it, newSession } from '../support/fixtures.mjs';
import { start as startRp } from '../../tools/rp.mjs';
import { startWorker } from '../../tools/worker.mjs';

const DOC_ID = 'urn:edge-logout:openapi';
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/** A JSON pointer's escaping of one token. */
const escape = (token) => token.replaceAll('~', '~0').replaceAll('/', '~1');

/**
 * Checks answers against the document: `check(r, method, template, body?)` asserts that the
 * answer is one the operation describes (and a success's request body one it accepts), and
 * records which operations and statuses were seen.
 */
function checker(doc) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(doc, DOC_ID);
  const validate = (pointer, value, what) => {
    const v = ajv.getSchema(`${DOC_ID}#${pointer}`);
    assert.ok(v, `${what}: no schema at ${pointer}`);
    assert.ok(v(value), `${what}: ${JSON.stringify(value)} is not valid at ${pointer}: ${ajv.errorsText(v.errors)}`);
  };
  const seen = new Set();

  function check(r, method, template, body) {
    const what = `${method} ${template} → ${r.status}`;
    const opPointer = `/paths/${escape(template)}/${method.toLowerCase()}`;
    const op = doc.paths[template]?.[method.toLowerCase()];
    assert.ok(op, `${what}: the operation is not described`);
    let response = op.responses[String(r.status)];
    let pointer = `${opPointer}/responses/${r.status}`;
    assert.ok(response, `${what}: status not described (${Object.keys(op.responses)}); body ${r.text}`);
    if (response.$ref) {
      pointer = response.$ref.slice(1);
      response = pointer.split('/').slice(1).reduce((o, k) => o[k.replaceAll('~1', '/').replaceAll('~0', '~')], doc);
    }
    for (const [name, header] of Object.entries(response.headers ?? {})) {
      const value = r.headers.get(name);
      if (header.required) assert.ok(value !== null, `${what}: header ${name} missing`);
      if (value !== null) validate(`${pointer}/headers/${escape(name)}/schema`, value, `${what} header ${name}`);
    }
    if (response.content) {
      assert.equal(r.headers.get('content-type'), 'application/json', `${what}: content-type`);
      assert.ok(r.json !== undefined, `${what}: not JSON: ${r.text}`);
      validate(`${pointer}/content/application~1json/schema`, r.json, what);
    } else {
      assert.equal(r.text, '', `${what}: a body where none is described`);
    }
    if (r.status < 300 && body !== undefined) {
      assert.ok(op.requestBody, `${what}: a body the operation does not take`);
      validate(`${opPointer}/requestBody/content/application~1json/schema`, body, `${what} request`);
    }
    seen.add(`${method.toUpperCase()} ${template} ${r.status}`);
    return r;
  }
  return { check, seen };
}

describe('the admin API and its OpenAPI document', { timeout: 200_000 }, () => {
  let w;
  let rp;
  let doc;
  let check;
  let seen;
  /** Calls the admin API and checks the answer against the document. */
  const call = async (method, template, path, body, opts) => check(await w.admin(method, path, body, opts), method, template, body);

  before(async () => {
    rp = await startRp();
    rp.configure('/bc/refuses', { status: 400 });
    w = await startWorker();
    const r = await w.admin('GET', '/admin/openapi.json');
    assert.equal(r.status, 200, r.text);
    doc = r.json;
    ({ check, seen } = checker(doc));
  }, { timeout: 90_000 });

  after(async () => {
    await Promise.all([w?.stop(), rp?.close()]);
  });

  it('is a valid OpenAPI 3.1 document with the bearer scheme, served only with the admin token', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc);
    assert.deepEqual(result, { valid: true }, JSON.stringify(result.errors));
    assert.equal(validator.version, '3.1');
    assert.deepEqual(doc.components.securitySchemes.adminToken, { type: 'http', scheme: 'bearer', description: doc.components.securitySchemes.adminToken.description });
    assert.deepEqual(doc.security, [{ adminToken: [] }]);
    await call('GET', '/admin/openapi.json', '/admin/openapi.json');
    const r = await call('GET', '/admin/openapi.json', '/admin/openapi.json', undefined, { token: null });
    assert.equal(r.status, 401);
  });

  it('clients: answers of every method, successes and errors, are described', async () => {
    const meta = { redirect_uris: [`${rp.url}/cb`], post_logout_redirect_uris: [`${rp.url}/bye`], client_name: 'OA', backchannel_logout_uri: `${rp.url}/bc/oa-rp1` };
    const one = '/admin/clients/{client_id}';
    assert.equal((await call('PUT', one, '/admin/clients/oa-rp1', meta)).status, 201);
    assert.equal((await call('PUT', one, '/admin/clients/oa-rp1', { ...meta, id_token_signed_response_alg: 'EdDSA' })).status, 200);
    assert.equal((await call('PUT', one, '/admin/clients/oa-rp2', { redirect_uris: [`${rp.url}/cb2`] })).status, 201);
    assert.equal((await call('GET', one, '/admin/clients/oa-rp1')).json.id_token_signed_response_alg, 'EdDSA');
    assert.equal((await call('GET', '/admin/clients', '/admin/clients')).status, 200);
    assert.equal((await call('GET', '/admin/clients', '/admin/clients?cursor=%ZZ')).status, 400);
    assert.equal((await call('PUT', one, '/admin/clients/oa-bad', { post_logout_redirect_uris: ['https://x.example/#f'] })).json.error, 'invalid_client_metadata');
    assert.equal((await call('PUT', one, '/admin/clients/oa-bad', undefined, { rawBody: '{}', contentType: 'text/plain' })).status, 415);
    assert.equal((await call('PUT', one, '/admin/clients/oa-bad', undefined, { rawBody: 'x'.repeat(17 * 1024), contentType: 'application/json' })).status, 413);
    assert.equal((await call('GET', one, '/admin/clients/oa-none')).status, 404);
    assert.equal((await call('DELETE', one, '/admin/clients/oa-rp2')).status, 204);
    assert.equal((await call('DELETE', one, '/admin/clients/oa-rp2')).status, 404);
    for (const [method, template, path] of [['GET', '/admin/clients', '/admin/clients'], ['GET', one, '/admin/clients/oa-rp1'], ['PUT', one, '/admin/clients/oa-x'], ['DELETE', one, '/admin/clients/oa-rp1']]) {
      const r = await call(method, template, path, method === 'PUT' ? meta : undefined, { token: 'wrong' });
      assert.equal(r.status, 401, `${method} ${path}`);
    }
  });

  it('sessions: create, read, list, record a client, extend, end; and their errors', async () => {
    const all = '/admin/sessions';
    const one = '/admin/sessions/{sid}';
    const member = '/admin/sessions/{sid}/clients/{client_id}';
    const body = { sub: 'oa-alice', clients: ['oa-rp1'], expires_in: 3600, sid: 'oa-s1' };
    const created = await call('POST', all, all, body);
    assert.equal(created.status, 201);
    // Created again for the same user (the first not seen yet, elsewhere): 200, its clients
    // recorded; for another user: a conflict.
    assert.equal((await call('POST', all, all, body)).status, 200);
    assert.equal((await call('POST', all, all, { ...body, sub: 'oa-mallory' })).json.error, 'conflict');
    assert.equal((await call('POST', all, all, { sub: 'oa-alice', clients: ['oa-none'] })).status, 400);
    assert.equal((await call('POST', all, all, { sub: 'oa-alice', expires_in: 10 })).status, 400);
    assert.equal((await call('POST', all, all, undefined, { rawBody: '{"sub":"a"}', contentType: null })).status, 415);
    assert.equal((await call('GET', one, '/admin/sessions/oa-s1')).json.sid, 'oa-s1');
    assert.equal((await call('GET', one, '/admin/sessions/oa-none')).status, 404);
    assert.equal((await call('GET', all, '/admin/sessions?sub=oa-alice')).json.sessions.length, 1);
    assert.equal((await call('GET', all, all)).status, 400);
    await call('PUT', '/admin/clients/{client_id}', '/admin/clients/oa-rp3', { redirect_uris: [`${rp.url}/cb3`] });
    assert.deepEqual((await call('PUT', member, '/admin/sessions/oa-s1/clients/oa-rp3')).json.clients, ['oa-rp1', 'oa-rp3']);
    assert.equal((await call('PUT', member, '/admin/sessions/oa-s1/clients/oa-none')).status, 400);
    assert.equal((await call('PUT', member, '/admin/sessions/oa-none/clients/oa-rp3')).status, 404);

    // Extended, then shortened: the new expiry, every client, as GET shows it too.
    const extended = await call('PATCH', one, '/admin/sessions/oa-s1', { expires_in: 30 * 86400 });
    assert.equal(extended.status, 200);
    assert.ok(extended.json.expires_at > created.json.expires_at + 29 * 86400, JSON.stringify(extended.json));
    assert.deepEqual(extended.json.clients, ['oa-rp1', 'oa-rp3']);
    const shortened = await call('PATCH', one, '/admin/sessions/oa-s1', { expires_in: 120 });
    assert.ok(shortened.json.expires_at < created.json.expires_at, JSON.stringify(shortened.json));
    assert.equal((await call('GET', one, '/admin/sessions/oa-s1')).json.expires_at, shortened.json.expires_at);
    const listed = (await call('GET', all, '/admin/sessions?sub=oa-alice')).json.sessions;
    assert.equal(listed[0].expires_at, shortened.json.expires_at);
    for (const bad of [{ expires_in: 59 }, { expires_in: 366 * 86400 + 1 }, { expires_in: '600' }, {}, { expires_in: 600, sub: 'x' }]) {
      const r = await call('PATCH', one, '/admin/sessions/oa-s1', bad);
      assert.equal(r.json.error, 'invalid_request', JSON.stringify(bad));
    }
    assert.equal((await call('GET', one, '/admin/sessions/oa-s1')).json.expires_at, shortened.json.expires_at, 'bad input changed nothing');
    assert.equal((await call('PATCH', one, '/admin/sessions/oa-s1', undefined, { rawBody: '{"expires_in":600}', contentType: 'text/plain' })).status, 415);
    assert.equal((await call('PATCH', one, '/admin/sessions/oa-none', { expires_in: 600 })).status, 404);

    const ended = await call('DELETE', one, '/admin/sessions/oa-s1');
    assert.deepEqual(ended.json.sessions_ended, ['oa-s1']);
    assert.equal((await call('PATCH', one, '/admin/sessions/oa-s1', { expires_in: 600 })).json.error, 'session_ended');
    assert.equal((await call('PUT', member, '/admin/sessions/oa-s1/clients/oa-rp3')).json.error, 'session_ended');
    assert.equal((await call('POST', all, all, body)).json.error, 'session_ended');
    assert.equal((await call('GET', one, '/admin/sessions/oa-s1')).status, 404);
    assert.equal((await call('DELETE', one, '/admin/sessions/oa-s1')).status, 404);
    // A session not seen here (created elsewhere a moment ago, or never): ended where it is seen.
    const pending = await call('DELETE', one, '/admin/sessions/oa-unseen');
    assert.equal(pending.status, 202, pending.text);
    assert.deepEqual(pending.json.pending, ['oa-unseen']);

    await newSession(w, 'oa-bob', ['oa-rp1']);
    await newSession(w, 'oa-bob', []);
    const bob = await call('DELETE', all, '/admin/sessions?sub=oa-bob');
    assert.equal(bob.json.sessions_ended.length, 2);
    assert.equal((await call('DELETE', all, all)).status, 400);
    for (const [method, template, path, b] of [['GET', all, '/admin/sessions?sub=oa-bob'], ['POST', all, all, { sub: 'x' }], ['DELETE', all, '/admin/sessions?sub=x'], ['GET', one, '/admin/sessions/x'], ['PATCH', one, '/admin/sessions/x', { expires_in: 600 }], ['DELETE', one, '/admin/sessions/x'], ['PUT', member, '/admin/sessions/x/clients/y']]) {
      assert.equal((await call(method, template, path, b, { token: null })).status, 401, `${method} ${path}`);
    }
  });

  it('deliveries: list, retry and acknowledge a dead one, and their errors', async () => {
    const dead = async () => {
      const r = await call('GET', '/admin/deliveries', '/admin/deliveries?status=dead');
      return r.json.deliveries.filter((d) => d.sub === 'oa-carol');
    };
    for (const id of ['oa-refuses', 'oa-gone']) {
      await call('PUT', '/admin/clients/{client_id}', `/admin/clients/${id}`, { redirect_uris: [`${rp.url}/cb`], backchannel_logout_uri: `${rp.url}/bc/refuses` });
    }
    const s = await newSession(w, 'oa-carol', ['oa-refuses', 'oa-gone']);
    await call('DELETE', '/admin/sessions/{sid}', `/admin/sessions/${s.sid}`);
    const found = await dead();
    assert.equal(found.length, 2, JSON.stringify(found));
    const byClient = Object.fromEntries(found.map((d) => [d.client_id, d.id]));
    assert.equal((await call('GET', '/admin/deliveries', '/admin/deliveries?status=failed')).status, 200);
    assert.equal((await call('GET', '/admin/deliveries', '/admin/deliveries?status=x')).status, 400);
    assert.equal((await call('GET', '/admin/deliveries', '/admin/deliveries')).status, 400);

    const retry = '/admin/deliveries/{id}/retry';
    const one = '/admin/deliveries/{id}';
    const again = await call('POST', retry, `/admin/deliveries/${byClient['oa-refuses']}/retry`);
    assert.equal(again.json.backchannel.dead, 1, JSON.stringify(again.json));
    assert.equal((await call('POST', retry, '/admin/deliveries/oa-none/retry')).status, 404);
    await call('DELETE', '/admin/clients/{client_id}', '/admin/clients/oa-gone');
    assert.equal((await call('POST', retry, `/admin/deliveries/${byClient['oa-gone']}/retry`)).json.error, 'client_deleted');
    const left = await dead();
    assert.deepEqual(left.map((d) => [d.id, d.attempts]), [[byClient['oa-refuses'], 1]], 'dead again after its retry: still listed');
    assert.equal((await call('DELETE', one, `/admin/deliveries/${left[0].id}`)).status, 204);
    assert.equal((await call('DELETE', one, `/admin/deliveries/${left[0].id}`)).status, 404);
    assert.deepEqual(await dead(), []);
    for (const [method, template, path] of [['GET', '/admin/deliveries', '/admin/deliveries?status=dead'], ['POST', retry, '/admin/deliveries/x/retry'], ['DELETE', one, '/admin/deliveries/x']]) {
      assert.equal((await call(method, template, path, undefined, { token: 'wrong' })).status, 401, `${method} ${path}`);
    }
  });

  it('every described operation was answered with a success and a 401, each as described', () => {
    const missing = [];
    for (const [template, item] of Object.entries(doc.paths)) {
      for (const method of METHODS.filter((m) => item[m])) {
        const statuses = [...seen].filter((k) => k.startsWith(`${method.toUpperCase()} ${template} `)).map((k) => Number(k.split(' ').pop()));
        if (!statuses.some((s) => s < 300)) missing.push(`${method} ${template}: no success`);
        if (!statuses.includes(401)) missing.push(`${method} ${template}: no 401`);
      }
    }
    assert.deepEqual(missing, []);
    for (const key of ['PATCH /admin/sessions/{sid} 409', 'PATCH /admin/sessions/{sid} 404', 'PATCH /admin/sessions/{sid} 400', 'POST /admin/sessions 409', 'POST /admin/deliveries/{id}/retry 409']) {
      assert.ok(seen.has(key), key);
    }
  });
});
