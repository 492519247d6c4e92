// The goals of issue 23 ("Goals"), each with its figure from this run and met / MISSED (n/a when
// the run did not measure it, with the flag that would). Where there are rounds (table 5), the
// figure is the min / median of the per-round values and the median decides.
import { r2 } from '../lib/load.mjs';
import { f1, median, table } from '../lib/print.mjs';

const mm = (f) => `${r2(f.min)} / ${r2(f.median)}`;
const finite = (x) => Number.isFinite(x);

export function goalsTable(v, out) {
  const { report, R, S, st } = v;
  const goals = [];
  const goal = (name, measured, target, met, note = '') => goals.push([name, measured, target, met === null ? 'n/a' : met ? 'met' : 'MISSED', note]);
  const notRun = (name, target, how) => goal(name, '-', target, null, how);
  const I = report.isolate?.summary;

  // 1. Isolate CPU per logout <= 1.3x the twin's, with the simulators and without them.
  const ratioGoal = (name, ratio, ours, twin, how) => {
    if (!finite(ratio?.median)) return notRun(name, '<= 1.3x', how);
    const met = ratio.median <= 1.3;
    goal(name, `${mm(ratio)}x (${f1(ours.median)} vs ${f1(twin.median)} ms, medians)`, '<= 1.3x', met, met ? '' : `over by ${r2(ratio.median / 1.3)}x`);
  };
  ratioGoal('isolate CPU per logout / the twin\'s, with the simulators', I?.oursOverTwin, I?.oursIsolateMs, I?.twinIsolateMs, 'the isolate phase (not --no-isolate)');
  ratioGoal('  the same without the simulators (ours bench-memory, the twin\'s Map)', I?.oursMemOverTwinMem, I?.oursMemIsolateMs, I?.twinMemIsolateMs, 'the isolate phase without --no-memory');

  // 2. Constant cost per request: 1,000 RPs against 3; an admin logout of 1,000 sessions against 1.
  const reqs = report.isolate?.perRequest?.requests ?? [];
  const at = (k) => reqs.find((r) => r.rps === k)?.isolateMsPerRequest;
  if (finite(at(1000)) && finite(at(3))) {
    const x = at(1000) / at(3);
    goal('isolate CPU per end-session request, 1,000 RPs / 3 RPs', `${r2(x)}x (${f1(at(1000))} vs ${f1(at(3))} ms)`, '<= 1.2x', x <= 1.2, 'table 5, the request alone (no consumer), one at a time');
  } else notRun('isolate CPU per end-session request, 1,000 RPs / 3 RPs', '<= 1.2x', '--isolate-rps with 3 and 1000 (the default), not --no-scale');
  const admin = report.scale?.admin ?? [];
  // Per request (page), less the consumer's work that overlapped it (table 4b, computed there).
  const adminAt = (k) => {
    const r = admin.find((x) => x.sessions === k);
    return r?.requestCpuCorrectedMs ?? r?.requestCpuMs;
  };
  if (finite(adminAt(1000)) && finite(adminAt(1))) {
    const x = adminAt(1000) / adminAt(1);
    const pages = admin.find((r) => r.sessions === 1000).requestsPerLogout;
    goal('  admin logout CPU per request, 1,000 sessions / 1', `${r2(x)}x (${f1(adminAt(1000))} vs ${f1(adminAt(1))} ms per request; ${pages} requests)`, '<= 1.2x', x <= 1.2, 'workerd thread CPU per request less the overlapped consumer (table 4b), not a profile');
  } else notRun('  admin logout CPU per request, 1,000 sessions / 1', '<= 1.2x', '--admin-sessions with 1 and 1000 (the default without --quick), not --no-admin');

  // 3. Without the simulators, ours at most the peer's process CPU per logout (same run).
  if (finite(I?.oursMemOverPeer?.median)) {
    const x = I.oursMemOverPeer.median;
    goal('ours without the simulators / the peer\'s process CPU per logout', `${mm(I.oursMemOverPeer)}x (${f1(I.oursMemIsolateMs.median)} vs ${f1(I.peerCpuMs.median)} ms, medians)`, '<= 1x', x <= 1, x <= 1 ? '' : `over by ${r2(x)}x`);
  } else notRun('ours without the simulators / the peer\'s process CPU per logout', '<= 1x', 'the isolate phase without --no-memory or --no-peer');

  // 4. A queued delivery costs the consumer no more isolate CPU than an inline one the request.
  // Inline: the slope of the request alone between two counts that are all inline (at most
  // BACKCHANNEL_INLINE_MAX, within the budget); queued: the consumer's isolate time per token.
  const C = report.isolate?.perRequest?.consumer;
  const inlineMax = report.codeConstants?.inlineMax ?? 10;
  const allInline = reqs.filter((r) => r.rps <= inlineMax).sort((a, b) => a.rps - b.rps);
  const lo = allInline[0];
  const hi = allInline[allInline.length - 1];
  if (C?.queuedTokens > 0 && lo && hi && hi.rps > lo.rps) {
    const inlineMs = (hi.isolateMsPerRequest - lo.isolateMsPerRequest) / (hi.rps - lo.rps);
    const queuedMs = C.isolateMsTotal / C.queuedTokens;
    const x = queuedMs / inlineMs;
    goal('a queued delivery (consumer) / an inline delivery (request), isolate CPU', `${r2(x)}x (${f1(queuedMs)} vs ${f1(inlineMs)} ms per delivery)`, '<= 1x', x <= 1,
      `inline: request alone at ${hi.rps} RPs less at ${lo.rps}, per RP; queued: ${C.queuedTokens} tokens of one ${C.rps}-RP logout`);
  } else notRun('a queued delivery (consumer) / an inline delivery (request), isolate CPU', '<= 1x', `--isolate-rps with two counts <= ${inlineMax} and one above (the default), not --no-scale`);

  // 5. Size and the first request of a fresh instance.
  if (S) goal('wasm gzip -9', `${(S.wasm.gzip / 1000).toFixed(1)} kB (${(S.wasm.gzip / 1024).toFixed(1)} KiB)`, '<= 350 KB', S.wasm.gzip <= 350 * 1000, S.wasm.gzip <= 350 * 1000 ? '' : `${((S.wasm.gzip - 350 * 1000) / 1000).toFixed(1)} kB over`);
  else notRun('wasm gzip -9', '<= 350 KB', 'the size phase failed');
  const twinFirst = [report.floor?.startup, ...(report.twinStartups ?? [])].filter(Boolean).map((s) => s.firstRequestMs).filter(finite);
  const ourFirst = st.map((s) => s.firstRequestMs).filter(finite);
  if (ourFirst.length && twinFirst.length) {
    const o = median(ourFirst);
    const t = median(twinFirst);
    goal('first request of a fresh instance / the twin\'s', `${r2(o / t)}x (${f1(o)} vs ${f1(t)} ms, medians of ${ourFirst.length} and ${twinFirst.length})`, '<= 2x', o / t <= 2,
      `min ${f1(Math.min(...ourFirst))} vs ${f1(Math.min(...twinFirst))} ms; ours: discovery, the twin: /noop`);
  } else notRun('first request of a fresh instance / the twin\'s', '<= 2x', 'the floor or isolate phase starts the twin');

  // Not a speed goal, but the condition of every figure above.
  const runs = Object.values(R);
  const scaleRows = report.scale ? [...report.scale.rps, ...report.scale.admin] : [];
  // The isolate rounds' logout runs too (ours with and without the simulators, ES256, EdDSA).
  const isoRuns = (report.isolate?.rounds ?? []).flatMap((r) => [r.ours, r.oursMem, r.es256, r.eddsa]).filter(Boolean);
  const errs = runs.reduce((s, r) => s + r.errors, 0) + scaleRows.reduce((s, r) => s + r.errors, 0) + isoRuns.reduce((s, r) => s + r.errors, 0);
  const missing = runs.reduce((s, r) => s + r.deliveries.missing, 0) + scaleRows.reduce((s, r) => s + r.missing, 0) + isoRuns.reduce((s, r) => s + (r.deliveries?.missing ?? 0), 0);
  goal('zero errors, every token delivered (runs of tables 1, 4 and 5)', `${errs} errors, ${missing} tokens missing`, '0 / 0', errs === 0 && missing === 0);

  out.push(table('Goals (issue 23; min / median of the rounds where there are rounds, the median decides)', ['goal', 'measured', 'target', 'result', 'note'], goals));
  report.goals = goals.map(([name, measured, target, result, note]) => ({ name: name.trim(), measured, target, result, note }));
}
