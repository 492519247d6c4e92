// The goals: each measured figure against its target.
import { r2 } from '../lib/load.mjs';
import { f1, median, table } from '../lib/print.mjs';

export function goalsTable(v, out) {
  const { report, budget, R, S, st } = v;
  const goals = [];
  const goal = (name, measured, target, met, note = '') => goals.push([name, measured, target, met === null ? 'n/a' : met ? 'met' : 'MISSED', note]);
  // Issue 15's goals: the isolate's own CPU (V8 profiles, table 5), medians of the rounds.
  const I = report.isolate?.summary;
  if (I) {
    const x = (f) => f?.median;
    const ot = x(I.oursOverTwin);
    if (Number.isFinite(ot)) goal('isolate CPU per logout vs the plain-JS twin', `${r2(ot)}x (${f1(x(I.oursIsolateMs))} vs ${f1(x(I.twinIsolateMs))} ms)`, '<= 1.3x', ot <= 1.3, ot <= 1.3 ? '' : `over by ${r2(ot / 1.3)}x`);
    const po = x(I.peerOverOurs);
    if (Number.isFinite(po)) goal('below the peer\'s process CPU per logout, peer mix', `${r2(po)}x lower (${f1(x(I.oursIsolateMs))} vs ${f1(x(I.peerCpuMs))} ms)`, '>= 2x', po >= 2, po >= 2 ? '' : `missing ${r2(2 / po)}x`);
    for (const [k, label] of [['peerOverEs256', 'ES256'], ['peerOverEddsa', 'EdDSA']]) {
      const r = x(I[k]);
      if (Number.isFinite(r)) goal(`  same, ${label} relying parties`, `${r2(r)}x lower`, '>= 4x', r >= 4, r >= 4 ? '' : `missing ${r2(4 / r)}x`);
    }
    const rr = x(I.oursRateOverPeer);
    if (Number.isFinite(rr)) goal('logouts/s vs the peer', `${r2(rr)}x (${f1(x(I.oursPerS))} vs ${f1(x(I.peerPerS))}/s)`, '>= 1x', rr >= 1, rr >= 1 ? '' : `missing ${r2(1 / rr)}x`);
  }
  const PR = report.isolate?.perRequest;
  if (PR?.requests.length) {
    const worst = PR.requests.reduce((a, r) => (r.isolateMsPerRequest > a.isolateMsPerRequest ? r : a));
    const tw = report.isolate.twinAloneMs;
    goal(`isolate CPU per request, ${PR.requests.map((r) => r.rps).join(', ')} RPs`, `${f1(worst.isolateMsPerRequest)} ms worst (${worst.rps} RPs)`, '<= 5 ms', worst.isolateMsPerRequest <= 5, Number.isFinite(tw) ? `the twin, 3 RPs, alone: ${f1(tw)} ms` : '');
    const maxSub = Math.max(...PR.requests.map((r) => r.subrequests));
    const fit = PR.requests.every((r) => budget.subrequestsLogout(r.rps).fits);
    goal(`  subrequests per request (free plan: ${budget.externalLimit} fetches, ${budget.serviceLimit} KV and queue calls)`, `${maxSub} at most in all`, 'within both', fit, 'from the code');
    if (PR.consumer) goal(`  a consumer batch (${PR.consumer.rps} RPs fanned out)`, `<= ${f1(PR.consumer.isolateMsPerBatchAtMost)} ms`, '<= 10 ms', PR.consumer.isolateMsPerBatchAtMost <= 10, 'upper bound');
  }
  const adminMost = report.scale?.admin?.reduce((a, r) => (!a || r.sessions > a.sessions ? r : a), null);
  if (adminMost) {
    const within = adminMost.subrequests.fits && adminMost.errors === 0 && adminMost.missing === 0;
    goal(`admin logout of a user with ${adminMost.sessions} sessions`, `${adminMost.requestsPerLogout} pages of <= ${adminMost.subrequests.total} subrequests, ${adminMost.errors} errors, ${adminMost.missing} tokens missing`, 'within limits', within && adminMost.sessions >= 1000, adminMost.sessions >= 1000 ? '' : 'run with --admin-sessions ...,1000');
  }
  const runs = Object.values(R);
  const errs = runs.reduce((s, r) => s + r.errors, 0) + (report.scale ? [...report.scale.rps, ...report.scale.admin].reduce((s, r) => s + r.errors, 0) : 0);
  const missing = runs.reduce((s, r) => s + r.deliveries.missing, 0) + (report.scale ? [...report.scale.rps, ...report.scale.admin].reduce((s, r) => s + r.missing, 0) : 0);
  goal('zero errors, every token delivered', `${errs} errors, ${missing} tokens missing`, '0 / 0', errs === 0 && missing === 0);
  if (S) goal('wasm gzip', `${(S.wasm.gzip / 1000).toFixed(1)} kB (${(S.wasm.gzip / 1024).toFixed(1)} KiB)`, '<= 350 KB', S.wasm.gzip <= 350 * 1000);
  if (st.length) {
    const fr = median(st.map((s) => s.firstRequestMs));
    goal('first request after start', `${f1(fr)} ms (median of ${st.length})`, '<= 40 ms', fr <= 40);
  }
  out.push(table('Goals (issue 15)', ['goal', 'measured', 'target', 'result', 'note'], goals));
  report.goals = goals.map(([name, measured, target, result, note]) => ({ name: name.trim(), measured, target, result, note }));
}
