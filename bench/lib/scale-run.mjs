// Logouts one at a time (the scale phases): per logout, the request's CPU (send -> answer) and
// what follows (answer -> every token received + 100 ms: the queue consumer), less the idle rate.
import { dist, r2, sleep } from './load.mjs';
import { ms } from './measure.mjs';

export async function scaleRun(w, rp, { label, count, prepare, send, keysOf, idleMsPerS, deadlineMs }) {
  const { items } = await prepare();
  await rp.reset();
  const reqCpu = [];
  const asyncCpu = [];
  const lat = [];
  const lastToken = [];
  let inline = 0;
  let queued = 0;
  let missing = 0;
  let errors = 0;
  let extra = null;
  const t0 = Date.now();
  for (const s of items.slice(0, count)) {
    if (Date.now() - t0 > deadlineMs) break;
    const keys = keysOf(s);
    const sentAt = Date.now();
    const a = w.meter.mark();
    const r = await send(s);
    const b = w.meter.mark();
    const answeredAt = Date.now();
    if (!r.ok) errors += 1;
    extra ??= r.extra;
    const got = await rp.waitFor(keys, 180_000, answeredAt);
    await sleep(100);
    const c = w.meter.mark();
    const dr = w.meter.between(a, b);
    const da = w.meter.between(b, c);
    // Short windows: thread run times (ns) rather than clock ticks (10 ms each).
    // An admin logout of many sessions is several requests (pages): CPU per request.
    reqCpu.push(ms(dr.workerdNsS) / (r.requests ?? 1));
    asyncCpu.push(Math.max(0, ms(da.workerdNsS) - idleMsPerS * da.wallS));
    lat.push(dr.wallS * 1000);
    inline += got.early;
    queued += got.received - got.early;
    missing += got.missing;
    if (got.lastAt) lastToken.push(got.lastAt - sentAt);
  }
  const n = lat.length;
  const mean = (xs) => xs.reduce((x, y) => x + y, 0) / (xs.length || 1);
  return {
    label,
    logouts: n,
    errors,
    latencyMs: dist(lat),
    requestCpuMs: r2(mean(reqCpu)),
    afterAnswerCpuMs: r2(mean(asyncCpu)),
    totalCpuMs: r2(mean(reqCpu) + mean(asyncCpu)),
    tokensPerLogout: r2((inline + queued) / (n || 1)),
    // Tokens that reached the receiver before the answer (inline deliveries, and queued ones the
    // consumer already sent while the request was still delivering) and after it.
    beforeAnswerPerLogout: r2(inline / (n || 1)),
    afterAnswerPerLogout: r2(queued / (n || 1)),
    missing,
    lastTokenAfterSendMs: dist(lastToken),
    response: extra,
  };
}
