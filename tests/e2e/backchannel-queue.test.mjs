// End-to-end tests of back-channel deliveries that do not all fit in the request, against the
// built worker under `wrangler dev`: BACKCHANNEL_INLINE_MAX=1 (the first RP told inline, the
// others through the queue) and BACKCHANNEL_DEADLINE_MS (one deadline for all inline
// deliveries, below the per-RP BACKCHANNEL_TIMEOUT_MS).
// Run by scripts/test.sh with Node 22: node --test --test-concurrency=1 tests/e2e/*.test.mjs
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';

import { checkDelivery as check, deliveries, providerOf, startScriptedRp, tokensAt } from '../support/backchannel.mjs';
import { it, newSession, recheckSettled, settled } from '../support/fixtures.mjs';
import { endSession, eventually, mintIdToken } from '../support/oidc.mjs';
import { start as startRp } from '../../tools/rp.mjs';
import { startWorker } from '../../tools/worker.mjs';

const TTL_S = 90;
// A long per-RP timeout, bounded by a short deadline. The slow RP answers between the two,
// seconds away from either, so that which of them ended the wait shows in the outcome
// (delivered or queued), not in a stopwatch.
const TIMEOUT_MS = 15_000;
const DEADLINE_MS = 800;
const SLOW_MS = 6000;

