// Checks the recording relying party (tools/rp.mjs) that the logout tests rely on:
// what it records, and that each configured answer (status, delay, hang, reset) behaves.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { start } from '../../tools/rp.mjs';

function jwt(payload) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none' })}.${part(payload)}.`;
}

describe('the test relying party', { timeout: 30_000 }, () => {
  let rp;
  before(async () => {
    rp = await start();
  });
  after(async () => {
    await rp?.close();
  });

  it('listens on a free port of 127.0.0.1', () => {
    assert.ok(rp.port > 0);
    assert.equal(rp.url, `http://127.0.0.1:${rp.port}`);
  });

  it('records back-channel POSTs with their form body and decoded claims', async () => {
    rp.reset();
    const token = jwt({ iss: 'http://op', sub: 'alice', sid: 's1', aud: 'rp1' });
    const res = await fetch(`${rp.url}/bc?x=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: token }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const [rec] = rp.backchannel();
    assert.equal(rec.path, '/bc');
    assert.deepEqual(rec.query, { x: '1' });
    assert.equal(rec.logout_token, token);
    assert.equal(rec.claims.sid, 's1');
    assert.equal(rec.headers['content-type'], 'application/x-www-form-urlencoded');
  });

  it('records GETs and shows a signed-out page with the state', async () => {
    rp.reset();
    const res = await fetch(`${rp.url}/bye?state=a%3Cb`);
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /signed out/);
    assert.match(html, /a&#60;b/);
    assert.deepEqual(rp.gets('/bye').map((r) => r.query.state), ['a<b']);
  });

  it('answers with a configured status, late, never, or by a reset', async () => {
    rp.reset();
    rp.configure('/status', { status: 503 });
    assert.equal((await fetch(`${rp.url}/status`, { method: 'POST' })).status, 503);

    rp.configure('/slow', { delayMs: 300 });
    const t0 = Date.now();
    assert.equal((await fetch(`${rp.url}/slow`)).status, 200);
    assert.ok(Date.now() - t0 >= 280);

    rp.configure('/hang', { hang: true });
    await assert.rejects(fetch(`${rp.url}/hang`, { signal: AbortSignal.timeout(300) }), /abort|timeout/i);
    assert.equal(rp.received.filter((r) => r.path === '/hang').length, 1, 'a hung request is recorded');

    rp.configure('/reset', { reset: true });
    await assert.rejects(fetch(`${rp.url}/reset`), /fetch failed/);

    rp.configure('/status', null);
    assert.equal((await fetch(`${rp.url}/status`)).status, 200);
  });

  it('waits for a request yet to come', async () => {
    rp.reset();
    const waiting = rp.waitFor((r) => r.path === '/later', 2000);
    setTimeout(() => fetch(`${rp.url}/later`).catch(() => {}), 50);
    assert.equal((await waiting).path, '/later');
    await assert.rejects(rp.waitFor((r) => r.path === '/never', 100), /nothing matching/);
  });
});
