// Starts the built worker (build/, made by scripts/build.sh) under `wrangler dev` for a test:
// a free port, fresh settings in a temporary env file, fresh KV state, and a process group that
// is killed on stop() and when this process exits.
//
//   const w = await startWorker();
//   const r = await w.admin('PUT', '/admin/clients/rp1', { redirect_uris: [...] });
//   r.status, r.headers.get('allow'), r.json
//   await w.stop();
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { generateVars, toEnvFile } from './keys.mjs';
import { logScanner } from './log-scan.mjs';
import { sleep } from './time.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DISCOVERY_PATH = '/.well-known/openid-configuration';
const LOG_LIMIT = 256 * 1024;

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** The Node that runs wrangler (>= 22.12): NODE22 as scripts/setup.sh exports it, else this one. */
export function node22() {
  return process.env.NODE22 || process.execPath;
}

export function wranglerJs() {
  return process.env.WRANGLER_JS || path.join(ROOT, 'node_modules/wrangler/bin/wrangler.js');
}

/** The environment wrangler runs with: offline, no telemetry, state out of $HOME, settings
 * only from the env file it is given, and the build made once before (scripts/test.sh runs
 * scripts/build.sh): EDGE_LOGOUT_PREBUILT makes wrangler.toml's [build] command a no-op, also
 * for configs generated in other directories. */
export function wranglerEnv(dir) {
  const env = {
    ...process.env,
    CI: 'true',
    WRANGLER_SEND_METRICS: 'false',
    CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    EDGE_LOGOUT_PREBUILT: '1',
    XDG_CONFIG_HOME: process.env.XDG_CONFIG_HOME ?? path.join(dir, 'config'),
    NO_COLOR: '1',
    FORCE_COLOR: '0',
  };
  delete env.CLOUDFLARE_INCLUDE_PROCESS_ENV;
  delete env.CLOUDFLARE_ENV;
  return env;
}

// Every live wrangler process group (pid -> its temporary directory), killed and removed when
// this process goes away, however it goes.
const live = new Map();
let hooksInstalled = false;
function killAll() {
  for (const [pid, dir] of live) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {}
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {}
  }
  live.clear();
}
function installExitHooks() {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAll);
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
    process.once(sig, () => {
      killAll();
      process.exit(code);
    });
  }
}

/**
 * Kills the process group `pid` and removes `dir` if this process goes away before the returned
 * function is called (which forgets them).
 */
export function trackProcessGroup(pid, dir) {
  installExitHooks();
  live.set(pid, dir);
  return () => live.delete(pid);
}

/**
 * Runs `node22 args` (wrangler) as the leader of a new process group, tracked so that it goes
 * with this process. Its output is kept (the last `logLimit` characters) and also handed to
 * `onOutput`. Returns {pid, log(), exited() (null while running), stop()}: `stop` ends the whole
 * group, SIGTERM then SIGKILL (workerd can outlive wrangler's node process), and removes `dir`.
 */
