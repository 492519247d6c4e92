// A timed run of complete logouts at a concurrency: every session ends with its relying parties
// told; CPU per logout, rate, latency, deliveries counted at the receiver, tokens verified.
import { dist, pool, r2, r3, request } from './load.mjs';
import { foreignCpu, machineMark, ms } from './measure.mjs';
import { verifyLogoutTokens } from './oidc.mjs';
import { logoutRequest, prepareLogouts, randomState } from './ours.mjs';
import { say } from './print.mjs';

/**
 * `prepared`: sessions made beforehand with {@link prepareLogouts}, so that a caller profiling the
 * run leaves their creation (POST /admin/sessions) out of the profile; made here otherwise.
 */
export async function logoutRun(w, rp, { name, clients, hintAlg, n, concurrency, deadlineMs, prepared }) {
  say(`\n[${name}] ${n} logouts, ${clients.length} RPs (${clients.map((c) => (c.backchannel ? c.alg : `${c.alg} no-bc`)).join(', ')}), hint ${hintAlg}, concurrency ${concurrency}`);
  const { items, setup } = prepared ?? (await prepareLogouts(w, clients, n, hintAlg, `${name}-${randomState().slice(0, 6)}`));
  say(`  setup (untimed): ${setup.sessions} sessions in ${setup.seconds} s, errors ${setup.errors}`);
  await rp.reset();
  const lat = [];
  let ok = 0;
  const errors = [];
  const done = [];
  const m0 = machineMark([rp.pid]);
  const a = w.meter.mark();
  const res = await pool(items, concurrency, async (s) => {
    const q = logoutRequest(w, rp.url, s);
    try {
      const r = await request('GET', w.url + q.path, { headers: q.headers });
      lat.push(r.ms);
      if (r.status === 303 && r.headers.location === q.expected) {
        ok += 1;
        done.push(s);
      } else if (errors.length < 5) errors.push(`${r.status} ${r.headers.location ?? ''} ${r.body.slice(0, 160)}`);
    } catch (e) {
      if (errors.length < 5) errors.push(e.message);
    }
  }, deadlineMs);
  const b = w.meter.mark();
  const m1 = machineMark([rp.pid]);
  const keys = done.flatMap((s) => clients.filter((c) => c.backchannel).map((c) => `/bc/${c.id}|${s.sid}`));
  const delivered = await rp.waitFor(keys, 20_000);
  const c = w.meter.mark();
  const d = w.meter.between(a, b);
  const dTail = w.meter.between(a, c);
  const tokens = keys.length ? await verifyLogoutTokens(`${w.url}/jwks`, w.vars.ISSUER, await rp.sample(30)) : null;
  const completed = lat.length;
  const out = {
    name,
    clients: clients.map((x) => `${x.alg}${x.backchannel ? '' : ' (no back-channel)'}`),
    hintAlg,
    concurrency,
    setup,
    completed,
    ok,
    errors: completed - ok + (items.length - completed),
    errorSamples: errors,
    stoppedByDeadline: res.stoppedByDeadline,
    wallS: r2(d.wallS),
    logoutsPerS: r2(completed / d.wallS),
    latencyMs: dist(lat),
    cpu: {
      workerdMsPerLogout: r3(ms(d.workerdS) / completed),
      workerdMsPerLogoutFromThreads: r3(ms(d.workerdNsS) / completed),
      workerdMsPerLogoutUntilLastToken: r3(ms(dTail.workerdS) / completed),
      wranglerNodeMsPerLogout: r3(ms(d.otherS) / completed),
      workerdCpuPctOfOneCore: r2((d.workerdS / d.wallS) * 100),
      foreignCpuS: foreignCpu(m0, m1, d.workerdS + d.otherS),
    },
    deliveries: { expected: keys.length, received: delivered.received, missing: delivered.missing, duplicates: delivered.duplicates },
    tokenCheck: tokens,
  };
  say(`  ${ok}/${items.length} ok in ${out.wallS} s: ${out.logoutsPerS} logouts/s, p50 ${out.latencyMs.p50} ms, p99 ${out.latencyMs.p99} ms; workerd CPU ${out.cpu.workerdMsPerLogout} ms/logout (${out.cpu.workerdCpuPctOfOneCore}% of a core), wrangler node ${out.cpu.wranglerNodeMsPerLogout} ms; deliveries ${delivered.received}/${keys.length}${tokens ? `, tokens verified ${tokens.ok}/${tokens.checked}` : ''}`);
  return out;
}

/** One logout run as a phase of the bench, recorded in report.runs[key] (a failure is recorded and the rest goes on). */
export async function recordLogouts(ctx, rp, key, o) {
  const r = await ctx.phase(key, () => logoutRun(o.w, rp, { ...o, deadlineMs: ctx.deadlineMs }));
  if (r) ctx.report.runs[key] = r;
}
