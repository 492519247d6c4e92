// End-to-end test of recovery under `wrangler dev`: what a restart of the runtime loses (the local
// queue keeps its messages in memory, so a delayed retry is dropped, and a logout cut off in
// the middle of its inline deliveries leaves its outbox record) the cron sweep (the scheduled
// handler, triggered over HTTP: tools/worker.mjs `scheduled()`) sends again: every
// outbox record and every overdue retry is delivered, once, and `status=failed` empties.
// Run by scripts/test.sh with Node 22: node --test --test-concurrency=1 tests/e2e/*.test.mjs
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe } from 'node:test';

import { checkDelivery, deliveries, providerOf, startScriptedRp, tokensAt } from '../support/backchannel.mjs';
import { it, localKvKeys, newSession, recheckSettled, settled } from '../support/fixtures.mjs';
import { eventually } from '../support/oidc.mjs';
import { startWorker } from '../../tools/worker.mjs';

const TTL_S = 600;
// Long enough that the retry's queue message is still waiting when the runtime restarts (the
// restart takes a few seconds), short enough to be overdue soon after.
const RETRY_DELAY_S = 10;
const GRACE_S = 1;

describe('recovery by the cron sweep under wrangler dev', { timeout: 240_000 }, () => {
  let w;
  let rp;
  let provider;
  let stateDir;
  const jtis = new Set();

  before(async () => {
    rp = await startScriptedRp();
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-logout-recovery-'));
    w = await startWorker({
      persistTo: stateDir,
      vars: (v) => ({
        ...v,
        LOGOUT_TOKEN_TTL_S: String(TTL_S),
        BACKCHANNEL_RETRY_DELAY_S: String(RETRY_DELAY_S),
        BACKCHANNEL_MAX_ATTEMPTS: '5',
        BACKCHANNEL_SWEEP_GRACE_S: String(GRACE_S),
        // The inline delivery of the cut-off logout waits for its RP until the restart.
        BACKCHANNEL_TIMEOUT_MS: '30000',
        BACKCHANNEL_DEADLINE_MS: '30000',
      }),
    });
    provider = await providerOf(w);
    for (const id of ['flaky', 'cut']) {
      const r = await w.admin('PUT', `/admin/clients/${id}`, { redirect_uris: [`${rp.url}/cb`], backchannel_logout_uri: `${rp.url}/${id}` });
      assert.equal(r.status, 201, r.text);
    }
  }, { timeout: 90_000 });

  after(async () => {
    try {
      recheckSettled();
    } finally {
      await Promise.all([w?.stop(), rp?.close()]);
      if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('a retry whose queue message a restart dropped, and a logout cut off by it, are delivered by the sweep', async () => {
    // 1. A retry waiting in the queue: flaky answers its first token 500.
    rp.script('/flaky', [{ status: 500 }]);
    const b = await newSession(w, 'rhea', ['flaky']);
    let r = await w.admin('DELETE', `/admin/sessions/${b.sid}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.backchannel, { delivered: 0, queued: 1, dead: 0 });
    const [failed] = await deliveries(w, 'failed', 'rhea');
    assert.equal(failed?.attempts, 1, JSON.stringify(failed));

    // 2. A logout cut off in the middle: its RP holds the inline delivery until the restart.
    rp.script('/cut', [{ hang: true }]);
    const a = await newSession(w, 'saul', ['cut']);
    const earlier = new Set(localKvKeys(w, 'outbox/'));
    const cutOff = w.admin('DELETE', `/admin/sessions/${a.sid}`).catch((e) => e);
    await rp.waitFor((x) => x.path === '/cut' && x.claims?.sub === 'saul', 60_000);
    const cutRecord = localKvKeys(w, 'outbox/').filter((k) => !earlier.has(k));
    assert.equal(cutRecord.length, 1, 'the cut-off logout has its outbox record');

    // 3. The runtime restarts on the same state: the in-flight logout and the queued retry go.
    const { port, vars } = w;
    const old = w;
    w = null;
    await old.stop();
    const answer = await cutOff;
    assert.ok(answer instanceof Error || answer.status >= 500, `the cut-off logout answered ${answer.status}`);
    w = await startWorker({ port, vars, persistTo: stateDir });

    // Before the sweep: still recorded as failed, overdue past the grace, and not delivered
    // (the restart dropped its queue message: there is nothing for the sweep to recover
    // otherwise, and the test would not show it); the cut-off logout's outbox still there.
    const overdue = await eventually(async () => {
      const [d] = await deliveries(w, 'failed', 'rhea');
      return d && d.next_attempt_at + GRACE_S < Date.now() / 1000 - 1 ? d : null;
    }, { timeoutMs: 60_000, intervalMs: 250, what: "rhea's retry to be overdue" });
    assert.equal(overdue.id, failed.id);
    assert.deepEqual(tokensAt(rp, '/flaky', 'rhea').map((x) => x.answeredStatus), [500], 'the retry came without the sweep: the restart did not drop its message');
    assert.ok(localKvKeys(w, 'outbox/').includes(cutRecord[0]), 'the outbox record of the cut-off logout');
    assert.equal(tokensAt(rp, '/cut', 'saul').filter((x) => x.answeredStatus === 200).length, 0);

    // 4. The cron tick: the overdue retry is sent again, once.
    assert.equal(await w.scheduled(), 'ok');
    await eventually(() => tokensAt(rp, '/flaky', 'rhea').filter((x) => x.answeredStatus === 200).length === 1, {
      timeoutMs: 90_000, intervalMs: 250, what: "rhea's retry delivered by the sweep",
    });
    // A logout's own outbox record is taken as left behind only once its look (7 minutes
    // later, src/protocol/logout.rs RECHECK_DELAYS_S) should have removed it, 10 minutes more
    // (RECHECK_OVERDUE_S): not yet.
    assert.equal(tokensAt(rp, '/cut', 'saul').filter((x) => x.answeredStatus === 200).length, 0);

    // 5. The tick of 20 minutes later (wrangler dev's trigger takes the time): the cut-off
    // logout's record is overdue, and sent again. The restart also lost rhea's look (a delayed
    // queue message), so rhea's logout's record is sent again too: a second token to flaky
    // (fresh jti), the price of a lost look.
    assert.equal(await w.scheduled({ time: Date.now() + 1200 * 1000 }), 'ok');
    await settled(w, 'saul', () => tokensAt(rp, '/cut', 'saul'), { [`cut ${a.sid}`]: 1 });
    await settled(w, 'rhea', () => tokensAt(rp, '/flaky', 'rhea'), { [`flaky ${b.sid}`]: 2 });
    r = await w.admin('GET', '/admin/deliveries?status=failed');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.deliveries, [], 'status=failed empties');
    assert.deepEqual(await deliveries(w, 'dead', 'rhea'), []);
    assert.deepEqual(await deliveries(w, 'dead', 'saul'), []);
    const [retried] = tokensAt(rp, '/flaky', 'rhea').filter((x) => x.answeredStatus === 200);
    await checkDelivery(retried, { provider, client: 'flaky', alg: 'RS256', sub: 'rhea', sid: b.sid, path: '/flaky', ttl: TTL_S, jtis });
    const [resent] = tokensAt(rp, '/cut', 'saul').filter((x) => x.answeredStatus === 200);
    await checkDelivery(resent, { provider, client: 'cut', alg: 'RS256', sub: 'saul', sid: a.sid, path: '/cut', ttl: TTL_S, jtis });
  });
});
