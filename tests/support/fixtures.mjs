// What the end-to-end files share beyond the protocol helpers of oidc.mjs: sessions made through
// the admin API, the admin API's view of the state, the check of a refused end-session request,
// waiting for the back-channel queue to go quiet, and `it` that prints the worker's log when a
// test fails.
//
//   import { it, newSession, exists, snapshot, assertRefused, settled } from '../support/fixtures.mjs';
//   const s = await newSession(w, 'alice', ['rp1']);  // {sid, sub, cookie, cookieName, browser}
//   await assertRefused(r, { what: 'forged hint', status: 400, mention: /not issued/, as: 'page' });
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { it as nodeIt } from 'node:test';

import { Browser, confirmationForm, eventually, parseSetCookie } from './oidc.mjs';
import { runningWorkers } from '../../tools/worker.mjs';

export const SESSION_COOKIE = 'op_session';

// ---- failures print the worker's log -------------------------------------------------------

function printWorkerLogs(testName, why) {
  for (const w of runningWorkers()) {
    process.stderr.write(`\n---- ${testName}: ${why}; the last lines of wrangler dev on ${w.url} ----\n${w.logTail(60)}\n---- end of ${w.url}'s log ----\n`);
  }
}

/**
 * node:test's `it`, except that when the test fails (an error, or cancelled by its timeout) the
 * tail of the `wrangler dev` log of every worker this file has running goes to stderr. A wrapper,
 * because the context of afterEach has no outcome in every Node 22.
 */
export function it(name, options, fn) {
  if (typeof options === 'function') [options, fn] = [{}, options];
  return nodeIt(name, options, async (t) => {
    // The runner aborts the signal when the test times out; fn's promise is left pending then.
    const onAbort = () => printWorkerLogs(name, 'cancelled (timeout?)');
    t.signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await fn(t);
    } catch (e) {
      printWorkerLogs(name, 'failed');
      throw e;
    } finally {
      t.signal.removeEventListener('abort', onAbort);
    }
  });
}

// ---- sessions through the admin API ----------------------------------------------------------

/**
 * A new session of `sub` at `worker`, recorded with `clients`; checks the 201. Returns
 * {sid, sub, cookie, cookieName, browser (a Browser holding the cookie), json (the answer)}.
 */
export async function newSession(worker, sub, clients = []) {
  const r = await worker.admin('POST', '/admin/sessions', { sub, clients });
  assert.equal(r.status, 201, `new session of ${sub}: ${r.text}`);
  assert.equal(r.json.cookie_name, SESSION_COOKIE, 'the session cookie name');
  worker.neverLog?.add(r.json.cookie);
  return {
    sid: r.json.sid,
    sub,
    cookie: r.json.cookie,
    cookieName: r.json.cookie_name,
    browser: new Browser({ [r.json.cookie_name]: r.json.cookie }),
    json: r.json,
  };
}

/** Whether session `sid` exists at `worker` (the admin API answers 200, or 404). */
export async function exists(worker, sid) {
  const r = await worker.admin('GET', `/admin/sessions/${encodeURIComponent(sid)}`);
  assert.ok(r.status === 200 || r.status === 404, `GET session ${sid}: ${r.status} ${r.text}`);
  return r.status === 200;
}

/** What the admin API shows of `worker`: every client, and the sessions of `subs` (by sid). */
export async function snapshot(worker, subs = ['alice', 'mallory']) {
  const clients = await worker.admin('GET', '/admin/clients');
  assert.equal(clients.status, 200, clients.text);
  const sessions = {};
  for (const sub of subs) {
    const r = await worker.admin('GET', `/admin/sessions?sub=${encodeURIComponent(sub)}`);
    assert.equal(r.status, 200, r.text);
    sessions[sub] = r.json.sessions.sort((a, b) => a.sid.localeCompare(b.sid));
  }
  return { clients: clients.json, sessions };
}

/** The Set-Cookie headers of an answer that set or clear the session cookie. */
export const sessionCookies = (setCookies) => setCookies.map(parseSetCookie).filter((c) => c.name === SESSION_COOKIE);

/**
 * A refused end-session request: `status` (400), no redirect, the session cookie untouched, not
 * cacheable, and `mention` in the body. `as`: 'page' (the HTML error page, no form), 'json'
 * (an invalid_request error object), or null (any body). `worker` and `sids`: sessions that must
 * still exist.
 */
