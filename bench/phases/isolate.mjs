// 5. The isolate's own CPU (issue 15): V8 CPU profiles of the worker's isolate, taken through
// wrangler dev's inspector, for complete logouts of the peer's mix; the same for the plain-JS
// twin (bench/floor/worker.js, route /logout: the same platform calls for one logout); and the
// peer's process CPU, in `--rounds` interleaved rounds (ours, twin, peer, ours ES256, ours
// EdDSA), so that drift and contention hit all alike. Without the simulators (issue 23, item 1;
// not with --no-memory): each round also profiles ours built with the bench-memory feature
// (build-bench-memory/: state in the isolate's memory, no KV) and the twin with STORE=memory (a
// Map for KV), both still signing with WebCrypto, queueing for real and POSTing to the receiver:
// what our code costs without the local KV simulator that runs in the profiled isolate. Then,
// one at a time, the request's
// isolate CPU at each number of relying parties (an instance without a queue consumer: the
// request alone), and the consumer's.

import { groupMeter } from '../lib/cpu.mjs';
import { pool, r2, r3, request, sleep } from '../lib/load.mjs';
import { logoutRun } from '../lib/logout-run.mjs';
import { ms } from '../lib/measure.mjs';
import { registerClients } from '../lib/oidc.mjs';
import { buildVariant, clientsOf, logoutRequest, prepareLogouts, randomState, scaleClients, startOurs } from '../lib/ours.mjs';
import { runPeer } from '../lib/peer.mjs';
import { say } from '../lib/print.mjs';
import { profiled } from '../lib/profile.mjs';
import { startFloorWorker } from '../lib/wrangler.mjs';

async function startTwin(ctx, vars, label = 'twin', extraVars = {}) {
  const w = await startFloorWorker(ctx, vars.SIGNING_JWKS, label, extraVars);
  ctx.report.twinStartups ??= [];
  ctx.report.twinStartups.push({ label, ...w.startup });
  return { ...w, meter: groupMeter(w.pid), next: 0 };
}

/**
 * Ours without the simulators (bench-memory build, no consumer) with the mix's clients, and the
 * twin with STORE=memory; null when --no-memory.
 */
async function startWithoutSimulators(ctx, rp) {
  if (!ctx.opt.memory) return null;
  const buildDir = buildVariant('bench-memory', { EDGE_LOGOUT_BENCH: '1' });
  const ours = await startOurs(ctx, 'isolate-memory', {}, { noConsumer: true, buildDir });
  await registerClients(ours.admin, rp.url, clientsOf('mix'));
  const twin = await startTwin(ctx, ours.vars, 'twin-memory', { STORE: 'memory' });
  return { ours, twin };
}

/** `n` twin logouts at `concurrency` under a profile; sessions written first (untimed). */
async function twinRun(ctx, twin, rp, n, concurrency) {
  const from = twin.next;
  twin.next += n;
  const seeded = await request('GET', `${twin.url}/kv?op=sessions&from=${from}&n=${n}`, { timeoutMs: 120_000 });
  if (seeded.status !== 200) throw new Error(`twin seed: ${seeded.status} ${seeded.body.slice(0, 300)}`);
  const to = encodeURIComponent(`${rp.url}/bc`);
  let ok = 0;
  const a = twin.meter.mark();
  const p = await profiled(twin.inspectorPort, async () => {
    await pool(Array.from({ length: n }, (_, i) => from + i), concurrency, async (i) => {
      const r = await request('GET', `${twin.url}/logout?sid=twin-${i}&to=${to}`);
      if (r.status === 303) ok += 1;
    }, ctx.deadlineMs);
    return ok;
  });
  const d = twin.meter.between(a, twin.meter.mark());
  if (ok < n) say(`  twin: only ${ok}/${n} answered 303`);
  return { ...p, ok, logoutsPerS: r2(ok / d.wallS), workerdMsPerLogout: r3(ms(d.workerdS) / (ok || 1)) };
}

