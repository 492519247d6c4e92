// 4a. Scale with relying parties: RP-initiated logouts one at a time, 1 ... 200 RPs per session;
// the request's CPU, the queue consumer's after the answer, the subrequests from the code.
import { request } from '../lib/load.mjs';
import { idleRate } from '../lib/measure.mjs';
import { logoutRequest, prepareLogouts, randomState, scaleClients } from '../lib/ours.mjs';
import { say } from '../lib/print.mjs';
import { scaleRun } from '../lib/scale-run.mjs';

export async function scaleRps(ctx, ours, rp) {
  const { opt, report, budget } = ctx;
  report.scale = { rps: [], admin: [], idleWorkerdMsPerS: await idleRate(ours, 2) };
  const idle = report.scale.idleWorkerdMsPerS;
  for (const k of opt.scaleRps) {
    const clients = scaleClients(k);
    const count = k <= 16 ? 20 : k <= 60 ? 8 : 4;
    say(`\n[scale] ${count} logouts one at a time, ${k} RPs per session`);
    const r = await ctx.phase(`scale ${k} RPs`, () => scaleRun(ours, rp, {
      label: `${k} RPs`,
      count,
      idleMsPerS: idle,
      deadlineMs: ctx.deadlineMs,
      prepare: () => prepareLogouts(ours, clients, count, 'RS256', `scale${k}-${randomState().slice(0, 6)}`),
      send: async (s) => {
        const q = logoutRequest(ours, rp.url, s);
        const res = await request('GET', ours.url + q.path, { headers: q.headers, timeoutMs: 60_000 });
        return { ok: res.status === 303 && res.headers.location === q.expected };
      },
      keysOf: (s) => clients.map((c) => `/bc/${c.id}|${s.sid}`),
    }));
    if (!r) continue;
    r.rps = k;
    r.subrequests = budget.subrequestsLogout(k);
    report.scale.rps.push(r);
    say(`  request CPU ${r.requestCpuMs} ms, after the answer ${r.afterAnswerCpuMs} ms; tokens ${r.beforeAnswerPerLogout} before + ${r.afterAnswerPerLogout} after the answer, missing ${r.missing}; latency p50 ${r.latencyMs.p50} ms; last token ${r.lastTokenAfterSendMs.p50} ms; subrequests ${r.subrequests.total}`);
  }
}