export async function assertRefused(r, { what, status = 400, mention, as = null, worker, sids = [] }) {
  assert.equal(r.status, status, `${what}: status (body ${r.text.slice(0, 300)})`);
  assert.equal(r.location, null, `${what}: a refusal must not redirect`);
  assert.deepEqual(sessionCookies(r.setCookies), [], `${what}: a refusal must not touch the session cookie`);
  assert.equal(r.headers.get('cache-control'), 'no-store', `${what}: cache-control`);
  if (as === 'json') {
    assert.match(r.contentType, /^application\/json/, `${what}: content-type`);
    const body = JSON.parse(r.text);
    assert.equal(body.error, 'invalid_request', `${what}: error`);
    assert.equal(typeof body.error_description, 'string', `${what}: error_description`);
    if (mention) assert.match(body.error_description, mention, `${what}: ${body.error_description}`);
  } else if (as === 'page') {
    assert.match(r.contentType, /^text\/html/, `${what}: content-type`);
    assert.match(r.text, /Sign-out could not proceed/, `${what}: not the error page`);
    assert.equal(confirmationForm(r.text), null, `${what}: an error page has no confirmation form`);
    if (mention) assert.match(r.text, mention, `${what}: the page does not say why`);
  } else if (mention) {
    assert.match(r.text, mention, `${what}: the answer does not say why`);
  }
  for (const sid of sids) assert.ok(await exists(worker, sid), `${what}: the session ${sid} was ended`);
}

/**
 * A confirmation page: 200, no redirect, and a confirmation form with a token (returned).
 * `notToken`: a token the new form must not carry (a new confirmation, not an old one).
 */
export function assertConfirmationPage(r, what, { notToken } = {}) {
  assert.equal(r.status, 200, `${what}: status (body ${r.text.slice(0, 300)})`);
  assert.equal(r.location, null, `${what}: no redirect before the user answered`);
  const form = confirmationForm(r.text);
  assert.ok(form, `${what}: no confirmation form in ${r.text.slice(0, 300)}`);
  assert.match(form.token ?? '', /^[A-Za-z0-9_-]{32,}$/, `${what}: confirmation token`);
  assert.deepEqual(form.buttons, ['yes', 'no'], `${what}: the buttons`);
  if (notToken !== undefined) assert.notEqual(form.token, notToken, `${what}: the old confirmation again`);
  return form;
}

// ---- exactly once, by evidence -----------------------------------------------------------------

/**
 * The keys under `prefix` in the local KV of `worker` (wrangler dev's --persist-to directory,
 * read straight from miniflare's SQLite files): what the worker itself still holds, e.g.
 * `outbox/` (deliveries of a logout not yet handed off). Expired keys are left out.
 */
export function localKvKeys(worker, prefix) {
  const root = path.join(worker.persistTo, 'v3', 'kv');
  const files = fs.existsSync(root) ? fs.readdirSync(root, { recursive: true }).filter((f) => String(f).endsWith('.sqlite')) : [];
  const keys = [];
  const now = Date.now();
  for (const f of files) {
    const db = new DatabaseSync(path.join(root, String(f)), { readOnly: true });
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_mf_entries'").all();
      if (tables.length === 0) continue;
      for (const row of db.prepare('SELECT key, expiration FROM _mf_entries WHERE key >= ? AND key < ?').all(prefix, `${prefix}\uffff`)) {
        if (row.expiration === null || row.expiration === undefined || Number(row.expiration) > now) keys.push(row.key);
      }
    } finally {
      db.close();
    }
  }
  return keys;
}

/**
 * The outbox records that hold what a logout could not hand off (`outbox/{logout_id}.{suffix}`,
 * due at once). A logout's own record, `outbox/{logout_id}` (no dot), stays until its look runs
 * (src/protocol/logout.rs RECHECK_DELAYS_S, minutes later) and is not a leftover.
 */
export function leftInOutbox(worker) {
  return localKvKeys(worker, 'outbox/').filter((k) => k.slice('outbox/'.length).includes('.'));
}

/** The key of a back-channel request in the tallies below: its audience and its sid ('-': none). */
export const deliveryKey = (rec) => `${rec.claims?.aud} ${rec.claims?.sid ?? '-'}`;