/**
 * A logout run of ours under a profile: the run's figures and the isolate's. Its sessions are
 * created (POST /admin/sessions, one per logout) before the profile starts, as the twin's are
 * seeded before its own; until 2026-12-08 they were created inside it (26-30% of ours' figure).
 */
async function oursRun(ctx, w, rp, name, set, hintAlg, n) {
  let run;
  const prepared = await prepareLogouts(w, clientsOf(set), n, hintAlg, `${name}-${randomState().slice(0, 6)}`);
  const p = await profiled(w.inspectorPort, async () => {
    run = await logoutRun(w, rp, { name, clients: clientsOf(set), hintAlg, n, concurrency: ctx.opt.concurrency, deadlineMs: ctx.deadlineMs, prepared });
    return run.completed;
  });
  return {
    ...p,
    ok: run.ok,
    errors: run.errors,
    logoutsPerS: run.logoutsPerS,
    workerdMsPerLogout: run.cpu.workerdMsPerLogout,
    deliveries: run.deliveries,
    tokenCheck: run.tokenCheck,
  };
}

async function peerRun(n, concurrency) {
  const p = await runPeer({ n, concurrency, out: 'edge-logout-isolate' });
  const L = p.report.logout;
  return {
    completed: L.completed,
    ok: L.ok,
    logoutsPerS: L.logoutPairsPerS,
    cpuMsPerLogout: r3((L.cpu.opCpuSecondsTotal * 1000) / L.completed),
    deliveries: { expected: p.report.backchannel.expectedDeliveries, received: p.report.backchannel.receivedDeliveries },
    command: p.command,
  };
}

/**
 * Sessions with `clients` and their hints: a session is created with at most 500 clients (the
 * admin API's limit, MAX_CLIENTS_PER_SESSION), the rest recorded one by one as the login system
 * does when a client gets an ID token (PUT /admin/sessions/{sid}/clients/{id}).
 */
async function sessionsOf(w, clients, count, subPrefix) {
  const made = await prepareLogouts(w, clients.slice(0, 500), count, 'RS256', subPrefix);
  const rest = clients.slice(500);
  for (const s of made.items) {
    await pool(rest, 8, async (c) => {
      const r = await w.admin('PUT', `/admin/sessions/${encodeURIComponent(s.sid)}/clients/${encodeURIComponent(c.id)}`);
      if (r.status !== 200 && r.status !== 201) throw new Error(`recording ${c.id}: ${r.status} ${r.body.slice(0, 200)}`);
    }, 120_000);
    s.clients = clients.map((c) => c.id);
  }
  return made;
}

