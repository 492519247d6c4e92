// Starts the whole example on one issuer origin: edge-logout (`wrangler dev`, the built worker),
// node-oidc-provider as the login half (./login-half.mjs), two relying parties with openid-client
// (./relying-party.mjs) and the router (./router.mjs) in front of the two halves. Keys, secrets
// and the demo password are made fresh at each start and never written to the repository.
// Relying parties of your own join from a JSON file (./relying-parties.mjs says its format).
//
//   ./examples/node-oidc-provider/start.sh              (builds, then runs this file)
//   ./examples/node-oidc-provider/start.sh --relying-parties my-rps.json   (or RELYING_PARTIES=my-rps.json)
//   const ex = await startExample(); ... await ex.stop();   (tests/e2e/provider-example.test.mjs)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { generateSigningJwks, generateVars, publicJwk, randomToken } from '../../tools/keys.mjs';
import { sleep } from '../../tools/time.mjs';
import { freePort, startWorker, trackProcessGroup } from '../../tools/worker.mjs';
import { readRelyingParties } from './relying-parties.mjs';
import { startRouter } from './router.mjs';
import { EVENTS_PATH, splitClient } from './wiring.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OUTPUT_LIMIT = 256 * 1024;
// Members of the login half's discovery that edge-logout serves itself (it overrides them
// anyway; dropped so that PROVIDER_METADATA says only what the login half adds).
const EDGE_LOGOUT_MEMBERS = ['issuer', 'jwks_uri', 'end_session_endpoint', 'id_token_signing_alg_values_supported'];

/** The login half's own keys (RS256 and ES256), with kids that cannot clash with edge-logout's. */
function loginKeys() {
  const keys = generateSigningJwks().keys.filter((k) => k.alg !== 'EdDSA').map((k) => ({ ...k, kid: `login-${k.kid}` }));
  return { keys };
}

/** A child process of this example in its own process group, gone when this process goes. */
function startChild(name, script, env, { echo }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-logout-example-'));
  const child = spawn(process.execPath, [path.join(HERE, script)], {
    cwd: HERE,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const untrack = trackProcessGroup(child.pid, dir);
  let output = '';
  const waiters = new Set();
  const take = (chunk) => {
    const text = chunk.toString('utf8');
    if (echo) process.stdout.write(text);
    output = (output + text).slice(-OUTPUT_LIMIT);
    for (const w of [...waiters]) {
      if (w.re.test(output)) {
        waiters.delete(w);
        w.resolve();
      }
    }
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
  });
  return {
    name,
    output: () => output,
    exited: () => exited,
    /** Resolves when the output matches `re` (already or later). */
    waitForOutput(re, timeoutMs = 10_000) {
      if (re.test(output)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const w = { re, resolve };
        waiters.add(w);
        setTimeout(() => {
          if (waiters.delete(w)) reject(new Error(`${name}: no output matching ${re} within ${timeoutMs} ms; its output:\n${output.slice(-4000)}`));
        }, timeoutMs);
      });
    },
    async stop() {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {}
      for (let i = 0; i < 30 && !exited; i += 1) await sleep(100);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
      untrack();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** GET `url` with a Host header of our choosing (node-oidc-provider builds URLs from it). */
function getJson(url, host) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { host }, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`${url}: ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${url}: timeout`)));
  });
}

/** Waits until `probe()` resolves, or `child` exits, or `timeoutMs` pass. */
async function until(child, probe, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exited()) throw new Error(`${child.name} exited (${JSON.stringify(child.exited())}); its output:\n${child.output().slice(-4000)}`);
    try {
      return await probe();
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`${child.name} did not start within ${timeoutMs} ms (${e.message}); its output:\n${child.output().slice(-4000)}`);
      await sleep(100);
    }
  }
}

/**
 * Starts everything. Options: `port` (the issuer's, i.e. the router's, and the relying parties'
 * are the next two; default free ones),
 * `echo` (print the children's output), `workerVars` (a function from edge-logout's settings to
 * the ones to use, for tests), `relyingPartiesFile` (a JSON file of relying parties of your own,
 * see ./relying-parties.mjs: registered with both halves, not started). Returns {issuer,
 * password, worker, loginHalf, rps: [{url, clientId, events()}], ownRps: [client...], stop()}.
 */