/**
 * Checks that every logical delivery arrived exactly once, by counting: `records` (back-channel
 * requests the RP stubs recorded, with claims) grouped per (client, sid); `expected` maps each
 * such key to the number of deliveries planned for it (1 for a session logout; a user-wide token
 * has no sid and may be planned more than once). Per key: exactly that many requests were
 * answered 2xx (a 2xx is a delivery: one more is a duplicate), and every other request was
 * answered otherwise or not at all (a failed attempt: the retry that followed it is the only
 * reason for a further request). Every jti is distinct. Returns the tallies by key.
 */
export function assertExactlyOnce(records, expected, what = 'deliveries') {
  const byKey = new Map();
  for (const rec of records) {
    const k = deliveryKey(rec);
    if (!byKey.has(k)) byKey.set(k, []);
    byKey.get(k).push(rec);
  }
  const unexpected = [...byKey.keys()].filter((k) => !(k in expected));
  assert.deepEqual(unexpected, [], `${what}: tokens nobody planned`);
  const tallies = {};
  for (const [k, want] of Object.entries(expected)) {
    const recs = byKey.get(k) ?? [];
    const ok = recs.filter((r) => r.answeredStatus >= 200 && r.answeredStatus < 300);
    const failedAttempts = recs.filter((r) => !(r.answeredStatus >= 200 && r.answeredStatus < 300));
    tallies[k] = { delivered: ok.length, retriedAfter: failedAttempts.length };
    assert.equal(ok.length, want, `${what}: ${k}: ${ok.length} deliveries answered 2xx, ${want} planned (${recs.map((r) => r.answeredStatus ?? 'unanswered').join(', ')})`);
    // Each failed attempt is followed by the attempt it caused: the last request of a key that
    // was delivered is a delivery, never a failure nobody retried.
    if (recs.length > 0 && want > 0) {
      const last = recs.reduce((a, b) => (b.at >= a.at ? b : a));
      assert.ok(last.answeredStatus >= 200 && last.answeredStatus < 300, `${what}: ${k}: the last request was not delivered (${last.answeredStatus ?? 'unanswered'})`);
    }
  }
  const jtis = records.map((r) => r.claims?.jti);
  assert.equal(new Set(jtis).size, jtis.length, `${what}: a jti sent twice: ${JSON.stringify(jtis)}`);
  return tallies;
}

// What settled() checked in this process: checked again by recheckSettled() (a file's `after`),
// so that a duplicate that came after a test settled still fails the file.
const ledger = [];

/**
 * Waits until `worker` has nothing left to send for `sub`, by its own state, then checks exactly
 * once by counting (assertExactlyOnce). Nothing left to send: no delivery of `sub` is listed as
 * failed (no retry pending), the worker's outbox (KV `outbox/`) is empty (nothing left between
 * the decision to notify and the queue), and each planned delivery of `expected` has arrived
 * (the messages that were queued have been consumed). No window of silence decides anything.
 * `records()`: the back-channel requests of `sub` at the RP stubs. Returns the tallies.
 */
export async function settled(worker, sub, records, expected, { timeoutMs = 90_000 } = {}) {
  const plannedOf = (k) => expected[k];
  await eventually(async () => {
    const got = new Map();
    for (const rec of records()) {
      if (rec.answeredStatus >= 200 && rec.answeredStatus < 300) got.set(deliveryKey(rec), (got.get(deliveryKey(rec)) ?? 0) + 1);
    }
    if (Object.keys(expected).some((k) => (got.get(k) ?? 0) < plannedOf(k))) return false;
    const r = await worker.admin('GET', '/admin/deliveries?status=failed');
    assert.equal(r.status, 200, r.text);
    if (r.json.deliveries.some((d) => d.sub === sub)) return false;
    return leftInOutbox(worker).length === 0;
  }, { timeoutMs, intervalMs: 200, what: `${sub}: every planned delivery made, no retry pending, nothing left in the outbox` });
  const tallies = assertExactlyOnce(records(), expected, sub);
  ledger.push({ sub, records, expected });
  return tallies;
}

/** assertExactlyOnce again for everything settled() checked so far (a file's `after`, before the RP stubs close). */
export function recheckSettled() {
  for (const { sub, records, expected } of ledger.splice(0)) assertExactlyOnce(records(), expected, `${sub}, at the end of the file`);
}
