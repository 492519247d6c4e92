// End-to-end tests of the rate limits under `wrangler dev` (RATE_LIMITS on, as deployed, with the
// [[ratelimits]] bindings of wrangler.toml): answers to the confirmation page, and admin calls
// that fail authentication. Past the limit: 429, Retry-After, Cache-Control: no-store, and
// nothing changes (KV is compared before and after).
// Run by scripts/test.sh with Node 22: node --test --test-concurrency=1 tests/e2e/*.test.mjs
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';

import { it, newSession, exists } from '../support/fixtures.mjs';
import { kvSnapshot } from '../support/kv.mjs';
import { confirmationForm, discover, endSession } from '../support/oidc.mjs';
import { startWorker } from '../../tools/worker.mjs';

// The figures of src/http/ratelimit.rs and wrangler.toml.
const ANSWERS_PER_MINUTE = 20;
const AUTH_FAILURES_PER_MINUTE = 10;

function assertLimited(r, what) {
  assert.equal(r.status, 429, `${what}: status (body ${r.text.slice(0, 300)})`);
  const wait = Number(r.headers.get('retry-after'));
  assert.ok(Number.isInteger(wait) && wait >= 1 && wait <= 60, `${what}: Retry-After ${r.headers.get('retry-after')}`);
  assert.equal(r.headers.get('cache-control'), 'no-store', `${what}: cache-control`);
}

describe('rate limits', { timeout: 150_000 }, () => {
  let w;
  let endpoint;

  before(async () => {
    w = await startWorker({ vars: (v) => ({ ...v, RATE_LIMITS: 'on' }) });
    const r = await w.admin('PUT', '/admin/clients/rp1', { post_logout_redirect_uris: ['https://rp1.example/bye'] });
    assert.equal(r.status, 201, r.text);
    endpoint = (await discover(w)).end_session_endpoint;
  }, { timeout: 90_000 });

  after(async () => {
    await w?.stop();
  });

  it('admin calls failing authentication: 401 up to the limit, then 429; the right token still works', async () => {
    const before = kvSnapshot(w.persistTo);
    // Until the first 429 (a minute window may turn over on the way: at most three limits).
    const statuses = [];
    while (!statuses.includes(429) && statuses.length < 3 * AUTH_FAILURES_PER_MINUTE) {
      statuses.push((await w.admin('GET', '/admin/clients', undefined, { token: 'not-the-admin-token' })).status);
    }
    const first429 = statuses.indexOf(429);
    assert.ok(first429 >= AUTH_FAILURES_PER_MINUTE, `401s before the first 429: ${statuses}`);
    assert.deepEqual(new Set(statuses.slice(0, first429)), new Set([401]), `${statuses}`);
    const r = await w.admin('GET', '/admin/clients', undefined, { token: 'not-the-admin-token' });
    assertLimited(r, 'a wrong token past the limit');
    assert.equal(r.json.error, 'too_many_requests');
    const ok = await w.admin('GET', '/admin/clients');
    assert.equal(ok.status, 200, 'the right token is never limited');
    assert.deepEqual(kvSnapshot(w.persistTo), before, 'refused admin calls wrote to KV');
  });

  it('answers to the confirmation page: up to the limit, then 429 that ends nothing', async () => {
    const s = await newSession(w, 'alice', ['rp1']);
    const page = await endSession(endpoint, { browser: s.browser });
    const form = confirmationForm(page.text);
    assert.ok(form, page.text.slice(0, 300));
    const answer = (logout) => endSession(new URL(form.action, endpoint).href, {
      method: 'POST',
      params: { confirm: form.token, logout },
      browser: s.browser,
    });
    const statuses = [];
    while (!statuses.includes(429) && statuses.length < 3 * ANSWERS_PER_MINUTE) statuses.push((await answer('no')).status);
    const first429 = statuses.indexOf(429);
    assert.deepEqual(new Set(statuses.slice(0, first429)), new Set([200]), `${statuses}`);
    assert.ok(first429 >= ANSWERS_PER_MINUTE, `answers before the first 429: ${statuses}`);
    const before = kvSnapshot(w.persistTo);
    const yes = await answer('yes');
    assertLimited(yes, '"yes" past the limit');
    assert.ok(await exists(w, s.sid), 'a limited "yes" ended the session');
    assert.deepEqual(kvSnapshot(w.persistTo), before, 'a limited answer wrote to KV');
  });
});
