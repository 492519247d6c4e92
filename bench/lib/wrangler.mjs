// Starts a worker under `wrangler dev` for the benchmark, like tools/worker.mjs does for
// the tests, with two differences: the worker runs from a copy of build/ (a rebuild by someone
// else during the run neither reloads nor changes it) with a generated wrangler config, and the
// start is timed (spawn -> port open -> first answer, and the first requests' latencies).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { freePort, node22, ROOT, spawnWranglerGroup, wranglerEnv, wranglerJs } from '../../tools/worker.mjs';
import { toEnvFile } from '../../tools/keys.mjs';
import { portOpen } from '../../tools/ports.mjs';
import { startProfile } from './profile.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const LOG_LIMIT = 128 * 1024;

export { node22, wranglerJs, wranglerEnv };

/** Copies build/ (or `from`, another build folder) to `dir/build` and returns the path of the copy's index.js. */
export function snapshotBuild(dir, from = 'build') {
  const src = path.join(ROOT, from);
  if (!fs.existsSync(path.join(src, 'index.js'))) throw new Error(`${from}/index.js is missing: run bash scripts/build.sh`);
  const dst = path.join(dir, 'build');
  fs.cpSync(src, dst, { recursive: true });
  return path.join(dst, 'index.js');
}

/**
 * The project's wrangler.toml with `main` pointing at `mainPath` and without its `[build]`
 * section: the bench runs a copy of a build folder from a temporary directory, where
 * `node scripts/build.mjs` does not exist (and must not rebuild anything).
 */
export function projectConfig(mainPath) {
  const text = fs.readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8');
  if (!/^main = .*$/m.test(text)) throw new Error('wrangler.toml has no main = line');
  const config = text.replace(/^main = .*$/m, `main = ${JSON.stringify(mainPath)}`).replace(/^\[build\]\n(?:(?![[#]).*\n)*/m, '');
  if (/^\[build\]/m.test(config)) throw new Error('could not remove [build] from wrangler.toml');
  return config;
}

/** The project's `compatibility_date = ...` line (the floor worker runs with the same). */
export function compatibilityDateLine() {
  const m = /^compatibility_date = .*$/m.exec(fs.readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8'));
  return m ? m[0] : 'compatibility_date = "2026-11-01"';
}

/**
 * Starts the floor worker (bench/floor: the per-unit routes and the twin's /logout) with the
 * project's compatibility date, the worker's signing keys and `extraVars` (`STORE: 'memory'`:
 * KV is a Map in the isolate); stopped by the run's cleanup.
 */
export async function startFloorWorker(ctx, signingJwks, label, extraVars = {}) {
  const configText = fs
    .readFileSync(path.join(ROOT, 'bench/floor/wrangler.toml'), 'utf8')
    .replace(/^main = .*$/m, `main = ${JSON.stringify(path.join(ROOT, 'bench/floor/worker.js'))}`)
    .replace(/^compatibility_date = .*$/m, compatibilityDateLine());
  const w = await startWrangler({ configText, vars: { SIGNING_JWKS: signingJwks, ...extraVars }, probe: '/noop', label });
  ctx.cleanups.push(() => w.stop());
  return w;
}

/** The queue consumer's `max_batch_size` in the project's wrangler.toml (10 when not set: the platform's default). */
export function consumerBatch() {
  return Number(/max_batch_size = (\d+)/.exec(fs.readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8'))?.[1] ?? 10);
}

/**
 * Starts `wrangler dev` with `configText` (written to a temporary directory) and `vars` (an
 * env file). `probe` is the path requested to time the first answers. Returns
 * {url, port, pid (the process group), startup, log(), stop()}.
 */
export async function startWrangler({ configText, vars, port, probe = '/', timeoutMs = 90_000, label = 'worker', profileFirst = false }) {
  port ??= await freePort();
  const inspectorPort = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `edge-logout-bench-${label}-`));
  const config = path.join(dir, 'wrangler.toml');
  fs.writeFileSync(config, configText);
  const envFile = path.join(dir, 'worker.env');
  fs.writeFileSync(envFile, toEnvFile(vars), { mode: 0o600 });
  const args = [
    wranglerJs(), 'dev',
    '--config', config,
    '--ip', '127.0.0.1',
    '--port', String(port),
    '--inspector-port', String(inspectorPort),
    '--env-file', envFile,
    '--persist-to', path.join(dir, 'state'),
    '--show-interactive-dev-session=false',
  ];
  const t0 = process.hrtime.bigint();
  const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
  let readyLogMs = null;
  const group = spawnWranglerGroup(args, {
    cwd: dir,
    dir,
    logLimit: LOG_LIMIT,
    onOutput: (log) => {
      if (readyLogMs === null && /Ready on/.test(log)) readyLogMs = ms();
    },
  });
  const { stop } = group;
  const fail = async (why) => {
    const tail = group.log().split('\n').slice(-40).join('\n');
    await stop();
    throw new Error(`${label}: ${why}; wrangler's log:\n${tail}`);
  };

  const url = `http://127.0.0.1:${port}`;
  let listenMs = null;
  while (listenMs === null) {
    if (group.exited()) await fail(`wrangler exited early ${JSON.stringify(group.exited())}`);
    if (ms() > timeoutMs) await fail(`port ${port} not open within ${timeoutMs} ms`);
    if (await portOpen(port)) listenMs = ms();
    else await sleep(10);
  }
  // Spawn -> first answer: requests one after the other until one gets an HTTP answer. Then
  // the first request after wrangler said "Ready on" is timed on its own.
  let first = null;
  const ask = async () => {
    const sent = ms();
    const res = await fetch(url + probe, { signal: AbortSignal.timeout(30_000) });
    await res.arrayBuffer();
    return { status: res.status, requestMs: ms() - sent, answeredMs: ms() };
  };
  while (readyLogMs === null) {
    if (group.exited()) await fail(`wrangler exited early ${JSON.stringify(group.exited())}`);
    if (ms() > timeoutMs) await fail(`no "Ready on" within ${timeoutMs} ms`);
    await sleep(5);
  }
  // The first request under a V8 profile of the isolate (what it is made of): the profile starts
  // after "Ready on", before any request reaches the worker.
  const profile = profileFirst ? await startProfile(inspectorPort).catch(() => null) : null;
  while (!first) {
    if (group.exited()) await fail(`wrangler exited early ${JSON.stringify(group.exited())}`);
    if (ms() > timeoutMs) await fail(`no answer within ${timeoutMs} ms`);
    try {
      first = await ask();
    } catch {
      await sleep(10);
    }
  }
  const firstProfile = profile ? await profile.stop(1).catch((e) => ({ error: String(e.message ?? e) })) : undefined;
  const later = [];
  for (let i = 0; i < 3; i++) {
    const sent = ms();
    const res = await fetch(url + probe, { signal: AbortSignal.timeout(30_000) });
    await res.arrayBuffer();
    later.push(ms() - sent);
  }
  return {
    url,
    port,
    inspectorPort,
    pid: group.pid,
    dir,
    startup: {
      listenMs,
      readyLogMs,
      firstAnswerMs: first.answeredMs,
      firstStatus: first.status,
      firstRequestMs: first.requestMs,
      readyToFirstAnswerMs: first.answeredMs - readyLogMs,
      nextRequestsMs: later,
      ...(firstProfile ? { firstProfile } : {}),
    },
    log: group.log,
    stop,
  };
}
