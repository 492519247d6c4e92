// Table 5: the isolate's own CPU per logout (V8 profiles), ours against the plain-JS twin and
// the peer's process CPU, round by round with min and median; where our isolate's time goes;
// the request alone at each number of relying parties, and the consumer's batches.
import { f1, table } from '../lib/print.mjs';

const mm = (f) => (f ? `${f1(f.min)} / ${f1(f.median)}` : '-');

export function isolateTables(v, out) {
  const I = v.report.isolate;
  if (!I) return;
  const S = I.summary;
  const rows = I.rounds.map((r, i) => [
    `round ${i + 1}`,
    r.ours?.busyMsPerUnit, r.twin?.busyMsPerUnit, r.peer?.cpuMsPerLogout, r.es256?.busyMsPerUnit, r.eddsa?.busyMsPerUnit,
    r.ours?.workerdMsPerLogout, r.twin?.workerdMsPerLogout,
    r.ours?.logoutsPerS, r.twin?.logoutsPerS, r.peer?.logoutsPerS,
    r.ours?.samplingHealth,
  ]);
  rows.push(['min / median', mm(S.oursIsolateMs), mm(S.twinIsolateMs), mm(S.peerCpuMs), mm(S.es256IsolateMs), mm(S.eddsaIsolateMs), mm(S.oursRawMs), mm(S.twinRawMs), mm(S.oursPerS), mm(S.twinPerS), mm(S.peerPerS), '']);
  out.push(table(
    `5. Isolate CPU per logout (ms; V8 profile of the worker's isolate, non-idle time), ${I.n} logouts per run at concurrency ${I.concurrency}, ${I.rounds.length} interleaved rounds`,
    ['', 'ours (mix)', 'twin (mix)', 'peer process', 'ours ES256', 'ours EdDSA', 'ours raw workerd', 'twin raw workerd', 'ours /s', 'twin /s', 'peer /s', 'sampling'],
    rows,
  ));
  const mem = I.rounds.some((r) => r.oursMem || r.twinMem);
  if (mem) {
    const memRows = I.rounds.map((r, i) => [
      `round ${i + 1}`, r.oursMem?.busyMsPerUnit, r.twinMem?.busyMsPerUnit, r.peer?.cpuMsPerLogout,
      r.oursMem && r.twinMem ? r.oursMem.busyMsPerUnit / r.twinMem.busyMsPerUnit : null,
      r.oursMem && r.peer ? r.oursMem.busyMsPerUnit / r.peer.cpuMsPerLogout : null,
      r.ours && r.oursMem ? r.ours.busyMsPerUnit - r.oursMem.busyMsPerUnit : null,
      r.oursMem?.logoutsPerS, r.twinMem?.logoutsPerS, r.oursMem?.samplingHealth,
    ].map((x) => (typeof x === 'number' ? Math.round(x * 1000) / 1000 : x)));
    memRows.push(['min / median', mm(S.oursMemIsolateMs), mm(S.twinMemIsolateMs), mm(S.peerCpuMs), mm(S.oursMemOverTwinMem), mm(S.oursMemOverPeer), '', '', '', '']);
    out.push(table(
      '5. Without the simulators: isolate CPU per logout (ms) of ours built with bench-memory (state in the isolate, no KV) and of the twin with a Map for KV; same rounds, same peer',
      ['', 'ours (mix)', 'twin (mix)', 'peer process', 'ours / twin', 'ours / peer', 'KV simulator in ours (with - without)', 'ours /s', 'twin /s', 'sampling'],
      memRows,
    ));
  }
  out.push(table('5. Ratios (per round; min / median)', ['ratio', 'min / median', 'rounds'], [
    ['ours / twin (isolate)', mm(S.oursOverTwin), S.oursOverTwin.all.map(f1).join(', ')],
    ['peer process / ours isolate, mix', mm(S.peerOverOurs), S.peerOverOurs.all.map(f1).join(', ')],
    ['peer process (mix) / ours, ES256 RPs', mm(S.peerOverEs256), S.peerOverEs256.all.map(f1).join(', ')],
    ['peer process (mix) / ours, EdDSA RPs', mm(S.peerOverEddsa), S.peerOverEddsa.all.map(f1).join(', ')],
    ['ours logouts/s / peer logouts/s', mm(S.oursRateOverPeer), S.oursRateOverPeer.all.map(f1).join(', ')],
    ...(mem ? [
      ['ours / twin (isolate), without the simulators', mm(S.oursMemOverTwinMem), S.oursMemOverTwinMem.all.map(f1).join(', ')],
      ['ours isolate without the simulators / peer process', mm(S.oursMemOverPeer), S.oursMemOverPeer.all.map(f1).join(', ')],
    ] : []),
  ]));
  // Where the time goes: the median round's breakdown, ours beside the twin.
  const mid = [...I.rounds].filter((r) => r.ours).sort((a, b) => a.ours.busyMsPerUnit - b.ours.busyMsPerUnit)[Math.floor(I.rounds.filter((r) => r.ours).length / 2)];
  if (mid) {
    const parts = [mid.ours, mid.twin, ...(mem ? [mid.oursMem, mid.twinMem] : [])];
    const cats = [...new Set(parts.flatMap((x) => Object.keys(x?.perUnit ?? {})))];
    out.push(table('5. Where the isolate time goes (median round of ours; ms per logout)', ['category', 'ours', 'twin', ...(mem ? ['ours, no simulators', 'twin, no simulators'] : [])],
      cats.sort((a, b) => (mid.ours.perUnit[b] ?? 0) - (mid.ours.perUnit[a] ?? 0)).map((c) => [c, ...parts.map((x) => x?.perUnit[c] ?? 0)])));
    out.push(table('5. Top functions of our isolate (median round; self ms per logout)', ['function', 'ms'], mid.ours.topFunctionsMsPerUnit ?? []));
    if (mid.oursMem?.topFunctionsMsPerUnit) out.push(table('5. Top functions of our isolate without the simulators (same round; self ms per logout)', ['function', 'ms'], mid.oursMem.topFunctionsMsPerUnit));
  }
  const PR = I.perRequest;
  if (PR) {
    out.push(table(`5. The request alone (no consumer, one at a time), isolate CPU per request, by relying parties; the twin's logout of 3 RPs one at a time: ${f1(I.twinAloneMs)} ms`, ['RPs', 'logouts', 'errors', 'isolate ms', 'subrequests (code)'],
      PR.requests.map((r) => [r.rps, r.logouts, r.errors, r.isolateMsPerRequest, r.subrequests])));
    if (PR.consumer) {
      const c = PR.consumer;
      out.push(`\nConsumer: one logout of ${c.rps} RPs queued ${c.queuedTokens} tokens, sent in at least ${c.batchesAtLeast} batches: ${f1(c.isolateMsTotal)} ms of isolate CPU in all, at most ${f1(c.isolateMsPerBatchAtMost)} ms per batch; ${c.missing} missing.`);
    }
  }
}
