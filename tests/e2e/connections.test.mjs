// End-to-end test of the six-connection limit (src/budget.rs CONNECTIONS) under `wrangler dev`:
// a logout with 10 relying parties that each answer after 1 s, and a session-ended event to the
// login system, all at one receiver on loopback that counts its open requests. workerd locally
// does not hold a seventh connection back as the platform does, so the receiver sees exactly
// what the worker opens: never more than 6 POSTs at once until the end-session request is
// answered, every relying party told, and none cut short by time spent waiting for a slot
// (BACKCHANNEL_TIMEOUT_MS 1.5 s: a second wave timed from the first's start would time out).
// Run by scripts/test.sh: bash scripts/test.sh e2e connections
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe } from 'node:test';

import { it, newSession } from '../support/fixtures.mjs';
import { endSession, eventually, mintIdToken } from '../support/oidc.mjs';
import { startWorker } from '../../tools/worker.mjs';
import { providerOf } from '../support/backchannel.mjs';

const RPS = 10;
const ANSWER_MS = 1000;
const TIMEOUT_MS = 1500;

/**
 * A receiver that answers every POST 200 after `ANSWER_MS`, and keeps, per request, its path,
 * when it started, and how it ended ('finished': answered; 'closed': the sender gave up first);
 * `mostOpen` is the most requests open at once while `measuring`.
 */
async function startReceiver() {
  const rec = { requests: [], open: 0, mostOpen: 0, measuring: false };
  const server = http.createServer((req, res) => {
    const entry = { path: req.url, startedAt: Date.now(), ended: null };
    rec.requests.push(entry);
    rec.open += 1;
    if (rec.measuring) rec.mostOpen = Math.max(rec.mostOpen, rec.open);
    const end = (how) => {
      if (entry.ended) return;
      entry.ended = how;
      entry.endedAt = Date.now();
      rec.open -= 1;
    };
    res.on('finish', () => end('finished'));
    res.on('close', () => end('closed'));
    req.resume();
    req.on('end', () => setTimeout(() => res.writeHead(200).end(), ANSWER_MS));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  rec.url = `http://127.0.0.1:${server.address().port}`;
  rec.close = () => new Promise((r) => server.close(r));
  return rec;
}

describe('connections: at most six POSTs open at once', { timeout: 120_000 }, () => {
  let w;
  let rx;
  const ids = Array.from({ length: RPS }, (_, i) => `rp${i}`);

  before(async () => {
    rx = await startReceiver();
    w = await startWorker({
      vars: (v) => ({
        ...v,
        BACKCHANNEL_TIMEOUT_MS: String(TIMEOUT_MS),
        SESSION_EVENTS_URI: `${rx.url}/events`,
      }),
    });
    await providerOf(w);
    for (const id of ids) {
      const r = await w.admin('PUT', `/admin/clients/${id}`, {
        redirect_uris: [`${rx.url}/cb/${id}`],
        post_logout_redirect_uris: [`${rx.url}/bye/${id}`],
        backchannel_logout_uri: `${rx.url}/bc/${id}`,
      });
      assert.equal(r.status, 201, `${id}: ${r.text}`);
    }
  }, { timeout: 90_000 });

  after(async () => {
    await Promise.all([w?.stop(), rx?.close()]);
  });

  it('a logout of 10 slow relying parties tells all 10, six POSTs open at most, none cut short', async () => {
    const s = await newSession(w, 'alice', ids);
    const hint = await mintIdToken(w, { sub: s.sub, sid: s.sid, aud: 'rp0' });
    const { endpoint } = await providerOf(w);
    rx.requests.length = 0;
    rx.mostOpen = 0;
    rx.measuring = true;
    let r;
    try {
      r = await endSession(endpoint, {
        params: { id_token_hint: hint, post_logout_redirect_uri: `${rx.url}/bye/rp0`, state: 'c' },
        browser: s.browser,
      });
    } finally {
      rx.measuring = false;
    }
    assert.equal(r.status, 303, r.text.slice(0, 300));
    // Until the answer: never more than six of the worker's POSTs open at the receiver.
    assert.ok(rx.mostOpen <= 6, `${rx.mostOpen} POSTs open at once`);
    // The ten relying parties (inline or queued) and the session-ended event.
    const wanted = [...ids.map((id) => `/bc/${id}`), '/events'];
    const answered = await eventually(() => {
      const done = wanted.map((p) => rx.requests.filter((q) => q.path === p && q.ended));
      return done.every((d) => d.length >= 1) && done;
    }, { timeoutMs: 60_000, what: 'every relying party and the event' });
    // Each got one POST, answered 200 after its full second: none was given up while it waited
    // for a connection (a give-up shows as 'closed' before the answer, and as a retry).
    for (const [i, got] of answered.entries()) {
      assert.equal(got.length, 1, `${wanted[i]}: ${got.length} POSTs`);
      assert.equal(got[0].ended, 'finished', `${wanted[i]}: given up after ${got[0].endedAt - got[0].startedAt} ms`);
    }
    // The request made them itself (the default inline maximum is 12), in two waves of at most
    // six: the receiver saw six at once, not eleven.
    assert.equal(rx.mostOpen, 6, 'the first wave used all six connections');
    // And none is listed as failed, waiting for a retry.
    const failed = await w.admin('GET', '/admin/deliveries?status=failed');
    assert.equal(failed.status, 200, failed.text);
    assert.deepEqual(failed.json.deliveries.filter((d) => d.sub === 'alice'), []);
  });
});
