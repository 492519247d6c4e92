// Tables 4a, 4b: scale with relying parties and sessions, the queue consumer (the request alone: table 5).
import { r2, r3 } from '../lib/load.mjs';
import { f1, table } from '../lib/print.mjs';

export function scaleTables(v, out) {
  const { report, budget, floor } = v;
  const LIMITS = `${budget.externalLimit} fetches, ${budget.serviceLimit} KV and queue calls`;
  // Deliveries past BACKCHANNEL_INLINE_MAX go to the queue before the inline ones start, so the
  // consumer already works while the request runs: its CPU per message (pooled over every
  // token that arrived after an answer) moves that overlap out of the request's figure.
  const all = [...report.scale.rps, ...report.scale.admin];
  const before = (r) => r.beforeAnswerPerLogout ?? r.inlinePerLogout;
  const after = (r) => r.afterAnswerPerLogout ?? r.queuedPerLogout;
  const tokensAfter = all.reduce((a, r) => a + after(r) * r.logouts, 0);
  const perMsg = tokensAfter ? all.reduce((a, r) => a + r.afterAnswerCpuMs * r.logouts, 0) / tokensAfter : NaN;
  const B = report.codeConstants?.consumerBatch ?? 10;
  const invocation = { batch: B, rawMs: r2(B * perMsg), perMessageMs: r3(perMsg), messages: tokensAfter };
  report.derived.consumer = invocation;
  for (const r of all) {
    // per request: an admin logout of many sessions is one request per page
    const pages = r.requestsPerLogout ?? 1;
    const d = r.rps ?? (3 * r.sessions) / pages;
    const inline = Math.min(d, r.subrequests.fetches);
    const overlapped = Math.max(0, before(r) / pages - inline);
    r.deliveriesInline = inline;
    r.deliveriesQueued = d - inline;
    r.requestCpuCorrectedMs = r2(r.requestCpuMs - (Number.isFinite(perMsg) ? overlapped * perMsg : 0));
    r.consumerCpuMs = r2(r.afterAnswerCpuMs + (Number.isFinite(perMsg) ? overlapped * perMsg : 0));
  }
  const cols = ['p50 ms', 'request CPU', 'request CPU less overlapped consumer', 'consumer CPU', 'deliveries inline + queued', 'tokens before + after answer', 'missing', 'last token ms', 'subrequests (fetches + KV and queue calls)', `free plan (${LIMITS})`];
  const cells = (r) => [r.latencyMs.p50, r.requestCpuMs, r.requestCpuCorrectedMs, r.consumerCpuMs, `${r.deliveriesInline} + ${r.deliveriesQueued}`, `${before(r)} + ${after(r)}`, r.missing, r.lastTokenAfterSendMs.p50, `${r.subrequests.fetches} + ${r.subrequests.services}`, r.subrequests.fits ? 'ok' : 'over'];
  out.push(table('4a. Scale: relying parties per session (RP-initiated logout, one at a time; CPU ms per logout; request = send -> answer; consumer = queue consumer, after the answer until every token arrived, less idle, plus what overlapped the request)',
    ['RPs', 'logouts', 'errors', ...cols], report.scale.rps.map((r) => [r.rps, r.logouts, r.errors, ...cells(r)])));
  const inl = report.scale.rps.filter((r) => r.rps <= budget.inlineMax);
  if (inl.length >= 2 && floor) {
    const lo = inl[0];
    const hi = inl[inl.length - 1];
    const slope = (hi.requestCpuMs - lo.requestCpuMs) / (hi.rps - lo.rps);
    report.derived.perInlineRpMs = { raw: r3(slope) };
    out.push(`Each RP delivered inline adds ${f1(slope)} ms of request CPU (${lo.rps} -> ${hi.rps} RPs). At BACKCHANNEL_INLINE_MAX = ${budget.inlineMax}: ${budget.inlineMax} RS256 signatures alone are ${f1(budget.inlineMax * floor.sign.RS256)} ms of WebCrypto CPU here (ES256: ${f1(budget.inlineMax * floor.sign.ES256)} ms, EdDSA: ${f1(budget.inlineMax * floor.sign.EdDSA)} ms).`);
  }
  if (Number.isFinite(perMsg)) out.push(`Queue consumer: ${f1(perMsg)} ms of CPU per message (pooled over ${r2(tokensAfter)} messages; sign + POST + log + ack); one invocation of ${B} messages (max_batch_size) = ${f1(invocation.rawMs)} ms raw (the isolate's own: table 5).`);
  out.push(table(`4b. Scale: sessions of one user ended by DELETE /admin/sessions?sub= (3 RPs each; backchannel_logout_session_required: one token per RP and session; at most ${budget.subjectPage} sessions per request, the rest by its cursor: CPU, deliveries and subrequests per request)`,
    ['sessions', 'runs', 'requests each', 'errors', ...cols], report.scale.admin.map((r) => [r.sessions, r.logouts, r.requestsPerLogout ?? 1, r.errors, ...cells(r)])));
}
