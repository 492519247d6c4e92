// The world of the hostile-request files (hostile-*.test.mjs): a worker and a recording RP with
// three clients, a live "victim" session every hostile request must leave alone, and the
// checks that a group of requests changed nothing.
//
//   let h; before(async () => { h = await startHostileWorld(); });  after(() => h?.stop());
//   const r = await endSession(h.endpoint, { params: h.victimQuery('state=x'), browser: h.victimBrowser() });
//   await h.assertUnchanged(before, 'what');
import assert from 'node:assert/strict';
import net from 'node:net';

import { assertConfirmationPage, exists, newSession, snapshot } from './fixtures.mjs';
import { Browser, discover, endSession, mintIdToken } from './oidc.mjs';
import { start as startRp } from '../../tools/rp.mjs';
import { startWorker } from '../../tools/worker.mjs';

export const COOKIE = 'op_session';
export const BINDING = 'op_session_confirm';
/** The subjects whose sessions the snapshots compare (throwaway sessions use others). */
export const SUBS = ['alice', 'mallory'];
export const KB = 1024;

/** The worker's encoding of a state into a query: every byte but A-Z a-z 0-9 - . _ ~ escaped. */
export function encodeStrict(s) {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Sends `data` (bytes, as is) to 127.0.0.1:`port` and reads the answer until the server closes
 * (send `Connection: close`). Rejects on a reset or when no complete answer came in time.
 * Returns {status, headers: [[lower-case name, value]], head, body}.
 */
export function rawHttp(port, data, { timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${timeoutMs} ms: ${Buffer.concat(chunks).toString('latin1').slice(0, 200)}`));
    }, timeoutMs);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`connection error (${e.code ?? e.message}) after ${Buffer.concat(chunks).length} bytes`));
    });
    socket.on('end', () => {
      clearTimeout(timer);
      socket.end();
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      if (split < 0) return reject(new Error(`no HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
      const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
      if (!m) return reject(new Error(`bad status line ${JSON.stringify(statusLine)}`));
      const headers = lines.map((l) => {
        const i = l.indexOf(':');
        return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
      });
      resolve({ status: Number(m[1]), headers, head: text.slice(0, split), body: text.slice(split + 4) });
    });
    socket.write(data);
  });
}


/** An admin API error: status, JSON {error, error_description}. */
export function assertAdminError(r, status, error, what) {
  assert.equal(r.status, status, `${what}: status (body ${r.text.slice(0, 300)})`);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/, `${what}: content-type`);
  if (error) assert.equal(r.json?.error, error, `${what}: error (body ${r.text.slice(0, 300)})`);
  assert.equal(typeof r.json?.error_description, 'string', `${what}: error_description`);
}

/**
 * Starts the worker and the RP, registers rp1, rp2 and rpfc (a front-channel client with a
 * hostile name), and makes the victim's session. Returns the world: {w, rp, endpoint, endPath,
 * bye, byeFc, victim, victimHint} and its helpers; `stop()` ends it.
 */
export async function startHostileWorld() {
  const [w, rp] = await Promise.all([startWorker(), startRp()]);
  const world = { w, rp, stop: () => Promise.all([w.stop(), rp.close()]) };
  try {
    const bye = `${rp.url}/bye`;
    const byeFc = `${rp.url}/bye-fc?a=1&b=2`;
    let r = await w.admin('PUT', '/admin/clients/rp1', {
      redirect_uris: [`${rp.url}/cb`],
      post_logout_redirect_uris: [bye],
      client_name: 'RP One',
    });
    assert.equal(r.status, 201, r.text);
    r = await w.admin('PUT', '/admin/clients/rp2', { redirect_uris: [`${rp.url}/cb2`], post_logout_redirect_uris: [`${rp.url}/bye2`] });
    assert.equal(r.status, 201, r.text);
    r = await w.admin('PUT', '/admin/clients/rpfc', {
      redirect_uris: [`${rp.url}/cb`],
      post_logout_redirect_uris: [byeFc],
      frontchannel_logout_uri: `${rp.url}/fc`,
      client_name: '<img src=x onerror=alert(1)>"\'&',
    });
    assert.equal(r.status, 201, r.text);
    const endpoint = (await discover(w)).end_session_endpoint;
    Object.assign(world, { bye, byeFc, endpoint, endPath: new URL(endpoint).pathname });
    // The live session every group must leave alone, and a valid hint for it: with its cookie,
    // a request that would log out at once.
    world.victim = await newSession(w, 'alice', ['rp1', 'rp2']);
    world.victimHint = await mintIdToken(w, { sub: 'alice', sid: world.victim.sid, aud: 'rp1' });
  } catch (e) {
    await world.stop();
    throw e;
  }

  /** A new session of `sub` (with rp1 unless told). */
  world.newSession = (sub, clients = ['rp1']) => newSession(w, sub, clients);
  world.exists = (sid) => exists(w, sid);
  /** What the admin API shows: every client, and the sessions of SUBS. */
  world.snapshot = () => snapshot(w, SUBS);

  /** Nothing changed since `before`, and the victim's browser still has its session. */
  world.assertUnchanged = async (before, what) => {
    assert.deepEqual(await world.snapshot(), before, `${what}: the clients or sessions changed`);
    assert.ok(await exists(w, world.victim.sid), `${what}: the live session was ended`);
    // Its cookie still names it: a plain logout request asks for confirmation.
    const r = await endSession(world.endpoint, { browser: world.victimBrowser() });
    assertConfirmationPage(r, `${what}: the live session's cookie`);
  };

  /** The victim's valid logout request (or the same with another `hint`), plus `extra` (a raw query piece). */
  world.victimQuery = (extra = '', hint = world.victimHint) =>
    `${new URLSearchParams({ id_token_hint: hint, post_logout_redirect_uri: world.bye })}${extra ? `&${extra}` : ''}`;
  world.victimBrowser = () => new Browser({ [COOKIE]: world.victim.cookie });

  /** A genuinely signed hint (claims as mintIdToken takes them) exactly `length` bytes long. */
  world.hintOfLength = async (length, claims) => {
    for (const alg of ['ES256', 'EdDSA', 'RS256']) {
      for (let h = 0; h < 4; h++) {
        const header = { x: 'y'.repeat(h) };
        const probe = await mintIdToken(w, { alg, ...claims, header, extra: { pad: '' } });
        const guess = Math.floor(((length - probe.length) * 3) / 4);
        for (let p = Math.max(0, guess - 3); p <= guess + 3; p++) {
          const t = await mintIdToken(w, { alg, ...claims, header, extra: { pad: 'p'.repeat(p) } });
          if (t.length === length) return t;
        }
      }
    }
    throw new Error(`no hint of exactly ${length} bytes`);
  };
  return world;
}