/** The request alone at each number of RPs, and the consumer's batches, under profiles. */
async function perRequest(ctx, rp) {
  const { opt, budget } = ctx;
  const most = Math.max(...opt.isolateRps);
  const out = { requests: [], consumer: null };
  // The request alone: no consumer, so nothing else runs in the isolate meanwhile.
  const alone = await startOurs(ctx, 'isolate-alone', {}, { noConsumer: true });
  await registerClients(alone.admin, rp.url, scaleClients(most));
  for (const k of opt.isolateRps) {
    const count = k <= 50 ? 10 : k <= 200 ? 5 : 3;
    const { items } = await sessionsOf(alone, scaleClients(k), count, `iso${k}-${randomState().slice(0, 6)}`);
    let errors = 0;
    const p = await profiled(alone.inspectorPort, async () => {
      for (const s of items) {
        const q = logoutRequest(alone, rp.url, s);
        const res = await request('GET', alone.url + q.path, { headers: q.headers, timeoutMs: 60_000 });
        if (res.status !== 303 || res.headers.location !== q.expected) errors += 1;
      }
      return items.length;
    });
    const r = { rps: k, logouts: items.length, errors, isolateMsPerRequest: p.busyMsPerUnit, perUnit: p.perUnit, subrequests: budget.subrequestsLogout(k).total };
    out.requests.push(r);
    say(`  [isolate] request alone, ${k} RPs: ${r.isolateMsPerRequest} ms of isolate CPU (${JSON.stringify(p.perUnit)}), errors ${errors}`);
  }
  await alone.stop();

  // The consumer: an instance with it; one logout of the most RPs, then the isolate's busy time
  // from the answer until every queued token arrived, over the batches that took (at least
  // ceil(queued / max_batch_size) invocations: an upper bound per batch).
  const w = await startOurs(ctx, 'isolate-consumer');
  const clients = scaleClients(most);
  await registerClients(w.admin, rp.url, clients);
  const { items } = await sessionsOf(w, clients, 1, `isoc-${randomState().slice(0, 6)}`);
  const s = items[0];
  await rp.reset();
  const q = logoutRequest(w, rp.url, s);
  const res = await request('GET', w.url + q.path, { headers: q.headers, timeoutMs: 60_000 });
  const answeredAt = Date.now();
  let got;
  const p = await profiled(w.inspectorPort, async () => {
    got = await rp.waitFor(clients.map((c) => `/bc/${c.id}|${s.sid}`), 120_000, answeredAt);
    await sleep(200);
    return 1;
  });
  const queued = got.received - got.early;
  const batches = Math.max(1, Math.ceil(queued / ctx.report.codeConstants.consumerBatch));
  out.consumer = {
    rps: most,
    status: res.status,
    queuedTokens: queued,
    missing: got.missing,
    batchesAtLeast: batches,
    isolateMsTotal: p.busyMs,
    isolateMsPerBatchAtMost: r3(p.busyMs / batches),
    perUnitOfAll: p.perUnit,
  };
  say(`  [isolate] consumer: ${queued} queued tokens in >= ${batches} batches: <= ${out.consumer.isolateMsPerBatchAtMost} ms of isolate CPU per batch; missing ${got.missing}`);
  await w.stop();
  return out;
}

const med = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return null;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const min = (xs) => (xs.filter(Number.isFinite).length ? Math.min(...xs.filter(Number.isFinite)) : null);

