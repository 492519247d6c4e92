// Tables 1 and 1b: cost per logout (ours, the peer, the variants) and where the CPU of one
// logout goes (the floor's figures subtracted).
import { r3 } from '../lib/load.mjs';
import { f1, table } from '../lib/print.mjs';

export function costTables(v, out) {
  const { report, opt, budget, R, P, floor, mixCpu, mixSub, est } = v;
  const rows1 = [];
  const row = (label, r, sub) => rows1.push([label, r.completed, r.errors, r.logoutsPerS, r.latencyMs.p50, r.latencyMs.p99, r.cpu.workerdMsPerLogout, est(r, sub), r.cpu.wranglerNodeMsPerLogout, `${r.deliveries.received}/${r.deliveries.expected}`, P ? r3(P.cpuMsPerLogout / r.cpu.workerdMsPerLogout) : '-']);
  if (R.mix) row('edge-logout, peer mix (RS256, ES256, RS256)', R.mix, mixSub);
  if (R.mixAgain) row('edge-logout, peer mix, again after the peer', R.mixAgain, mixSub);
  if (P) rows1.push(['node-oidc-provider 9.13 (GET + confirm POST)', P.completed, P.failures, P.logoutsPerS, P.latencyMs.p50, P.latencyMs.p99, P.cpuMsPerLogout, '-', '-', `${P.deliveries.received}/${P.deliveries.expected}`, 1]);
  if (R.nobc) row('edge-logout, 3 RPs without back-channel', R.nobc, { ...mixSub, fetches: 0 });
  if (R.rs256) row('edge-logout, 3 RS256 RPs', R.rs256, mixSub);
  if (R.es256) row('edge-logout, 3 ES256 RPs', R.es256, mixSub);
  if (R.eddsa) row('edge-logout, 3 EdDSA RPs', R.eddsa, mixSub);
  if (R.mixWasmSigner) row('edge-logout, peer mix, SIGNER=wasm', R.mixWasmSigner, mixSub);
  out.push(table(
    `1. Cost per logout (concurrency ${opt.concurrency}; CPU = utime+stime of the workerd processes (ours) or the OP process (peer), /proc, per completed logout)`,
    ['run', 'logouts', 'errors', 'logouts/s', 'p50 ms', 'p99 ms', 'CPU ms/logout', 'isolate est. ms', 'wrangler node ms', 'tokens', 'peer CPU / ours'],
    rows1,
  ));

  if (!(floor && Number.isFinite(mixCpu))) return;
  const H0 = report.hints?.verifyMs ?? {};
  const parts = [
    ['measured: workerd CPU per logout (median of the mix runs)', mixCpu, ''],
    [`- local runtime: the request itself (floor /noop at concurrency ${opt.concurrency})`, -floor.request, 'not in production CPU'],
    [`- local runtime: ${mixSub.kvGetsSequential} KV gets + ${mixSub.clientReads} bulk read of ${mixSub.clientKeys} clients`, -(mixSub.kvGetsSequential * floor.kvGet + (mixSub.clientReads * floor.kvGet + mixSub.clientKeys * (floor.kvBulkPerKey ?? 0))), 'the session; the named client with the session\'s clients'],
    [`- local runtime: ${mixSub.kvDeletes} KV deletes`, -mixSub.kvDeletes * floor.kvDelete, 'session, subject index, outbox'],
    [`- local runtime: ${mixSub.kvPuts ?? 0} KV writes`, -(mixSub.kvPuts ?? 0) * (floor.kvPut ?? floor.kvDelete), 'outbox, tombstone (costed as deletes)'],
    [`- local runtime: ${mixSub.kvLists ?? 0} KV list`, -(mixSub.kvLists ?? 0) * floor.kvGet, 'the recorded clients (costed as a get)'],
    [`- local runtime: ${mixSub.fetches} back-channel POSTs`, -mixSub.fetches * floor.post, ''],
  ];
  const isolate = parts.reduce((a, p) => a + p[1], 0);
  const sig = 2 * floor.sign.RS256 + floor.sign.ES256;
  // One console call per request carries every line (src/edge/notify.rs, flush_log).
  const logs = floor.logLine;
  const inside = [
    ['= the worker\'s own CPU (isolate estimate)', isolate, ''],
    ['  of which: verify the id_token_hint (RS256: parsed in wasm, signature by WebCrypto)', H0.RS256, 'measured in the worker'],
    ['  of which: 3 logout-token signatures (WebCrypto) = the floor', sig, '2 x RS256 + ES256, floor worker'],
    ['  of which: the log (1 console call: 1 line per logout, 1 per delivery)', logs, 'floor /log (one call); plus wrangler node CPU'],
    ['  of which: the rest (wasm logic, JSON, wasm<->JS glue, KV/fetch/queue calls)', isolate - (H0.RS256 ?? 0) - sig - logs, 'by difference'],
  ];
  report.derived.breakdownMix = [...parts, ...inside].map(([what, msv, note]) => ({ what: what.trim(), ms: r3(msv), note }));
  const eMix = est(R.mix, mixSub);
  const eNobc = R.nobc ? est(R.nobc, { ...mixSub, fetches: 0 }) : NaN;
  if (Number.isFinite(eMix) && Number.isFinite(eNobc)) {
    const perRpEst = (eMix - eNobc) / 3;
    const fit = Math.floor((10 - eNobc) / perRpEst);
    report.derived.budget = { logoutWithoutDeliveriesMs: r3(eNobc), perDeliveryMs: r3(perRpEst), inlineDeliveriesWithin10Ms: fit };
    inside.push([`budget: logout without deliveries ${f1(eNobc)} ms + ${f1(perRpEst)} ms per delivery (mix) -> ${fit} inline deliveries fit in 10 ms (BACKCHANNEL_INLINE_MAX is ${budget.inlineMax})`, NaN, 'isolate estimates, concurrency runs']);
  }
  out.push(table(`1b. Where the CPU of one logout goes (peer mix, concurrency ${opt.concurrency}; floor figures subtracted)`, ['part', 'ms', 'note'], [...parts, ...inside]));
}