describe('back-channel logout through the queue', { timeout: 150_000 }, () => {
  let wb; // BACKCHANNEL_INLINE_MAX=1
  let provider; // {issuer, jwks, endpoint, kids} of wb
  let rpRs;
  let rpEs;
  let rpEd;
  let rpMix; // the slow RP, scripted
  const jtis = new Set(); // every logout token of the file

  before(async () => {
    [rpMix, rpRs, rpEs, rpEd] = await Promise.all([startScriptedRp(), startRp(), startRp(), startRp()]);
    wb = await startWorker({
      vars: (v) => ({
        ...v,
        LOGOUT_TOKEN_TTL_S: String(TTL_S),
        BACKCHANNEL_RETRY_DELAY_S: '1',
        BACKCHANNEL_MAX_ATTEMPTS: '3',
        BACKCHANNEL_INLINE_MAX: '1',
        BACKCHANNEL_TIMEOUT_MS: String(TIMEOUT_MS),
        BACKCHANNEL_DEADLINE_MS: String(DEADLINE_MS),
      }),
    });
    provider = await providerOf(wb);
    const put = async (id, meta) => {
      const r = await wb.admin('PUT', `/admin/clients/${id}`, { redirect_uris: [`${rpRs.url}/cb`], ...meta });
      assert.equal(r.status, 201, `${id}: ${r.text}`);
    };
    // The same three relying parties as backchannel.test.mjs, on other paths.
    await put('rs', {
      post_logout_redirect_uris: [`${rpRs.url}/bye`],
      backchannel_logout_uri: `${rpRs.url}/bc-b`,
      backchannel_logout_session_required: true,
    });
    await put('es', { backchannel_logout_uri: `${rpEs.url}/bc-b`, id_token_signed_response_alg: 'ES256' });
    await put('ed', { backchannel_logout_uri: `${rpEd.url}/bc-b`, id_token_signed_response_alg: 'EdDSA' });
    await put('slowb', { backchannel_logout_uri: `${rpMix.url}/slowb` });
  }, { timeout: 90_000 });

  after(async () => {
    try {
      recheckSettled();
    } finally {
      await Promise.all([wb?.stop(), rpRs?.close(), rpEs?.close(), rpEd?.close(), rpMix?.close()]);
    }
  });

  /** checkDelivery (support/backchannel.mjs) with this file's worker, TTL and jtis. */
  const checkDelivery = (rec, opts) => check(rec, { provider, ttl: TTL_S, jtis, ...opts });

  // ---- tests -------------------------------------------------------------------------------

  it('BACKCHANNEL_INLINE_MAX=1: the first RP is told inline, the others through the queue, all of them', async () => {
    const { endpoint } = provider;
    // By the user, with a hint.
    const s = await newSession(wb, 'gus', ['rs', 'es', 'ed']);
    const hint = await mintIdToken(wb, { alg: 'EdDSA', sub: 'gus', sid: s.sid, aud: 'rs' });
    const r = await endSession(endpoint, {
      params: { id_token_hint: hint, post_logout_redirect_uri: `${rpRs.url}/bye`, state: 'q' },
      browser: s.browser,
    });
    const inline = tokensAt(rpRs, '/bc-b', 'gus');
    assert.equal(r.status, 303, r.text.slice(0, 300));
    assert.equal(r.location, `${rpRs.url}/bye?state=q`);
    assert.equal(inline.length, 1, 'the first RP has its token when the redirect comes back');
    await rpEs.waitFor((x) => x.path === '/bc-b' && x.claims?.sub === 'gus', 60_000);
    await rpEd.waitFor((x) => x.path === '/bc-b' && x.claims?.sub === 'gus', 60_000);
    const opts = { sub: 'gus', sid: s.sid, path: '/bc-b' };
    await checkDelivery(inline[0], { ...opts, client: 'rs', alg: 'RS256' });
    await checkDelivery(tokensAt(rpEs, '/bc-b', 'gus')[0], { ...opts, client: 'es', alg: 'ES256' });
    await checkDelivery(tokensAt(rpEd, '/bc-b', 'gus')[0], { ...opts, client: 'ed', alg: 'EdDSA' });

    // By the admin API: the summary says how many went to the queue.
    const t = await newSession(wb, 'hal', ['rs', 'es', 'ed']);
    const a = await wb.admin('DELETE', `/admin/sessions/${t.sid}`);
    assert.equal(a.status, 200, a.text);
    assert.deepEqual(a.json, { sessions_ended: [t.sid], backchannel: { delivered: 1, queued: 2, dead: 0 } });
    for (const rp of [rpRs, rpEs, rpEd]) await rp.waitFor((x) => x.path === '/bc-b' && x.claims?.sub === 'hal', 60_000);
    const o = { sub: 'hal', sid: t.sid, path: '/bc-b' };
    await checkDelivery(tokensAt(rpRs, '/bc-b', 'hal')[0], { ...o, client: 'rs', alg: 'RS256' });
    await checkDelivery(tokensAt(rpEs, '/bc-b', 'hal')[0], { ...o, client: 'es', alg: 'ES256' });
    await checkDelivery(tokensAt(rpEd, '/bc-b', 'hal')[0], { ...o, client: 'ed', alg: 'EdDSA' });
    for (const [sub, sid] of [['gus', s.sid], ['hal', t.sid]]) {
      const recs = () => [rpRs, rpEs, rpEd].flatMap((rp) => tokensAt(rp, '/bc-b', sub));
      // Evidence, not silence: nothing left to send by the worker's own state, then one
      // delivery per (client, sid) and every extra request a retry of a failed one.
      await settled(wb, sub, recs, { [`rs ${sid}`]: 1, [`es ${sid}`]: 1, [`ed ${sid}`]: 1 });
    }
    for (const rp of [rpRs, rpEs, rpEd]) {
      assert.equal(tokensAt(rp, '/bc-b', 'gus').length, 1, 'once each');
      assert.equal(tokensAt(rp, '/bc-b', 'hal').length, 1, 'once each');
    }
    // Queued ones had their record from the moment they were queued, gone once delivered.
    for (const status of ['queued', 'failed', 'dead']) {
      assert.deepEqual(await deliveries(wb, status, 'gus'), []);
      assert.deepEqual(await deliveries(wb, status, 'hal'), []);
    }
  });

  it('BACKCHANNEL_DEADLINE_MS bounds a delivery below BACKCHANNEL_TIMEOUT_MS', async () => {
    rpMix.script('/slowb', [{ delayMs: SLOW_MS }]); // then fast
    const s = await newSession(wb, 'ivy', ['slowb']);
    const started = Date.now();
    const r = await wb.admin('DELETE', `/admin/sessions/${s.sid}`);
    const ms = Date.now() - started;
    assert.equal(r.status, 200, r.text);
    // Bounded by the timeout alone, the worker would have had the RP's 200 (SLOW_MS <
    // TIMEOUT_MS): the deadline cut it off, so the delivery is queued, not delivered.
    assert.deepEqual(r.json.backchannel, { delivered: 0, queued: 1, dead: 0 });
    assert.ok(ms >= DEADLINE_MS - 100, `answered in ${ms} ms`);
    const cut = await rpMix.waitFor((x) => x.path === '/slowb' && x.claims?.sub === 'ivy', 60_000);
    // The worker closed the request before the RP's answer was due (SLOW_MS after it came): the
    // deadline cut the delivery. Waited for until the connection closed, however long that is:
    // had the worker waited for the answer, the request closes only after it, answered.
    const closedAt = await eventually(() => cut.closedAt, { timeoutMs: 60_000, what: 'the cut request to close' });
    assert.ok(closedAt - cut.at < SLOW_MS, `the request stayed open ${closedAt - cut.at} ms, until the RP answered: the deadline did not cut it`);
    assert.equal(cut.answeredStatus, undefined, 'the RP got to answer: the deadline did not cut the delivery');
    const failed = await deliveries(wb, 'failed', 'ivy');
    assert.deepEqual(failed.map((d) => [d.client_id, d.last_error, d.attempts]), [['slowb', 'timed out', 1]]);
    await rpMix.waitFor((x) => x.path === '/slowb' && tokensAt(rpMix, '/slowb', 'ivy').length >= 2, 60_000);
    const [one, two] = tokensAt(rpMix, '/slowb', 'ivy');
    const o = { client: 'slowb', alg: 'RS256', sub: 'ivy', sid: s.sid, path: '/slowb' };
    assert.notEqual((await checkDelivery(one, o)).jti, (await checkDelivery(two, o)).jti);
    await settled(wb, 'ivy', () => tokensAt(rpMix, '/slowb', 'ivy'), { [`slowb ${s.sid}`]: 1 });
    assert.deepEqual(await deliveries(wb, 'dead', 'ivy'), []);
  });
});