export async function isolate(ctx, rp) {
  const { opt, report } = ctx;
  const n = opt.isolateN;
  say(`\n[isolate] ${opt.rounds} interleaved rounds of ${n} logouts at concurrency ${opt.concurrency}: ours (V8 profile), twin (V8 profile), peer (process CPU), ours ES256, ours EdDSA`);
  // An instance of its own, without the queue consumer: every logout queues its re-check for
  // 150 s later, and the re-checks of earlier runs would otherwise run in the isolate during
  // later profiles (the twin has no consumer either). The re-check's own cost is the consumer's.
  const ours = await startOurs(ctx, 'isolate', {}, { noConsumer: true });
  await registerClients(ours.admin, rp.url, ['mix', 'es256', 'eddsa'].flatMap(clientsOf));
  const twin = await ctx.phase('isolate-twin-start', () => startTwin(ctx, ours.vars));
  const mem = await ctx.phase('isolate-memory-start', () => startWithoutSimulators(ctx, rp));
  const rounds = [];
  for (let i = 0; i < opt.rounds; i++) {
    const round = {};
    round.ours = await ctx.phase(`isolate round ${i + 1} ours`, () => oursRun(ctx, ours, rp, `isolate-${i + 1}-mix`, 'mix', 'RS256', n));
    if (twin) round.twin = await ctx.phase(`isolate round ${i + 1} twin`, () => twinRun(ctx, twin, rp, n, opt.concurrency));
    if (opt.peer) round.peer = await ctx.phase(`isolate round ${i + 1} peer`, () => peerRun(n, opt.concurrency));
    if (mem) {
      round.oursMem = await ctx.phase(`isolate round ${i + 1} ours without simulators`, () => oursRun(ctx, mem.ours, rp, `isolate-${i + 1}-mix-memory`, 'mix', 'RS256', n));
      round.twinMem = await ctx.phase(`isolate round ${i + 1} twin without simulators`, () => twinRun(ctx, mem.twin, rp, n, opt.concurrency));
    }
    round.es256 = await ctx.phase(`isolate round ${i + 1} es256`, () => oursRun(ctx, ours, rp, `isolate-${i + 1}-es256`, 'es256', 'ES256', Math.ceil(n / 2)));
    round.eddsa = await ctx.phase(`isolate round ${i + 1} eddsa`, () => oursRun(ctx, ours, rp, `isolate-${i + 1}-eddsa`, 'eddsa', 'EdDSA', Math.ceil(n / 2)));
    say(`  round ${i + 1}: ours ${round.ours?.busyMsPerUnit} ms/logout isolate (${round.ours?.workerdMsPerLogout} raw, ${round.ours?.logoutsPerS}/s), twin ${round.twin?.busyMsPerUnit} ms (${round.twin?.workerdMsPerLogout} raw), peer ${round.peer?.cpuMsPerLogout} ms (${round.peer?.logoutsPerS}/s)${mem ? `; without simulators: ours ${round.oursMem?.busyMsPerUnit} ms, twin ${round.twinMem?.busyMsPerUnit} ms` : ''}; ES256 ${round.es256?.busyMsPerUnit} ms, EdDSA ${round.eddsa?.busyMsPerUnit} ms`);
    rounds.push(round);
  }
  // The twin one logout at a time, as the request-alone figures below are taken: what the same
  // platform calls cost the isolate's thread when nothing overlaps them.
  let twinAlone = null;
  if (twin) {
    twinAlone = await ctx.phase('isolate twin alone', async () => (await twinRun(ctx, twin, rp, 20, 1)).busyMsPerUnit);
    await twin.stop();
  }
  await ours.stop();
  if (mem) {
    await mem.ours.stop();
    await mem.twin.stop();
  }
  const fig = (pick) => {
    const xs = rounds.map(pick);
    return { min: r3(min(xs)), median: r3(med(xs)), all: xs.map(r3) };
  };
  const summary = {
    oursIsolateMs: fig((r) => r.ours?.busyMsPerUnit),
    twinIsolateMs: fig((r) => r.twin?.busyMsPerUnit),
    peerCpuMs: fig((r) => r.peer?.cpuMsPerLogout),
    es256IsolateMs: fig((r) => r.es256?.busyMsPerUnit),
    eddsaIsolateMs: fig((r) => r.eddsa?.busyMsPerUnit),
    oursRawMs: fig((r) => r.ours?.workerdMsPerLogout),
    twinRawMs: fig((r) => r.twin?.workerdMsPerLogout),
    oursPerS: fig((r) => r.ours?.logoutsPerS),
    twinPerS: fig((r) => r.twin?.logoutsPerS),
    peerPerS: fig((r) => r.peer?.logoutsPerS),
    // Ratios per round, then their min and median.
    oursOverTwin: fig((r) => r.ours?.busyMsPerUnit / r.twin?.busyMsPerUnit),
    peerOverOurs: fig((r) => r.peer?.cpuMsPerLogout / r.ours?.busyMsPerUnit),
    peerOverEs256: fig((r) => r.peer?.cpuMsPerLogout / r.es256?.busyMsPerUnit),
    peerOverEddsa: fig((r) => r.peer?.cpuMsPerLogout / r.eddsa?.busyMsPerUnit),
    oursRateOverPeer: fig((r) => r.ours?.logoutsPerS / r.peer?.logoutsPerS),
    // Without the simulators (bench-memory / STORE=memory): ours, the twin, their ratio, and
    // ours against the peer's process CPU (the peer keeps its sessions in memory too).
    oursMemIsolateMs: fig((r) => r.oursMem?.busyMsPerUnit),
    twinMemIsolateMs: fig((r) => r.twinMem?.busyMsPerUnit),
    oursMemOverTwinMem: fig((r) => r.oursMem?.busyMsPerUnit / r.twinMem?.busyMsPerUnit),
    oursMemOverPeer: fig((r) => r.oursMem?.busyMsPerUnit / r.peer?.cpuMsPerLogout),
  };
  report.isolate = { n, concurrency: opt.concurrency, rounds, summary, twinAloneMs: twinAlone };
  if (opt.scale) report.isolate.perRequest = await ctx.phase('isolate per request', () => perRequest(ctx, rp));
}
