// Our worker in the bench: started from a copy of build/ with fresh keys, the relying parties'
// client sets, sessions with their hints, and the logout request itself.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { generateVars } from '../../tools/keys.mjs';
import { freePort, ROOT } from '../../tools/worker.mjs';
import { groupMeter } from './cpu.mjs';
import { r2 } from './load.mjs';
import { adminApi, createSessions, hintMinter } from './oidc.mjs';
import { projectConfig, snapshotBuild, startWrangler } from './wrangler.mjs';

/** Starts the worker (a copy of build/ under ctx.work) with fresh keys and `extraVars`; stopped by the run's cleanup. */
export async function startOurs(ctx, label, extraVars = {}, { noConsumer = false, buildDir = 'build', profileFirst = false } = {}) {
  const dir = path.join(ctx.work, label);
  fs.mkdirSync(dir, { recursive: true });
  const main = snapshotBuild(dir, buildDir);
  const port = await freePort();
  const vars = { ...generateVars({ port }), ...extraVars };
  let configText = projectConfig(main);
  // Without the consumers (the queue's and the dead-letter queue's), queued messages wait: no
  // consumer work overlaps a request.
  if (noConsumer) configText = configText.replace(/^\[\[queues\.consumers\]\][\s\S]*?(?=^\[|^#)/gm, '');
  if (noConsumer && /queues\.consumers/.test(configText)) throw new Error('could not remove the queue consumer');
  const w = await startWrangler({ configText, vars, port, probe: '/.well-known/openid-configuration', label, profileFirst });
  ctx.cleanups.push(() => w.stop());
  return { ...w, vars, admin: adminApi(w.url, vars.ADMIN_TOKEN), mint: await hintMinter(vars), meter: groupMeter(w.pid) };
}

/**
 * Builds a variant of the worker with cargo `features` into build-<features>/ (scripts/build.sh;
 * skipped when up to date), with `env` (bench-memory wants EDGE_LOGOUT_BENCH=1). Returns the folder.
 */
export function buildVariant(features, env = {}) {
  const b = spawnSync('bash', ['scripts/build.sh'], { cwd: ROOT, env: { ...process.env, EDGE_LOGOUT_FEATURES: features, ...env }, encoding: 'utf8', timeout: 900_000 });
  if (b.status !== 0) throw new Error(`variant build (${features}) failed: ${b.stderr.slice(-1500)}`);
  return `build-${features.replace(/[^a-z0-9-]/g, '-')}`;
}

export const CLIENT_SETS = {
  mix: [['mix-a', 'RS256'], ['mix-b', 'ES256'], ['mix-c', 'RS256']],
  nobc: [['nobc-a', 'RS256'], ['nobc-b', 'ES256'], ['nobc-c', 'RS256']],
  rs256: [['rs-a', 'RS256'], ['rs-b', 'RS256'], ['rs-c', 'RS256']],
  es256: [['es-a', 'ES256'], ['es-b', 'ES256'], ['es-c', 'ES256']],
  eddsa: [['ed-a', 'EdDSA'], ['ed-b', 'EdDSA'], ['ed-c', 'EdDSA']],
};
export const clientsOf = (set) => CLIENT_SETS[set].map(([id, alg]) => ({ id, alg, backchannel: set !== 'nobc' }));
const MIX_ALGS = ['RS256', 'ES256', 'RS256'];
export const scaleClients = (n) =>
  Array.from({ length: n }, (_, i) => ({ id: `sc-${String(i + 1).padStart(3, '0')}`, alg: MIX_ALGS[i % 3], backchannel: true }));

export const randomState = () => crypto.randomBytes(12).toString('base64url');

/** Sessions (untimed) with their hints; the hint is the ID token of the session's first client. */
export async function prepareLogouts(w, clients, n, hintAlg, subPrefix) {
  const ids = clients.map((c) => c.id);
  const created = await createSessions(w.admin, n, ids, (i) => `${subPrefix}-${i}`);
  const items = [];
  for (const s of created.sessions) {
    const hint = await w.mint({ alg: hintAlg, clientId: ids[0], sub: s.sub, sid: s.sid });
    items.push({ ...s, hint });
  }
  return { items, setup: { sessions: created.sessions.length, seconds: r2(created.seconds), errors: created.errors } };
}

/** A complete logout: hint + cookie of the session, 303 to the RP's post-logout URI expected. */
export function logoutRequest(w, rpUrl, s) {
  const state = randomState();
  const plru = `${rpUrl}/logged-out/${s.clients[0]}`;
  const q = new URLSearchParams({ id_token_hint: s.hint, post_logout_redirect_uri: plru, state });
  return { path: `/session/end?${q}`, headers: { cookie: s.cookie, accept: 'text/html' }, expected: `${plru}?state=${state}` };
}
