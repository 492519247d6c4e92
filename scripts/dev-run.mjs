#!/usr/bin/env node
// The running part of scripts/dev.sh, in Node so that it needs no Linux-only tool (setsid) and
// no bash 4 feature (wait -n): starts `wrangler dev` on 127.0.0.1:$PORT and the demo relying
// party on $PORT+1, each as the leader of its own process group, waits until discovery answers,
// seeds the demo data (scripts/seed-demo.mjs), and stays until Ctrl-C (or until either process
// ends by itself). On the way out it ends both groups whole: wrangler's workerd children outlive
// a plain kill of its node process.
// Run by scripts/dev.sh after setup and build, with the Node that runs wrangler (NODE22):
//   PORT=8787 WRANGLER_JS=node_modules/wrangler/bin/wrangler.js node scripts/dev-run.mjs
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { portOpen } from '../tools/ports.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PORT = Number(process.env.PORT || 8787);
const RP_PORT = PORT + 1;
const WRANGLER_JS = process.env.WRANGLER_JS || path.join(ROOT, 'node_modules/wrangler/bin/wrangler.js');
const say = (m) => console.error(`[dev] ${m}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (!Number.isInteger(PORT) || PORT < 1 || PORT > 65534) {
  say(`PORT must be a port number below 65535, not '${process.env.PORT}'`);
  process.exit(2);
}

for (const p of [PORT, RP_PORT]) {
  if (await portOpen(p)) {
    say(`127.0.0.1:${p} is in use: stop what listens there, or choose another PORT`);
    process.exit(1);
  }
}

const env = {
  ...process.env,
  CI: 'true',
  WRANGLER_SEND_METRICS: 'false',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
};
const children = [];
function start(name, args) {
  // detached: a new process group (and session) on POSIX, so that the whole group can be ended.
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'], detached: process.platform !== 'win32' });
  const entry = { name, child, exited: null };
  entry.done = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      entry.exited = { code, signal };
      resolve(entry);
    });
  });
  children.push(entry);
  return entry;
}
function signalGroup(entry, sig) {
  if (!entry.child.pid) return;
  if (process.platform === 'win32') {
    if (!entry.exited) spawnSync('taskkill', ['/pid', String(entry.child.pid), '/T', '/F'], { stdio: 'ignore' });
    return;
  }
  try {
    process.kill(-entry.child.pid, sig);
  } catch {}
}
function groupAlive(entry) {
  if (process.platform === 'win32') return !entry.exited;
  try {
    process.kill(-entry.child.pid, 0);
    return true;
  } catch {
    return false;
  }
}

let stopping = null;
function stopAll(code) {
  stopping ??= (async () => {
    for (const e of children) signalGroup(e, 'SIGTERM');
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && children.some(groupAlive)) await sleep(100);
    for (const e of children) signalGroup(e, 'SIGKILL');
    say('stopped');
    process.exit(code);
  })();
  return stopping;
}
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) process.on(sig, () => stopAll(code));
process.on('exit', () => {
  for (const e of children) signalGroup(e, 'SIGKILL');
});

const rp = start('the demo RP', [path.join(ROOT, 'tools/rp.mjs'), '--port', String(RP_PORT)]);
// No --var flags: .dev.vars governs (wrangler reads it from the project directory).
const wrangler = start('wrangler dev', [
  WRANGLER_JS, 'dev',
  '--ip', '127.0.0.1',
  '--port', String(PORT),
  '--persist-to', '.wrangler/state',
  '--show-interactive-dev-session=false',
  // The cron's scheduled handler (expiry, the sweep) on request, at any time:
  // /cdn-cgi/local/scheduled?format=json[&time=<ms>] (said below once running).
  '--test-scheduled',
]);

// Up when discovery answers (any HTTP status: seed-demo.mjs reports a bad one).
const deadline = Date.now() + 60_000;
for (;;) {
  if (wrangler.exited) {
    say('wrangler dev exited');
    await stopAll(1);
  }
  if (Date.now() > deadline) {
    say(`wrangler dev did not answer on 127.0.0.1:${PORT} within 60 s`);
    await stopAll(1);
  }
  try {
    await fetch(`http://127.0.0.1:${PORT}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(10_000) });
    break;
  } catch {
    await sleep(200);
  }
}
if (rp.exited) {
  say('the demo RP exited');
  await stopAll(1);
}

const seed = spawnSync(process.execPath, [path.join(ROOT, 'scripts/seed-demo.mjs')], {
  cwd: ROOT,
  stdio: 'inherit',
  env: { ...env, PORT: String(PORT), BASE_URL: `http://127.0.0.1:${PORT}`, RP_URL: `http://127.0.0.1:${RP_PORT}` },
});
if (seed.status !== 0) {
  say('seeding the demo data failed');
  await stopAll(seed.status ?? 1);
}
say(`running; the cron on request: curl "http://127.0.0.1:${PORT}/cdn-cgi/local/scheduled?format=json" (&time=<ms> for a later tick)`);
say('Ctrl-C stops wrangler and the demo RP');

// Until Ctrl-C, or until either process ends by itself.
const first = await Promise.race(children.map((e) => e.done));
if (stopping) await stopping; // ended by our own Ctrl-C handling
say(`${first.name} ended by itself (${JSON.stringify(first.exited)})`);
await stopAll(first.exited.code || 1);
