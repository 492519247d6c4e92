// 4c. The request alone: the same RP-initiated logouts against an instance without a queue
// consumer, so that no consumer work overlaps the request (the 10 ms goal is per request).
// Queued tokens are not delivered there; the scale runs deliver every one.
import { r2, request, sleep } from '../lib/load.mjs';
import { isolateEstimate } from '../lib/estimate.mjs';
import { idleRate, ms } from '../lib/measure.mjs';
import { registerClients } from '../lib/oidc.mjs';
import { logoutRequest, prepareLogouts, randomState, scaleClients, startOurs } from '../lib/ours.mjs';
import { say } from '../lib/print.mjs';

export async function requestAlone(ctx, rp) {
  const { opt, report, budget } = ctx;
  await ctx.phase('scale-request-alone', async () => {
    const alone = await startOurs(ctx, 'no-consumer', {}, { noConsumer: true });
    const most = scaleClients(Math.max(...opt.scaleRps));
    await registerClients(alone.admin, rp.url, most);
    const idle = await idleRate(alone, 2);
    report.scale.alone = [];
    for (const k of opt.scaleRps) {
      const clients = scaleClients(k);
      const count = k <= 16 ? 20 : 8;
      const { items } = await prepareLogouts(alone, clients, count, 'RS256', `alone${k}-${randomState().slice(0, 6)}`);
      const cpu = [];
      let errors = 0;
      for (const s of items) {
        const q = logoutRequest(alone, rp.url, s);
        const a = alone.meter.mark();
        const res = await request('GET', alone.url + q.path, { headers: q.headers, timeoutMs: 60_000 });
        const b = alone.meter.mark();
        const d = alone.meter.between(a, b);
        if (res.status !== 303 || res.headers.location !== q.expected) errors += 1;
        cpu.push(Math.max(0, ms(d.workerdNsS) - idle * d.wallS));
      }
      await sleep(300);
      const sub = budget.subrequestsLogout(k);
      const sorted = [...cpu].sort((x, y) => x - y);
      const requestCpuMs = r2(sorted[Math.floor(sorted.length / 2)]);
      const r = { rps: k, logouts: items.length, errors, requestCpuMs, requestCpuMeanMs: r2(cpu.reduce((x, y) => x + y, 0) / cpu.length), subrequests: sub,
        isolateEstimateMs: isolateEstimate(requestCpuMs, sub, report.floor?.perUnitAloneMs, k - sub.fetches) };
      report.scale.alone.push(r);
      say(`  [request alone] ${k} RPs: ${requestCpuMs} ms median (mean ${r.requestCpuMeanMs}), isolate estimate ${r.isolateEstimateMs} ms, errors ${errors}`);
    }
    await alone.stop();
  });
}