export async function startExample({ port, echo = false, workerVars = (v) => v, relyingPartiesFile } = {}) {
  // Checked before anything starts: a wrong file is a message, not half an example.
  const ownRps = relyingPartiesFile ? readRelyingParties(relyingPartiesFile, ['rp-1', 'rp-2']) : [];
  const started = [];
  const stop = async () => {
    for (const s of started.reverse()) await s.stop().catch(() => {});
  };
  try {
    // The relying parties next to a given port (as ./scripts/dev.sh does), else anywhere free.
    const [routerPort, loginPort, workerPort, rp1Port, rp2Port] = await Promise.all(
      [port ?? freePort(), freePort(), freePort(), port ? port + 1 : freePort(), port ? port + 2 : freePort()],
    );
    const issuer = `http://127.0.0.1:${routerPort}`;
    const edgeUrl = `http://127.0.0.1:${workerPort}`;
    const vars = generateVars({ issuer, providerMetadata: false });
    const loginJwks = loginKeys();
    const password = randomToken(9);
    const clients = [
      ['rp-1', 'Demo RP 1', rp1Port, 'RS256'],
      ['rp-2', 'Demo RP 2', rp2Port, 'ES256'],
    ].map(([id, name, p, alg]) => ({
      client_id: id,
      client_secret: randomToken(24),
      client_name: name,
      client_uri: `http://127.0.0.1:${p}/`,
      redirect_uris: [`http://127.0.0.1:${p}/cb`],
      post_logout_redirect_uris: [`http://127.0.0.1:${p}/bye`],
      backchannel_logout_uri: `http://127.0.0.1:${p}/backchannel`,
      id_token_signed_response_alg: alg,
      port: p,
    }));

    // 1. The login half (it calls edge-logout only when someone signs in).
    const loginHalf = startChild('the login half', 'login-half.mjs', {
      ISSUER: issuer,
      LOGIN_PORT: String(loginPort),
      EDGE_LOGOUT_ADMIN_URL: edgeUrl,
      EDGE_LOGOUT_ADMIN_TOKEN: vars.ADMIN_TOKEN,
      LOGIN_JWKS: JSON.stringify(loginJwks),
      LOGIN_CLIENTS: JSON.stringify([...clients, ...ownRps].map(({ port: _, ...c }) => splitClient(c).login)),
      COOKIE_KEYS: [randomToken(32), randomToken(32)].join(','),
      DEMO_PASSWORD: password,
    }, { echo });
    started.push(loginHalf);
    const loginDiscovery = await until(loginHalf, () => getJson(`http://127.0.0.1:${loginPort}/.well-known/openid-configuration`, new URL(issuer).host));

    // 2. edge-logout: the issuer's discovery (the login half's endpoints merged in), its own keys
    //    and the login half's public ones at /jwks, session-ended events to the login half.
    const providerMetadata = Object.fromEntries(Object.entries(loginDiscovery).filter(([k]) => !EDGE_LOGOUT_MEMBERS.includes(k)));
    const worker = await startWorker({
      port: workerPort,
      vars: workerVars({
        ...vars,
        PROVIDER_NAME: 'Example ID',
        PROVIDER_METADATA: JSON.stringify(providerMetadata),
        ID_TOKEN_JWKS: JSON.stringify({ keys: loginJwks.keys.map(publicJwk) }),
        SESSION_EVENTS_URI: `http://127.0.0.1:${loginPort}${EVENTS_PATH}`,
        SESSION_EVENTS_AUDIENCE: `${issuer}${EVENTS_PATH}`,
      }),
    });
    started.push(worker);
    for (const { port: _, ...c } of [...clients, ...ownRps]) {
      const r = await worker.admin('PUT', `/admin/clients/${c.client_id}`, splitClient(c).logout);
      if (r.status !== 201) throw new Error(`registering ${c.client_id} at edge-logout: ${r.status} ${r.text}`);
    }

    // 3. One origin for both halves.
    const router = await startRouter({ port: routerPort, edgeLogout: edgeUrl, loginHalf: `http://127.0.0.1:${loginPort}` });
    started.push({ stop: router.close });

    // 4. The relying parties (they discover the issuer through the router).
    const rps = [];
    for (const c of clients) {
      const rp = startChild(c.client_id, 'relying-party.mjs', {
        ISSUER: issuer,
        RP_PORT: String(c.port),
        CLIENT_ID: c.client_id,
        CLIENT_SECRET: c.client_secret,
        RP_NAME: c.client_name,
      }, { echo });
      started.push(rp);
      const url = `http://127.0.0.1:${c.port}`;
      await until(rp, async () => {
        const res = await fetch(`${url}/events.json`);
        if (!res.ok) throw new Error(String(res.status));
      });
      rps.push({
        url,
        clientId: c.client_id,
        child: rp,
        /** What the RP saw: {events: [...], sessions: [{sub, sid}]}. */
        events: async () => (await fetch(`${url}/events.json`)).json(),
      });
    }
    return { issuer, password, worker, loginHalf, loginJwks, rps, ownRps, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

const isMain = process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const port = Number(process.env.PORT || 8787);
  const flag = process.argv.indexOf('--relying-parties');
  const relyingPartiesFile = flag > 0 ? process.argv[flag + 1] : process.env.RELYING_PARTIES || undefined;
  let ex;
  try {
    ex = await startExample({ port, echo: true, relyingPartiesFile });
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
  const own = ex.ownRps.map((c) => `\n  your RP       ${c.client_id}: ${c.redirect_uris.join(' ')}`).join('');
  console.log(`
edge-logout beside node-oidc-provider, one issuer: ${ex.issuer}
  discovery     ${ex.issuer}/.well-known/openid-configuration   (edge-logout, login endpoints merged in)
  jwks_uri      ${ex.issuer}/jwks   (edge-logout's keys and the login half's public keys)
  relying party ${ex.rps[0].url}/   and   ${ex.rps[1].url}/${own}
  sign in as    alice (or bob), password ${ex.password}   (made for this run)
Sign in at one RP, then the other (no password: SSO), sign out at either: both are signed out.
Ctrl-C stops everything.`);
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, async () => {
      if (stopping) return;
      stopping = true;
      await ex.stop();
      process.exit(0);
    });
  }
}