export function spawnWranglerGroup(args, { cwd, dir, logLimit = LOG_LIMIT, onOutput = () => {} }) {
  const child = spawn(node22(), args, { cwd, env: wranglerEnv(dir), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const untrack = trackProcessGroup(child.pid, dir);
  let log = '';
  const append = (chunk) => {
    log += chunk.toString('utf8');
    if (log.length > logLimit) log = log.slice(-logLimit);
    onOutput(log, chunk.toString('utf8'));
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });

  let stopped = false;
  async function stop() {
    if (stopped) return;
    stopped = true;
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {}
    const done = await Promise.race([exitPromise, sleep(5000).then(() => null)]);
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
    if (!done) await Promise.race([exitPromise, sleep(2000)]);
    untrack();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { pid: child.pid, log: () => log, exited: () => exited, stop };
}

/**
 * Starts a worker. Options:
 * - `vars`: the settings, either an object (used as is) or a function that gets the generated
 *   settings and returns the ones to use (return a copy without a key to leave it unset).
 *   Without it: fresh keys, admin token, ISSUER=http://127.0.0.1:PORT, ALLOW_HTTP_URIS=true.
 * - `providerMetadata`: passed to generateVars (an object, or false for none).
 * - `port`: default a free one.
 * - `expectStatus`: the status discovery must answer with once up (default 200; a worker
 *   configured wrongly on purpose answers 500).
 * - `timeoutMs`: how long to wait for the first answer (default 60 s).
 */
export async function startWorker({ vars, providerMetadata, port, persistTo: keepStateIn, expectStatus = 200, timeoutMs = 60_000 } = {}) {
  const indexJs = path.join(ROOT, 'build/index.js');
  if (!fs.existsSync(indexJs)) {
    throw new Error(`${indexJs} is missing: run \`bash scripts/build.sh\` first (scripts/test.sh does)`);
  }
  port ??= await freePort();
  const inspectorPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const generated = generateVars({ port, providerMetadata });
  const settings = typeof vars === 'function' ? vars(generated) : (vars ?? generated);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-logout-worker-'));
  const envFile = path.join(dir, 'worker.env');
  fs.writeFileSync(envFile, toEnvFile(settings), { mode: 0o600 });
  // `persistTo`: KV and queue state that outlives this process (to restart on the same state).
  const persistTo = keepStateIn ?? path.join(dir, 'state');

  const args = [
    wranglerJs(), 'dev',
    '--ip', '127.0.0.1',
    '--port', String(port),
    '--inspector-port', String(inspectorPort),
    '--env-file', envFile,
    '--persist-to', persistTo,
    '--show-interactive-dev-session=false',
    // The scheduled handler (the cron sweep) on demand: w.scheduled() below.
    '--test-scheduled',
  ];
  // Every line it prints is searched for secrets (tools/log-scan.mjs): a hit fails stop().
  const scan = logScanner(settings);
  const group = spawnWranglerGroup(args, { cwd: ROOT, dir, onOutput: (_log, chunk) => scan.feed(chunk) });
  const { stop } = group;

  const logTail = () => group.log().split('\n').slice(-60).join('\n');

  // Up when discovery gets any HTTP answer.
  const deadline = Date.now() + timeoutMs;
  let first;
  while (!first) {
    if (group.exited()) {
      await stop();
      throw new Error(`wrangler dev exited early (${JSON.stringify(group.exited())}); its log:\n${logTail()}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not answer on ${url} within ${timeoutMs} ms; its log:\n${logTail()}`);
    }
    try {
      const res = await fetch(url + DISCOVERY_PATH, { signal: AbortSignal.timeout(10_000) });
      first = { status: res.status, text: await res.text() };
    } catch {
      await sleep(100);
    }
  }
  if (expectStatus !== undefined && first.status !== expectStatus) {
    await stop();
    throw new Error(`discovery answered ${first.status}, not ${expectStatus}: ${first.text}\nwrangler's log:\n${logTail()}`);
  }

  /** fetch() against the worker; `path` is relative to its origin. Redirects are not followed. */
  async function request(p, init = {}) {
    return fetch(url + p, { redirect: 'manual', signal: AbortSignal.timeout(15_000), ...init });
  }

  /**
   * Calls the admin API. `body` (an object) is sent as JSON. Options: `token` (null: none),
   * `authorization` (the whole header), `rawBody` (a string, sent as is), `contentType`
   * (null: none), `headers`.
   */
  async function admin(method, p, body, opts = {}) {
    const headers = { ...(opts.headers ?? {}) };
    const token = opts.token === undefined ? settings.ADMIN_TOKEN : opts.token;
    if (opts.authorization !== undefined) headers.authorization = opts.authorization;
    else if (token !== null && token !== undefined) headers.authorization = `Bearer ${token}`;
    let payload;
    if (opts.rawBody !== undefined) payload = opts.rawBody;
    else if (body !== undefined) payload = JSON.stringify(body);
    const contentType = opts.contentType === undefined ? (payload !== undefined ? 'application/json' : null) : opts.contentType;
    if (contentType !== null) headers['content-type'] = contentType;
    const res = await request(p, { method, headers, body: payload });
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, json, text };
  }

  const worker = {
    url,
    port,
    vars: settings,
    /** The directory its local KV and queues persist to (support/kv.mjs reads KV there). */
    persistTo,
    adminToken: settings.ADMIN_TOKEN,
    admin,
    request,
    log: group.log,
    /**
     * Runs the scheduled handler (the cron sweep) once, as the platform's cron does, through
     * wrangler dev's trigger `/cdn-cgi/local/scheduled?format=json` (miniflare: 200 and
     * {"outcome": "ok"}, else 500 and the handler's outcome); throws unless it ran ok.
     */
    async scheduled({ cron = '*/5 * * * *', time } = {}) {
      const q = new URLSearchParams({ format: 'json', cron, ...(time === undefined ? {} : { time: String(time) }) });
      const res = await fetch(`${url}/cdn-cgi/local/scheduled?${q}`, { signal: AbortSignal.timeout(60_000) });
      const text = await res.text();
      let outcome;
      try {
        outcome = JSON.parse(text).outcome;
      } catch {}
      if (res.status !== 200 || outcome !== 'ok') throw new Error(`the scheduled handler did not run ok: ${res.status} ${text}`);
      return outcome;
    },
    /** The last `lines` lines of its `wrangler dev` output. */
    logTail: (lines = 60) => group.log().split('\n').slice(-lines).join('\n'),
    /** Values its log must never show, besides its settings' secrets (e.g. session cookies). */
    neverLog: scan.secrets,
    async stop() {
      running.delete(worker);
      await stop();
      scan.end();
      const leak = scan.report(`the worker on ${url}`);
      if (leak) throw new Error(leak);
    },
  };
  running.add(worker);
  return worker;
}

// The workers this process started and has not stopped: whose logs a failed test prints.
const running = new Set();

/** The workers started by startWorker and not stopped yet. */
export function runningWorkers() {
  return [...running];
}
