// 4b. Scale with sessions: the admin logout of one user (DELETE /admin/sessions?sub=) with 1, 10,
// 100, 1000 sessions of the 3-RP mix, page by page (SUBJECT_LOGOUT_PAGE sessions per request).
import { request } from '../lib/load.mjs';
import { idleRate } from '../lib/measure.mjs';
import { createSessions } from '../lib/oidc.mjs';
import { clientsOf, randomState } from '../lib/ours.mjs';
import { say } from '../lib/print.mjs';
import { scaleRun } from '../lib/scale-run.mjs';

export async function adminLogout(ctx, ours, rp) {
  const { opt, report, budget } = ctx;
  report.scale ??= { rps: [], admin: [], idleWorkerdMsPerS: await idleRate(ours, 2) };
  const idle = report.scale.idleWorkerdMsPerS;
  const clients = clientsOf('mix');
  for (const sCount of opt.adminSessions) {
    const repeats = sCount <= 1 ? 10 : sCount <= 10 ? 4 : sCount < 1000 ? 2 : 1;
    say(`\n[admin logout] DELETE /admin/sessions?sub=..., ${sCount} sessions of 3 RPs each, ${repeats} times`);
    const r = await ctx.phase(`admin ${sCount} sessions`, () => scaleRun(ours, rp, {
      label: `${sCount} sessions`,
      count: repeats,
      idleMsPerS: idle,
      deadlineMs: ctx.deadlineMs,
      prepare: async () => {
        const items = [];
        for (let i = 0; i < repeats; i++) {
          const sub = `admin${sCount}-${i}-${randomState().slice(0, 6)}`;
          const c = await createSessions(ours.admin, sCount, clients.map((x) => x.id), () => sub);
          items.push({ sub, sessions: c.sessions });
        }
        return { items };
      },
      // Page by page: each answer with a `cursor` is asked again with it.
      send: async (s) => {
        let cursor = null;
        let ended = 0;
        let requests = 0;
        let ok = true;
        const totals = { delivered: 0, queued: 0, dead: 0 };
        do {
          const q = `sub=${encodeURIComponent(s.sub)}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
          const res = await request('DELETE', `${ours.url}/admin/sessions?${q}`, {
            headers: { authorization: `Bearer ${ours.vars.ADMIN_TOKEN}` }, timeoutMs: 60_000,
          });
          requests += 1;
          let body = null;
          try {
            body = JSON.parse(res.body);
          } catch {}
          ok &&= res.status === 200 && Array.isArray(body?.sessions_ended);
          ended += body?.sessions_ended?.length ?? 0;
          for (const k of Object.keys(totals)) totals[k] += body?.backchannel?.[k] ?? 0;
          cursor = body?.cursor ?? null;
        } while (cursor && requests < 1000);
        return { ok: ok && ended === s.sessions.length, extra: { ...totals, requests }, requests };
      },
      // backchannel_logout_session_required: one token per client and session.
      keysOf: (s) => s.sessions.flatMap((x) => clients.map((c) => `/bc/${c.id}|${x.sid}`)),
    }));
    if (!r) continue;
    r.sessions = sCount;
    // per request: a page of at most SUBJECT_LOGOUT_PAGE sessions
    r.subrequests = budget.subrequestsAdmin(Math.min(sCount, budget.subjectPage));
    r.requestsPerLogout = r.response?.requests ?? 1;
    report.scale.admin.push(r);
    say(`  request CPU ${r.requestCpuMs} ms, after the answer ${r.afterAnswerCpuMs} ms; tokens ${r.beforeAnswerPerLogout} before + ${r.afterAnswerPerLogout} after the answer; missing ${r.missing}; latency p50 ${r.latencyMs.p50} ms; subrequests ${r.subrequests.total}`);
  }
}
