// What the end-to-end files share beyond the protocol helpers of oidc.mjs: sessions made through
// the admin API, the admin API's view of the state, the check of a refused end-session request,
// waiting for the back-channel queue to go quiet, and `it` that prints the worker's log when a
// test fails.
//
//   import { it, newSession, exists, snapshot, assertRefused, settled } from '../support/fixtures.mjs';
//   const s = await newSession(w, 'alice', ['rp1']);  // {sid, sub, cookie, cookieName, browser}
//   await assertRefused(r, { what: 'forged hint', status: 400, mention: /not issued/, as: 'page' });
import assert from 'node:assert/strict';
import { it as nodeIt } from 'node:test';

import { Browser, confirmationForm, eventually, parseSetCookie, sleep } from './oidc.mjs';
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

// ---- the back-channel queue going quiet ------------------------------------------------------

// Longer than the queue consumer's max_batch_timeout (1 s, wrangler.toml) with room to spare:
// a message that was queued is handed to the consumer within it.
export const QUIET_MS = 2500;

/**
 * Waits until the back-channel traffic of `sub` at `worker` is over: no delivery of `sub` is
 * listed as failed (none waits for a retry), and `count()` (e.g. tokens an RP stub got) has then
 * not changed for QUIET_MS. Returns the final count. A token delivered twice, or late, shows in
 * the count; one that is lost shows as a count below the expected one.
 */
export async function settled(worker, sub, count, { timeoutMs = 40_000 } = {}) {
  await eventually(async () => {
    const r = await worker.admin('GET', '/admin/deliveries?status=failed');
    assert.equal(r.status, 200, r.text);
    return r.json.deliveries.every((d) => d.sub !== sub);
  }, { timeoutMs, intervalMs: 200, what: `no delivery of ${sub} waiting for a retry` });
  let last = count();
  let since = Date.now();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() - since < QUIET_MS) {
    if (Date.now() > deadline) throw new Error(`${sub}: deliveries kept arriving for ${timeoutMs} ms`);
    await sleep(100);
    const now = count();
    if (now !== last) [last, since] = [now, Date.now()];
  }
  return last;
}
