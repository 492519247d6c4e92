// The world of the end-session files (end-session*.test.mjs): a worker and a recording RP with
// two clients without back- or front-channel URIs (the logout answers directly), and the checks
// of what the end-session endpoint answers: a redirect, the signed-out page, a confirmation, a
// refusal.
//
//   let e; before(async () => { e = await startEndSessionWorld(); });  after(() => e?.stop());
//   const s = await e.newSession();  const r = await e.es({ params: {...}, browser: s.browser });
//   await e.assertRedirected(r, e.bye, { what, ended: [s.sid] });
import assert from 'node:assert/strict';

import { assertRefused as refused, exists as existsAt, newSession as newSessionAt, sessionCookies as cookiesOf } from './fixtures.mjs';
import { confirmationForm, discover, endSession, mintIdToken, parseSetCookie } from './oidc.mjs';
import { start as startRp } from '../../tools/rp.mjs';
import { startWorker } from '../../tools/worker.mjs';

export const COOKIE = 'op_session';
export const BINDING = 'op_session_confirm';

/**
 * Starts the worker and the RP and registers rp1 (post-logout URIs bye and byeQuery) and rp2
 * (bye2). Returns {w, rp, endpoint, bye, byeQuery, bye2, stop()} and the helpers below.
 */
export async function startEndSessionWorld() {
  const [w, rp] = await Promise.all([startWorker(), startRp()]);
  const stop = () => Promise.all([w.stop(), rp.close()]);
  const bye = `${rp.url}/bye`;
  const byeQuery = `${rp.url}/bye?from=op`;
  const bye2 = `${rp.url}/bye2`;
  let endpoint;
  try {
    let r = await w.admin('PUT', '/admin/clients/rp1', {
      redirect_uris: [`${rp.url}/cb`],
      post_logout_redirect_uris: [bye, byeQuery],
      client_name: 'RP One',
    });
    assert.equal(r.status, 201, r.text);
    r = await w.admin('PUT', '/admin/clients/rp2', {
      redirect_uris: [`${rp.url}/cb2`],
      post_logout_redirect_uris: [bye2],
    });
    assert.equal(r.status, 201, r.text);
    endpoint = (await discover(w)).end_session_endpoint;
  } catch (e) {
    await stop();
    throw e;
  }

  /** A new session of `sub` (with rp1 and rp2), and a browser holding its cookie. */
  const newSession = (sub = 'alice', clients = ['rp1', 'rp2']) => newSessionAt(w, sub, clients);
  const exists = (sid) => existsAt(w, sid);

  async function assertAlive(sid, what) {
    assert.ok(await exists(sid), `${what}: the session ${sid} was ended`);
  }

  async function assertEnded(sid, what) {
    assert.ok(!(await exists(sid)), `${what}: the session ${sid} still exists`);
  }

  /** A request to the endpoint from discovery; every answer must be uncacheable. */
  async function es(opts = {}) {
    const r = await endSession(endpoint, opts);
    assert.equal(r.headers.get('cache-control'), 'no-store', `cache-control of a ${r.status}`);
    return r;
  }

  /** Posts the user's answer to the confirmation form of `form`. */
  async function answer(form, browser, logout, params) {
    const r = await endSession(new URL(form.action, endpoint).href, {
      method: 'POST',
      params: params ?? { confirm: form.token, logout },
      browser,
    });
    assert.equal(r.headers.get('cache-control'), 'no-store', `cache-control of a ${r.status}`);
    return r;
  }

  const sessionCookies = (r) => cookiesOf(r.setCookies);

  /** A refusal: 400, an error page (or JSON), no redirect, no cookie change; the sessions live. */
  const assertRefused = (r, { json = false, ...opts }) => refused(r, { as: json ? 'json' : 'page', worker: w, ...opts });

  /** The session cookie was cleared, with the attributes it was set with. */
  function assertCookieCleared(r, what) {
    const cleared = sessionCookies(r);
    assert.equal(cleared.length, 1, `${what}: one Set-Cookie for ${COOKIE}: ${JSON.stringify(r.setCookies)}`);
    assert.equal(cleared[0].value, '', what);
    assert.equal(cleared[0].attrs['max-age'], '0', what);
    assert.equal(cleared[0].attrs.path, '/', what);
    assert.equal(cleared[0].attrs.httponly, true, what);
  }

  /** A logout that redirects to exactly `location`. */
  async function assertRedirected(r, location, { what, ended = [] }) {
    assert.equal(r.status, 303, `${what}: status (body ${r.text.slice(0, 300)})`);
    assert.equal(r.location, location, `${what}: Location`);
    assertCookieCleared(r, what);
    for (const sid of ended) await assertEnded(sid, what);
  }

  /** A logout that shows the signed-out page. */
  async function assertSignedOutPage(r, { what, ended = [] }) {
    assert.equal(r.status, 200, `${what}: status (body ${r.text.slice(0, 300)})`);
    assert.equal(r.location, null, `${what}: no redirect`);
    assert.match(r.contentType, /^text\/html/, what);
    assert.match(r.text, /You are signed out/, `${what}: not the signed-out page`);
    assert.equal(confirmationForm(r.text), null, what);
    assertCookieCleared(r, what);
    for (const sid of ended) await assertEnded(sid, what);
  }

  /** A confirmation page: its form (token, buttons) and the browser-binding cookie. */
  async function assertConfirmation(r, { what, alive = [] }) {
    assert.equal(r.status, 200, `${what}: status (body ${r.text.slice(0, 300)})`);
    assert.equal(r.location, null, `${what}: no redirect before the user answered`);
    assert.deepEqual(sessionCookies(r), [], `${what}: the session cookie stays until the user answered`);
    const form = confirmationForm(r.text);
    assert.ok(form, `${what}: no confirmation form in ${r.text.slice(0, 500)}`);
    assert.equal(form.action, new URL(endpoint).pathname, `${what}: the form posts back to the endpoint`);
    assert.match(form.token ?? '', /^[A-Za-z0-9_-]{32,}$/, `${what}: confirmation token`);
    assert.deepEqual(form.buttons, ['yes', 'no'], what);
    const binding = r.setCookies.map(parseSetCookie).filter((c) => c.name === BINDING);
    assert.equal(binding.length, 1, `${what}: binding cookie: ${JSON.stringify(r.setCookies)}`);
    assert.match(binding[0].value, /^[A-Za-z0-9_-]{43}$/, what);
    assert.equal(binding[0].attrs.path, new URL(endpoint).pathname, `${what}: binding cookie path`);
    assert.equal(binding[0].attrs.httponly, true, `${what}: binding cookie HttpOnly`);
    assert.equal(binding[0].attrs.samesite, 'Strict', `${what}: binding cookie SameSite`);
    assert.ok(Number(binding[0].attrs['max-age']) > 0, `${what}: binding cookie Max-Age`);
    for (const sid of alive) await assertAlive(sid, `${what}: nothing may end before the user answers`);
    return { ...form, binding: binding[0].value };
  }

  const hintFor = (s, opts = {}) => mintIdToken(w, { sub: s.sub, sid: s.sid, aud: 'rp1', ...opts });

  return {
    w, rp, endpoint, bye, byeQuery, bye2, stop,
    newSession, exists, assertAlive, assertEnded, es, answer, sessionCookies, assertRefused,
    assertCookieCleared, assertRedirected, assertSignedOutPage, assertConfirmation, hintFor,
  };
}
