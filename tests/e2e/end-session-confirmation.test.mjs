// End-to-end tests of the confirmation step of RP-initiated logout against the built worker
// under `wrangler dev`: when the endpoint asks (no hint, another session's or user's hint, a
// cross-site POST), what "yes" and "no" do, and that a confirmation is single-use, bound to its
// browser and cannot be forged; and a logout when already logged out.
// Run by scripts/test.sh with Node 22: node --test --test-concurrency=1 tests/e2e/*.test.mjs
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe } from 'node:test';

import { BINDING, COOKIE, startEndSessionWorld } from '../support/end-session.mjs';
import { it } from '../support/fixtures.mjs';
import { kvSnapshot } from '../support/kv.mjs';
import { Browser, confirmationForm, mintIdToken, nowS } from '../support/oidc.mjs';

describe('the end-session endpoint: the confirmation step', { timeout: 150_000 }, () => {
  let e; // the world of support/end-session.mjs
  let w;
  let rp;
  let endpoint; // from discovery
  let bye; // rp1's registered post-logout URIs
  let byeQuery;
  let bye2; // rp2's
  let newSession, exists, assertAlive, assertEnded, es, answer, sessionCookies, assertRefused;
  let assertCookieCleared, assertRedirected, assertSignedOutPage, assertConfirmation, hintFor;

  before(async () => {
    e = await startEndSessionWorld();
    ({ w, rp, endpoint, bye, byeQuery, bye2 } = e);
    ({ newSession, exists, assertAlive, assertEnded, es, answer, sessionCookies, assertRefused } = e);
    ({ assertCookieCleared, assertRedirected, assertSignedOutPage, assertConfirmation, hintFor } = e);
  }, { timeout: 90_000 });

  after(async () => {
    await e?.stop();
  });

  // ---- the confirmation step -----------------------------------------------------------------

  it('no hint, client_id and a registered URI: asks, then "yes" redirects with the state', async () => {
    const s = await newSession();
    const r = await es({ params: { client_id: 'rp1', post_logout_redirect_uri: bye, state: 'st-1' }, browser: s.browser });
    const form = await assertConfirmation(r, { what: 'client_id + URI', alive: [s.sid] });
    assert.match(r.text, /RP One/, 'the page names the client');
    assert.match(r.headers.get('content-security-policy') ?? '', new RegExp(`form-action 'self' ${rp.url.replace(/[.]/g, '\\.')}`));
    const yes = await answer(form, s.browser, 'yes');
    await assertRedirected(yes, `${bye}?state=st-1`, { what: 'yes', ended: [s.sid] });
  });

  it('no parameters: asks, then "yes" shows the signed-out page', async () => {
    const s = await newSession();
    const r = await es({ params: { state: 'only-state' }, browser: s.browser });
    const form = await assertConfirmation(r, { what: 'no parameters', alive: [s.sid] });
    const yes = await answer(form, s.browser, 'yes');
    await assertSignedOutPage(yes, { what: 'yes without URI', ended: [s.sid] });
    assert.ok(!yes.text.includes('only-state'));
  });

  it('the confirmation is single-use, bound to its browser, and cannot be forged', async () => {
    const s = await newSession();
    const page = await es({ params: { client_id: 'rp1', post_logout_redirect_uri: bye, state: 'bound' }, browser: s.browser });
    const form = await assertConfirmation(page, { what: 'first page', alive: [s.sid] });
    assert.equal(s.browser.get(BINDING), form.binding);

    // Another browser, with a session and a confirmation page of its own.
    const m = await newSession('mallory');
    const mPage = await es({ browser: m.browser });
    const mForm = await assertConfirmation(mPage, { what: 'other browser\'s page', alive: [m.sid] });
    assert.notEqual(mForm.binding, form.binding);
    assert.notEqual(mForm.token, form.token);

    const sids = [s.sid, m.sid];
    // The token posted by the other browser (its own binding cookie, and its own session).
    let r = await answer(form, m.browser, 'yes');
    await assertRefused(r, { what: 'token from another browser', sids, mention: /not issued to this browser/ });
    // The token with the session cookie but another binding cookie.
    r = await answer(form, new Browser({ [COOKIE]: s.cookie, [BINDING]: mForm.binding }), 'yes');
    await assertRefused(r, { what: 'other binding cookie', sids });
    // The token with the session cookie and no binding cookie.
    r = await answer(form, new Browser({ [COOKIE]: s.cookie }), 'yes');
    await assertRefused(r, { what: 'no binding cookie', sids });
    // The token with a made-up binding cookie of the right shape.
    r = await answer(form, new Browser({ [COOKIE]: s.cookie, [BINDING]: randomBytes(32).toString('base64url') }), 'yes');
    await assertRefused(r, { what: 'made-up binding cookie', sids });
    // Forged tokens, with the right browser.
    for (const forged of [randomBytes(32).toString('base64url'), `${form.token}x`, form.token.slice(0, -1), 'true', 'x'.repeat(200)]) {
      r = await answer(form, s.browser, 'yes', { confirm: forged, logout: 'yes' });
      await assertRefused(r, { what: `forged token ${forged.slice(0, 12)}`, sids });
    }
    // Incomplete forms.
    for (const params of [{ logout: 'yes' }, { confirm: form.token }, { confirm: form.token, logout: 'maybe' }, { confirm: '', logout: 'yes' }, { confirmed: 'true', logout: 'yes' }]) {
      r = await answer(form, s.browser, 'yes', params);
      await assertRefused(r, { what: `incomplete form ${JSON.stringify(params)}`, sids });
    }
    // Duplicated answers.
    r = await answer(form, s.browser, 'yes', [['confirm', form.token], ['logout', 'yes'], ['logout', 'yes']]);
    await assertRefused(r, { what: 'logout twice', sids, mention: /more than once/ });
    // A GET cannot confirm: it is one more logout request, which asks again.
    r = await es({ params: { confirm: form.token, logout: 'yes' }, browser: s.browser });
    const again = await assertConfirmation(r, { what: 'GET with the token', alive: sids });
    assert.notEqual(again.token, form.token);
    // None of this used the token up: its own browser can still answer.
    r = await answer(form, s.browser, 'yes');
    await assertRedirected(r, `${bye}?state=bound`, { what: 'the genuine answer', ended: [s.sid] });
    await assertAlive(m.sid, 'the other browser\'s session');

    // Replayed: the browser signed in again, and the used token comes back.
    const s2 = await newSession();
    s.browser.set(COOKIE, s2.cookie);
    r = await answer(form, s.browser, 'yes');
    await assertRefused(r, { what: 'replayed token', sids: [s2.sid, m.sid], mention: /already used/ });
    // The second page's token is still good (two open pages both stay valid), but it was shown
    // for the session that ended: the browser's session changed since, so it asks again about
    // the current one rather than ending it unasked.
    r = await answer(again, s.browser, 'yes');
    const third = await assertConfirmation(r, { what: 'second page token, session changed', alive: [s2.sid] });
    r = await answer(third, s.browser, 'yes');
    // (It was asked for without client_id or URI: it ends in the signed-out page.)
    await assertSignedOutPage(r, { what: 'asked again, then yes', ended: [s2.sid] });
  });

  it('the browser\'s session changed before "yes": ends neither, asks again about the current one', async () => {
    const first = await newSession('alice');
    const page = await es({ params: { client_id: 'rp1', post_logout_redirect_uri: bye, state: 'chg' }, browser: first.browser });
    const form = await assertConfirmation(page, { what: 'page for the first session', alive: [first.sid] });
    // Another user signs in in the same browser before the answer.
    const other = await newSession('bob');
    first.browser.set(COOKIE, other.cookie);
    let r = await answer(form, first.browser, 'yes');
    const again = await assertConfirmation(r, { what: 'asked again', alive: [first.sid, other.sid] });
    assert.notEqual(again.token, form.token);
    assert.match(r.text, /RP One/, 'the fresh page names the same client');
    assert.deepEqual(sessionCookies(r), [], 'asking again clears no cookie');
    // The first answer used the first token up.
    r = await answer(form, first.browser, 'yes');
    await assertRefused(r, { what: 'the first token again', sids: [first.sid, other.sid], mention: /already used/ });
    // "yes" on the fresh page ends the current session alone, then redirects as first asked.
    r = await answer(again, first.browser, 'yes');
    await assertRedirected(r, `${bye}?state=chg`, { what: 'yes to the fresh page', ended: [other.sid] });
    await assertAlive(first.sid, 'the session the first page was shown for');
  });

  it('a confirmation answered several times at the same moment is used once', async () => {
    // README: "A confirmation token is single-use where it was issued". Double submissions
    // (a double click, a retrying proxy) reach the same place at the same moment.
    const rounds = [];
    for (let round = 0; round < 10; round++) {
      const s = await newSession();
      const page = await es({ browser: s.browser });
      const form = await assertConfirmation(page, { what: `round ${round}`, alive: [s.sid] });
      const answers = await Promise.all(
        [0, 1, 2, 3].map(() => answer(form, new Browser(Object.fromEntries(s.browser.jar)), 'yes')),
      );
      rounds.push(answers.map((r) => r.status));
      await assertEnded(s.sid, `round ${round}`);
    }
    const reused = rounds.filter((statuses) => statuses.filter((st) => st !== 400).length !== 1);
    assert.deepEqual(reused, [], `rounds where the token was not used exactly once (statuses of 4 concurrent answers, per round): ${JSON.stringify(rounds)}`);
  });

  it('"Stay signed in" keeps the session and leaves KV unchanged, however often it is sent', async () => {
    // A script looping "load the page, answer no" must not spend the free plan's daily KV
    // writes: the answer changes nothing, so it is not single-use and writes no marker.
    const s = await newSession();
    const page = await es({ params: { client_id: 'rp1', post_logout_redirect_uri: bye }, browser: s.browser });
    const form = await assertConfirmation(page, { what: 'page', alive: [s.sid] });
    const before = kvSnapshot(w.persistTo);
    assert.ok(before.some((line) => line.includes(`session/${s.sid}`)), `the snapshot shows KV: ${before.join('\n')}`);
    for (let i = 0; i < 3; i++) {
      const no = await answer(form, s.browser, 'no');
      assert.equal(no.status, 200, no.text.slice(0, 300));
      assert.equal(no.location, null);
      assert.match(no.text, /You are still signed in/);
      assert.deepEqual(sessionCookies(no), []);
    }
    assert.deepEqual(kvSnapshot(w.persistTo), before, 'a "Stay signed in" answer wrote to KV');
    assert.equal(s.browser.get(COOKIE), s.cookie);
    await assertAlive(s.sid, '"no"');
    // The user changed their mind on the same page: "yes" ends the session, once.
    const yes = await answer(form, s.browser, 'yes');
    await assertRedirected(yes, bye, { what: '"yes" after "no"', ended: [s.sid] });
    const again = await answer(form, s.browser, 'yes');
    await assertRefused(again, { what: '"yes" replayed', sids: [], mention: /already used/ });
  });

  it('a hint of another session of the same user asks, and ends only the browser\'s session', async () => {
    const mine = await newSession('alice');
    const elsewhere = await newSession('alice');
    const hint = await hintFor(elsewhere);
    const r = await es({ params: { id_token_hint: hint, post_logout_redirect_uri: bye, state: 'o' }, browser: mine.browser });
    const form = await assertConfirmation(r, { what: 'hint of another session', alive: [mine.sid, elsewhere.sid] });
    // A hint of the browser's user without any sid does not prove it is this session either.
    const noSid = await mintIdToken(w, { sub: 'alice', aud: 'rp1' });
    const r2 = await es({ params: { id_token_hint: noSid, post_logout_redirect_uri: bye }, browser: mine.browser });
    await assertConfirmation(r2, { what: 'hint without sid', alive: [mine.sid, elsewhere.sid] });
    const yes = await answer(form, mine.browser, 'yes');
    await assertRedirected(yes, `${bye}?state=o`, { what: 'yes', ended: [mine.sid] });
    await assertAlive(elsewhere.sid, 'the hint\'s session');
  });

  it('a hint of another user asks, and never ends that user\'s session from this browser', async () => {
    const alice = await newSession('alice');
    const bob = await newSession('bob');
    const hint = await hintFor(bob);
    // Even a hint whose sid names the browser's session, but for another sub, is not the browser's.
    const mixed = await mintIdToken(w, { sub: 'bob', sid: alice.sid, aud: 'rp1' });
    for (const h of [hint, mixed]) {
      const r = await es({ params: { id_token_hint: h, post_logout_redirect_uri: bye }, browser: alice.browser });
      await assertConfirmation(r, { what: 'hint of another user', alive: [alice.sid, bob.sid] });
    }
    const r = await es({ params: { id_token_hint: hint, post_logout_redirect_uri: bye, state: 'b' }, browser: alice.browser });
    const form = await assertConfirmation(r, { what: 'hint of another user', alive: [alice.sid, bob.sid] });
    const yes = await answer(form, alice.browser, 'yes');
    await assertRedirected(yes, `${bye}?state=b`, { what: 'yes', ended: [alice.sid] });
    await assertAlive(bob.sid, 'the other user\'s session');
  });

  it('a cross-site POST without cookies asks, then ends the hint\'s session', async () => {
    const s = await newSession();
    const bystander = await newSession('alice');
    const hint = await hintFor(s);
    const browser = new Browser(); // SameSite=Lax: no cookie on a cross-site POST
    const r = await es({ method: 'POST', params: { id_token_hint: hint, post_logout_redirect_uri: bye, state: 'x-site' }, browser });
    const form = await assertConfirmation(r, { what: 'cross-site POST', alive: [s.sid, bystander.sid] });
    assert.equal(browser.get(COOKIE), undefined);
    const yes = await answer(form, browser, 'yes');
    await assertRedirected(yes, `${bye}?state=x-site`, { what: 'yes', ended: [s.sid] });
    await assertAlive(bystander.sid, 'another session of the user');

    // A hint naming a session of another subject: without a cookie, nothing is at stake.
    const bob = await newSession('bob');
    const forged = await mintIdToken(w, { sub: 'alice', sid: bob.sid, aud: 'rp1' });
    const r2 = await es({ method: 'POST', params: { id_token_hint: forged, post_logout_redirect_uri: bye }, browser: new Browser() });
    // Nothing of alice's is at stake: "already logged out", straight to the URI.
    assert.equal(r2.status, 303, r2.text.slice(0, 300));
    assert.equal(r2.location, bye);
    await assertAlive(bob.sid, 'bob\'s session named by alice\'s hint');
  });

  it('a hint that expired two days ago, sent without the session\'s cookie, ends nothing; a current one still can', async () => {
    // HINT_MAX_AGE_S (default a day past exp): an ID token leaked long ago must not end a
    // session without the browser's cookie, whatever the answer; it still names its client.
    const s = await newSession();
    const iat = nowS() - 2 * 86_400 - 3600;
    const old = await hintFor(s, { iat, exp: iat + 3600 });
    for (const method of ['GET', 'POST']) {
      const r = await es({ method, params: { id_token_hint: old, post_logout_redirect_uri: bye, state: 'old' }, browser: new Browser() });
      assert.equal(r.status, 303, `${method}: ${r.text.slice(0, 300)}`);
      assert.equal(r.location, `${bye}?state=old`, `${method}: the RP still gets its redirect`);
      assert.equal(confirmationForm(r.text), null, `${method}: no confirmation that could end it`);
      await assertAlive(s.sid, `${method} with a hint two days past exp and no cookie`);
    }
    // A current hint for the same session, without the cookie: asks, and "yes" ends it.
    const browser = new Browser();
    const r = await es({ method: 'POST', params: { id_token_hint: await hintFor(s), post_logout_redirect_uri: bye, state: 'new' }, browser });
    const form = await assertConfirmation(r, { what: 'current hint without cookie', alive: [s.sid] });
    const yes = await answer(form, browser, 'yes');
    await assertRedirected(yes, `${bye}?state=new`, { what: 'yes to a current hint', ended: [s.sid] });
  });

  it('already logged out: still redirects to a valid URI, or shows the signed-out page', async () => {
    const s = await newSession();
    const hint = await hintFor(s);
    const stale = new Browser({ [COOKIE]: s.cookie });
    let r = await es({ params: { id_token_hint: hint, post_logout_redirect_uri: bye, state: '1' }, browser: s.browser });
    await assertRedirected(r, `${bye}?state=1`, { what: 'first logout', ended: [s.sid] });
    // The same request again: no cookie now.
    r = await es({ params: { id_token_hint: hint, post_logout_redirect_uri: bye, state: '2' }, browser: s.browser });
    assert.equal(r.status, 303, r.text.slice(0, 200));
    assert.equal(r.location, `${bye}?state=2`);
    // With the stale cookie.
    r = await es({ params: { id_token_hint: hint, post_logout_redirect_uri: bye, state: '3' }, browser: stale });
    assert.equal(r.status, 303, r.text.slice(0, 200));
    assert.equal(r.location, `${bye}?state=3`);
    // Without a URI.
    r = await es({ params: { id_token_hint: hint }, browser: new Browser() });
    assert.equal(r.status, 200);
    assert.match(r.text, /You are signed out/);
    // Still checked: a wrong URI is refused even with nothing to end.
    r = await es({ params: { id_token_hint: hint, post_logout_redirect_uri: `${bye}?foo=bar` }, browser: new Browser() });
    await assertRefused(r, { what: 'wrong URI, nothing to end' });
    // A hint of a session that never existed.
    const ghost = await mintIdToken(w, { sub: 'alice', sid: 'never-existed', aud: 'rp1' });
    r = await es({ params: { id_token_hint: ghost, post_logout_redirect_uri: bye }, browser: new Browser() });
    assert.equal(r.status, 303);
    assert.equal(r.location, bye);
  });
});
